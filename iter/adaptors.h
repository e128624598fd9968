// -----------------------------------------------------------------------------
// File: iter/adaptors.h
// -----------------------------------------------------------------------------
//
// Iterator adaptors and consumers, in two spellings. Rust: the provided
// methods of `core::iter::Iterator`.
//
//   Method form (weft iterators and generators):
//     int s = iter::range(0, 10).map(sq).filter(even).sum();
//   Pipe form (any type satisfying `Iterator`, including your own):
//     int s = iter::range(0, 10) | iter::map(sq) | iter::filter(even) | iter::sum();
//
// Adaptors (each a type named after the method; lazy):
//   map filter filter_map enumerate zip chain take skip take_while skip_while
//   step_by flat_map flatten peekable inspect scan fuse rev by_ref
// Consumers (run the iterator):
//   fold count sum min max min_by max_by min_by_key max_by_key any all find
//   position nth last for_each collect<C> partition<C>
//
// Costs: no allocation, no type erasure, no virtual calls. Each adaptor holds
// its parts by value, so `sizeof(Map<I, F>) == sizeof(I)` for a capture-less
// `F` and a chain's size is the sum of its parts plus the few flags/counters
// listed per adaptor. Only `collect`/`partition` allocate, and only if the
// container does.
//
// Contract: method-form adaptors called on an lvalue copy it (`const&`
// overload); call them on an rvalue (`std::move(gen).map(f)`) or use
// `by_ref()` to adapt in place. Consumers advance the iterator in place.
// Functions are called with the item by value or by the item's reference type;
// predicates (`filter`, `take_while`, `find`, ...) see `const Item&`.
//
// Example:
//
//   std::vector<int> v = {1, 2, 3, 4};
//   auto evens = iter::from(v).filter([](int x) { return x % 2 == 0; })
//                    .map([](int x) { return x * 10; })
//                    .collect<std::vector>();   // {20, 40}
//
#ifndef WEFT_ITER_ADAPTORS_H_
#define WEFT_ITER_ADAPTORS_H_

#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <ranges>
#include <span>
#include <type_traits>
#include <utility>

#include "iter/iterator.h"
#include "tools/base/assert.h"

#define WEFT_ITER_COMMA_ ,
#define WEFT_ITER_UNPAREN_(...) __VA_ARGS__

namespace weft::iter {

template <class D>
class Ext;

template <Iterator I, class F>
class Map;
template <Iterator I, class P>
class Filter;
template <Iterator I, class F>
class FilterMap;
template <Iterator I>
class Enumerate;
template <Iterator A, Iterator B>
class Zip;
template <Iterator A, Iterator B>
class Chain;
template <Iterator I>
class Take;
template <Iterator I>
class Skip;
template <Iterator I, class P>
class TakeWhile;
template <Iterator I, class P>
class SkipWhile;
template <Iterator I>
class StepBy;
template <Iterator I, class F>
class FlatMap;
template <Iterator I>
class Flatten;
template <Iterator I>
class Peekable;
template <Iterator I, class F>
class Inspect;
template <Iterator I, class S, class F>
class Scan;
template <Iterator I>
class Fuse;
template <DoubleEndedIterator I>
class Rev;
template <Iterator I>
class ByRef;

namespace iter_internal {

// Closure<Fn>
//
// What the pipe-form factories return: `it | closure` calls `fn(it)`.
// Adaptor closures copy an lvalue iterator and move an rvalue one; consumer
// closures advance the iterator in place.
template <class Fn>
struct Closure {
  [[no_unique_address]] Fn fn;

  template <class I>
    requires Iterator<std::remove_cvref_t<I>>
  friend constexpr decltype(auto) operator|(I&& it, Closure c) {
    return std::move(c.fn)(std::forward<I>(it));
  }
};
template <class Fn>
Closure(Fn) -> Closure<Fn>;

template <class T>
using Decay = std::remove_cvref_t<T>;

// The item type produced by calling `F` on an item of `I`.
template <class F, class I>
using ResultOf = std::invoke_result_t<F&, ItemOf<I>>;

template <class O>
using ValueOfResult = OptionValueOf<O>;

// fold_of(it, init, g): `it.fold(init, g)` if the iterator has its own
// (internal iteration: adaptors push items down into one tight loop, as
// Rust's `fold` specialisations do), else a loop over `next()`.
template <class I, class B, class G>
constexpr B fold_of(I& it, B init, G& g) {
  if constexpr (requires { it.fold(std::move(init), std::ref(g)); }) {
    return it.fold(std::move(init), std::ref(g));
  } else {
    while (auto x = it.next()) init = std::invoke(g, std::move(init), take<ItemOf<I>>(x));
    return init;
  }
}

}  // namespace iter_internal

// Ext<D>
//
// The CRTP base every weft iterator derives from (empty: it adds no size).
// Provides the method-form adaptors and consumers and `begin()`/`end()`.
template <class D>
class Ext {
  struct Unit {};
  constexpr D& self() noexcept { return static_cast<D&>(*this); }
  constexpr const D& self() const noexcept { return static_cast<const D&>(*this); }
  constexpr D&& moved() noexcept { return static_cast<D&&>(*this); }

 public:
  // Range-for and std::ranges support. `begin()` pulls the first item.
  auto begin() { return RangeIter<D>(&self()); }
  std::default_sentinel_t end() const noexcept { return {}; }

#define WEFT_ITER_ADAPTOR_(Tpl, name, Type, Params, Args) \
  Tpl constexpr auto name Params&& { return Type(moved() WEFT_ITER_UNPAREN_ Args); } \
  Tpl constexpr auto name Params const& { return Type(D(self()) WEFT_ITER_UNPAREN_ Args); }

  WEFT_ITER_ADAPTOR_(template <class F>, map, Map<D WEFT_ITER_COMMA_ F>, (F f), (, std::move(f)))
  WEFT_ITER_ADAPTOR_(template <class P>, filter, Filter<D WEFT_ITER_COMMA_ P>, (P p), (, std::move(p)))
  WEFT_ITER_ADAPTOR_(template <class F>, filter_map, FilterMap<D WEFT_ITER_COMMA_ F>, (F f), (, std::move(f)))
  WEFT_ITER_ADAPTOR_(, enumerate, Enumerate<D>, (), ())
  WEFT_ITER_ADAPTOR_(template <Iterator B>, zip, Zip<D WEFT_ITER_COMMA_ iter_internal::Decay<B>>, (B&& b), (, std::forward<B>(b)))
  WEFT_ITER_ADAPTOR_(template <Iterator B>, chain, Chain<D WEFT_ITER_COMMA_ iter_internal::Decay<B>>, (B&& b), (, std::forward<B>(b)))
  WEFT_ITER_ADAPTOR_(, take, Take<D>, (std::size_t n), (, n))
  WEFT_ITER_ADAPTOR_(, skip, Skip<D>, (std::size_t n), (, n))
  WEFT_ITER_ADAPTOR_(template <class P>, take_while, TakeWhile<D WEFT_ITER_COMMA_ P>, (P p), (, std::move(p)))
  WEFT_ITER_ADAPTOR_(template <class P>, skip_while, SkipWhile<D WEFT_ITER_COMMA_ P>, (P p), (, std::move(p)))
  WEFT_ITER_ADAPTOR_(, step_by, StepBy<D>, (std::size_t step), (, step))
  WEFT_ITER_ADAPTOR_(template <class F>, flat_map, FlatMap<D WEFT_ITER_COMMA_ F>, (F f), (, std::move(f)))
  WEFT_ITER_ADAPTOR_(, flatten, Flatten<D>, (), ())
  WEFT_ITER_ADAPTOR_(, peekable, Peekable<D>, (), ())
  WEFT_ITER_ADAPTOR_(template <class F>, inspect, Inspect<D WEFT_ITER_COMMA_ F>, (F f), (, std::move(f)))
  WEFT_ITER_ADAPTOR_(template <class S WEFT_ITER_COMMA_ class F>, scan, Scan<D WEFT_ITER_COMMA_ S WEFT_ITER_COMMA_ F>, (S s, F f), (, std::move(s), std::move(f)))
  WEFT_ITER_ADAPTOR_(, fuse, Fuse<D>, (), ())
  // rev() exists only for double-ended iterators. (A template, so that the
  // constraint is checked at the call, when D is complete: clang 14 checks a
  // non-template member's requires-clause too early and caches the result.)
  template <class Self = D>
    requires DoubleEndedIterator<Self>
  constexpr auto rev() && {
    return Rev<D>(moved());
  }
  template <class Self = D>
    requires DoubleEndedIterator<Self>
  constexpr auto rev() const& {
    return Rev<D>(D(self()));
  }
#undef WEFT_ITER_ADAPTOR_

  // by_ref(): adapts this iterator in place (Rust: `Iterator::by_ref`).
  constexpr auto by_ref() & { return ByRef<D>(self()); }

  // ---- consumers ----

  template <class B, class F>
  constexpr B fold(B init, F f) {
    while (auto x = self().next()) init = std::invoke(f, std::move(init), take_item(x));
    return init;
  }

  constexpr std::size_t count() {
    return self().fold(std::size_t{0}, [](std::size_t n, auto&&) { return n + 1; });
  }

  // sum(): `T{}` plus every item, where T is the item's value type.
  template <class Self = D>
  constexpr auto sum() {
    using T = std::remove_cvref_t<ItemOf<Self>>;
    return self().fold(T{}, [](T acc, auto&& x) { return std::move(acc) + std::forward<decltype(x)>(x); });
  }

  // min()/max(): the first minimum / the last maximum (as Rust).
  constexpr auto min() {
    return min_by([](const auto& a, const auto& b) { return a < b; });
  }
  constexpr auto max() {
    return max_by([](const auto& a, const auto& b) { return a < b; });
  }

  // min_by(less)/max_by(less): `less(a, b)` is a strict weak order, as for
  // std::min_element.
  template <class Less>
  constexpr auto min_by(Less less) {
    Option<ItemOf<D>> best = self().next();
    if (!best) return best;
    while (auto x = self().next()) {
      if (std::invoke(less, std::as_const(*x), std::as_const(*best))) {
        iter_internal::replace(best, std::move(x));
      }
    }
    return best;
  }
  template <class Less>
  constexpr auto max_by(Less less) {
    Option<ItemOf<D>> best = self().next();
    if (!best) return best;
    while (auto x = self().next()) {
      if (!std::invoke(less, std::as_const(*x), std::as_const(*best))) {
        iter_internal::replace(best, std::move(x));
      }
    }
    return best;
  }
  template <class K>
  constexpr auto min_by_key(K key) {
    return min_by([&](const auto& a, const auto& b) { return std::invoke(key, a) < std::invoke(key, b); });
  }
  template <class K>
  constexpr auto max_by_key(K key) {
    return max_by([&](const auto& a, const auto& b) { return std::invoke(key, a) < std::invoke(key, b); });
  }

  template <class P>
  constexpr bool any(P p) {
    while (auto x = self().next()) {
      if (std::invoke(p, take_item(x))) return true;
    }
    return false;
  }
  template <class P>
  constexpr bool all(P p) {
    while (auto x = self().next()) {
      if (!std::invoke(p, take_item(x))) return false;
    }
    return true;
  }
  template <class P>
  constexpr auto find(P p) {
    while (auto x = self().next()) {
      if (std::invoke(p, std::as_const(*x))) return x;
    }
    return Option<ItemOf<D>>();
  }
  template <class P>
  constexpr std::optional<std::size_t> position(P p) {
    for (std::size_t i = 0; auto x = self().next(); ++i) {
      if (std::invoke(p, take_item(x))) return i;
    }
    return std::nullopt;
  }
  // nth(n): skips n items and returns the next one (0-based).
  template <class Self = D>
  constexpr Option<ItemOf<Self>> nth(std::size_t n) {
    while (n-- > 0) {
      if (!self().next()) return std::nullopt;
    }
    return self().next();
  }
  template <class Self = D>
  constexpr Option<ItemOf<Self>> last() {
    Option<ItemOf<D>> last;
    while (auto x = self().next()) iter_internal::replace(last, std::move(x));
    return last;
  }
  template <class F>
  constexpr void for_each(F f) {
    self().fold(Unit{}, [&f](Unit u, auto&& x) {
      std::invoke(f, std::forward<decltype(x)>(x));
      return u;
    });
  }

  // collect<C>() / collect<Template>(): every item into a container, with
  // `push_back` if it has one, else `insert` (sets, maps). Reserves the
  // size hint's lower bound when the container can.
  template <class C>
  C collect() {
    C c;
    if constexpr (requires { c.reserve(std::size_t{}); }) {
      c.reserve(iter::size_hint(self()).lower);
    }
    while (auto x = self().next()) push(c, take_item(x));
    return c;
  }
  template <template <class...> class C>
  auto collect() {
    return collect<C<std::remove_cvref_t<ItemOf<D>>>>();
  }

  // partition<C>(p): items for which `p` holds, and the others.
  template <class C, class P>
  std::pair<C, C> partition(P p) {
    std::pair<C, C> out;
    while (auto x = self().next()) {
      if (std::invoke(p, std::as_const(*x))) {
        push(out.first, take_item(x));
      } else {
        push(out.second, take_item(x));
      }
    }
    return out;
  }
  template <template <class...> class C, class P>
  auto partition(P p) {
    return partition<C<std::remove_cvref_t<ItemOf<D>>>>(std::move(p));
  }

 protected:
  template <class O>
  static constexpr decltype(auto) take_item(O& o) noexcept {
    return iter_internal::take<ItemOf<D>>(o);
  }
  template <class C, class X>
  static void push(C& c, X&& x) {
    if constexpr (requires { c.push_back(std::forward<X>(x)); }) {
      c.push_back(std::forward<X>(x));
    } else {
      c.insert(std::forward<X>(x));
    }
  }
};

// ---------------------------------------------------------------------------
// Adaptors. Each is `final`-like in spirit: name it only to store it.
// ---------------------------------------------------------------------------

// Map: `f(item)` for each item. Size: I + F. Rust: `Map`.
template <Iterator I, class F>
class Map : public Ext<Map<I, F>> {
 public:
  using Item = iter_internal::ResultOf<F, I>;
  static_assert(!std::is_void_v<Item>, "map: the function must return a value");

  constexpr Map(I it, F f) : it_(std::move(it)), f_(std::move(f)) {}

  constexpr Option<Item> next() {
    if (auto x = it_.next()) return Option<Item>(std::invoke(f_, iter_internal::take<ItemOf<I>>(x)));
    return std::nullopt;
  }
  constexpr Option<Item> next_back()
    requires DoubleEndedIterator<I>
  {
    if (auto x = it_.next_back()) {
      return Option<Item>(std::invoke(f_, iter_internal::take<ItemOf<I>>(x)));
    }
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const { return iter::size_hint(it_); }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    auto step = [this, &g](B acc, ItemOf<I> x) -> B {
      return std::invoke(g, std::move(acc), std::invoke(f_, static_cast<ItemOf<I>&&>(x)));
    };
    return iter_internal::fold_of(it_, std::move(init), step);
  }

 private:
  I it_;
  [[no_unique_address]] F f_;
};

// Filter: items for which `p(const item&)` holds. Size: I + P. Rust: `Filter`.
template <Iterator I, class P>
class Filter : public Ext<Filter<I, P>> {
 public:
  using Item = ItemOf<I>;

  constexpr Filter(I it, P p) : it_(std::move(it)), p_(std::move(p)) {}

  constexpr Option<Item> next() {
    while (auto x = it_.next()) {
      if (std::invoke(p_, std::as_const(*x))) return x;
    }
    return std::nullopt;
  }
  constexpr Option<Item> next_back()
    requires DoubleEndedIterator<I>
  {
    while (auto x = it_.next_back()) {
      if (std::invoke(p_, std::as_const(*x))) return x;
    }
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const { return {0, iter::size_hint(it_).upper}; }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    auto step = [this, &g](B acc, ItemOf<I> x) -> B {
      if (!std::invoke(p_, std::as_const(x))) return acc;
      return std::invoke(g, std::move(acc), static_cast<ItemOf<I>&&>(x));
    };
    return iter_internal::fold_of(it_, std::move(init), step);
  }

 private:
  I it_;
  [[no_unique_address]] P p_;
};

// FilterMap: `f(item)` returns an optional; the engaged ones are yielded.
// Size: I + F. Rust: `FilterMap`.
template <Iterator I, class F>
class FilterMap : public Ext<FilterMap<I, F>> {
  using Result = iter_internal::ResultOf<F, I>;
  static_assert(OptionLike<Result>, "filter_map: the function must return an optional");

 public:
  using Item = OptionValueOf<Result>;

  constexpr FilterMap(I it, F f) : it_(std::move(it)), f_(std::move(f)) {}

  constexpr Option<Item> next() {
    while (auto x = it_.next()) {
      Option<Item> y(std::invoke(f_, iter_internal::take<ItemOf<I>>(x)));
      if (y) return y;
    }
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const { return {0, iter::size_hint(it_).upper}; }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    auto step = [this, &g](B acc, ItemOf<I> x) -> B {
      Option<Item> y(std::invoke(f_, static_cast<ItemOf<I>&&>(x)));
      if (!y) return acc;
      return std::invoke(g, std::move(acc), iter_internal::take<Item>(y));
    };
    return iter_internal::fold_of(it_, std::move(init), step);
  }

 private:
  I it_;
  [[no_unique_address]] F f_;
};

// Enumerate: `(index, item)` pairs. Size: I + size_t. Rust: `Enumerate`.
template <Iterator I>
class Enumerate : public Ext<Enumerate<I>> {
 public:
  using Item = std::pair<std::size_t, ItemOf<I>>;

  constexpr explicit Enumerate(I it) : it_(std::move(it)) {}

  constexpr Option<Item> next() {
    if (auto x = it_.next()) return Item(i_++, iter_internal::take<ItemOf<I>>(x));
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const { return iter::size_hint(it_); }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    auto step = [this, &g](B acc, ItemOf<I> x) -> B {
      return std::invoke(g, std::move(acc), Item(i_++, static_cast<ItemOf<I>&&>(x)));
    };
    return iter_internal::fold_of(it_, std::move(init), step);
  }

 private:
  I it_;
  std::size_t i_ = 0;
};

// Zip: `(a, b)` pairs until either side ends. Size: A + B. Rust: `Zip`.
template <Iterator A, Iterator B>
class Zip : public Ext<Zip<A, B>> {
 public:
  using Item = std::pair<ItemOf<A>, ItemOf<B>>;

  constexpr Zip(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  constexpr Option<Item> next() {
    auto x = a_.next();
    if (!x) return std::nullopt;
    auto y = b_.next();
    if (!y) return std::nullopt;
    return Item(iter_internal::take<ItemOf<A>>(x), iter_internal::take<ItemOf<B>>(y));
  }
  template <class Acc, class G>
  constexpr Acc fold(Acc init, G g) {
    for (;;) {
      auto x = a_.next();
      if (!x) return init;
      auto y = b_.next();
      if (!y) return init;
      init = std::invoke(g, std::move(init),
                         Item(iter_internal::take<ItemOf<A>>(x), iter_internal::take<ItemOf<B>>(y)));
    }
  }
  constexpr SizeHint size_hint() const {
    const SizeHint ha = iter::size_hint(a_), hb = iter::size_hint(b_);
    std::optional<std::size_t> upper;
    if (ha.upper && hb.upper) {
      upper = *ha.upper < *hb.upper ? *ha.upper : *hb.upper;
    } else {
      upper = ha.upper ? ha.upper : hb.upper;
    }
    return {ha.lower < hb.lower ? ha.lower : hb.lower, upper};
  }

 private:
  A a_;
  B b_;
};

// Chain: all of `a`, then all of `b` (same item type). Size: A + B + 2
// flags. Rust: `Chain`.
template <Iterator A, Iterator B>
class Chain : public Ext<Chain<A, B>> {
  static_assert(std::is_same_v<ItemOf<A>, ItemOf<B>>, "chain: both iterators must have the same Item");

 public:
  using Item = ItemOf<A>;

  constexpr Chain(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  constexpr Option<Item> next() {
    if (!a_done_) {
      if (auto x = a_.next()) return x;
      a_done_ = true;
    }
    if (!b_done_) {
      if (auto x = b_.next()) return x;
      b_done_ = true;
    }
    return std::nullopt;
  }
  template <class Acc, class G>
  constexpr Acc fold(Acc init, G g) {
    if (!a_done_) init = iter_internal::fold_of(a_, std::move(init), g);
    if (!b_done_) init = iter_internal::fold_of(b_, std::move(init), g);
    a_done_ = b_done_ = true;
    return init;
  }
  constexpr Option<Item> next_back()
    requires DoubleEndedIterator<A> && DoubleEndedIterator<B>
  {
    if (!b_done_) {
      if (auto x = b_.next_back()) return x;
      b_done_ = true;
    }
    if (!a_done_) {
      if (auto x = a_.next_back()) return x;
      a_done_ = true;
    }
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const {
    SizeHint h{0, std::size_t{0}};
    auto add = [&h](SizeHint s) {
      h.lower = iter_internal::saturating_add(h.lower, s.lower);
      if (h.upper && s.upper && *h.upper + *s.upper >= *h.upper) {
        h.upper = *h.upper + *s.upper;
      } else {
        h.upper.reset();
      }
    };
    if (!a_done_) add(iter::size_hint(a_));
    if (!b_done_) add(iter::size_hint(b_));
    return h;
  }

 private:
  A a_;
  B b_;
  bool a_done_ = false;
  bool b_done_ = false;
};

// Take: at most `n` items. Size: I + size_t. Rust: `Take`.
template <Iterator I>
class Take : public Ext<Take<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr Take(I it, std::size_t n) : it_(std::move(it)), n_(n) {}

  constexpr Option<Item> next() {
    if (n_ == 0) return std::nullopt;
    --n_;
    return it_.next();
  }
  constexpr SizeHint size_hint() const {
    if (n_ == 0) return {0, std::size_t{0}};
    SizeHint h = iter::size_hint(it_);
    if (h.lower > n_) h.lower = n_;
    if (!h.upper || *h.upper > n_) h.upper = n_;
    return h;
  }

 private:
  I it_;
  std::size_t n_;
};

// Skip: all but the first `n` items. Size: I + size_t. Rust: `Skip`.
template <Iterator I>
class Skip : public Ext<Skip<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr Skip(I it, std::size_t n) : it_(std::move(it)), n_(n) {}

  constexpr Option<Item> next() {
    while (n_ > 0) {
      --n_;
      if (!it_.next()) {
        n_ = 0;
        return std::nullopt;
      }
    }
    return it_.next();
  }
  constexpr SizeHint size_hint() const {
    SizeHint h = iter::size_hint(it_);
    h.lower = h.lower > n_ ? h.lower - n_ : 0;
    if (h.upper) h.upper = *h.upper > n_ ? *h.upper - n_ : 0;
    return h;
  }

 private:
  I it_;
  std::size_t n_;
};

// TakeWhile: items while `p(const item&)` holds; stops for good at the first
// failure (which is consumed, as in Rust). Size: I + P + flag.
template <Iterator I, class P>
class TakeWhile : public Ext<TakeWhile<I, P>> {
 public:
  using Item = ItemOf<I>;

  constexpr TakeWhile(I it, P p) : it_(std::move(it)), p_(std::move(p)) {}

  constexpr Option<Item> next() {
    if (done_) return std::nullopt;
    if (auto x = it_.next()) {
      if (std::invoke(p_, std::as_const(*x))) return x;
    }
    done_ = true;
    return std::nullopt;
  }
  constexpr SizeHint size_hint() const {
    if (done_) return {0, std::size_t{0}};
    return {0, iter::size_hint(it_).upper};
  }

 private:
  I it_;
  [[no_unique_address]] P p_;
  bool done_ = false;
};

// SkipWhile: drops items while `p(const item&)` holds, then yields the rest.
// Size: I + P + flag. Rust: `SkipWhile`.
template <Iterator I, class P>
class SkipWhile : public Ext<SkipWhile<I, P>> {
 public:
  using Item = ItemOf<I>;

  constexpr SkipWhile(I it, P p) : it_(std::move(it)), p_(std::move(p)) {}

  constexpr Option<Item> next() {
    if (!skipped_) {
      skipped_ = true;
      while (auto x = it_.next()) {
        if (!std::invoke(p_, std::as_const(*x))) return x;
      }
      return std::nullopt;
    }
    return it_.next();
  }
  constexpr SizeHint size_hint() const { return {0, iter::size_hint(it_).upper}; }

 private:
  I it_;
  [[no_unique_address]] P p_;
  bool skipped_ = false;
};

// StepBy: the first item, then every `step`-th. `step` must not be 0.
// Size: I + size_t + flag. Rust: `StepBy`.
template <Iterator I>
class StepBy : public Ext<StepBy<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr StepBy(I it, std::size_t step) : it_(std::move(it)), skip_(step - 1) {
    WEFT_HARDENING_ASSERT(step != 0, "step_by: the step must not be 0");
  }

  constexpr Option<Item> next() {
    if (first_) {
      first_ = false;
      return it_.next();
    }
    for (std::size_t i = 0; i < skip_; ++i) {
      if (!it_.next()) return std::nullopt;
    }
    return it_.next();
  }
  constexpr SizeHint size_hint() const {
    SizeHint h = iter::size_hint(it_);
    const std::size_t step = skip_ + 1;
    auto f = [&](std::size_t n) { return first_ ? (n == 0 ? 0 : 1 + (n - 1) / step) : n / step; };
    return {f(h.lower), h.upper ? std::optional<std::size_t>(f(*h.upper)) : std::nullopt};
  }

 private:
  I it_;
  std::size_t skip_;
  bool first_ = true;
};

// FlatMap: `f(item)` returns an iterator; its items are yielded in turn.
// Size: I + F + optional<inner iterator>. Rust: `FlatMap`.
template <Iterator I, class F>
class FlatMap : public Ext<FlatMap<I, F>> {
  using Inner = std::remove_cvref_t<iter_internal::ResultOf<F, I>>;
  static_assert(Iterator<Inner>, "flat_map: the function must return an Iterator");

 public:
  using Item = ItemOf<Inner>;

  constexpr FlatMap(I it, F f) : it_(std::move(it)), f_(std::move(f)) {}

  constexpr Option<Item> next() {
    for (;;) {
      if (front_) {
        if (auto x = front_->next()) return x;
        front_.reset();
      }
      auto outer = it_.next();
      if (!outer) return std::nullopt;
      front_.emplace(std::invoke(f_, iter_internal::take<ItemOf<I>>(outer)));
    }
  }

 private:
  I it_;
  [[no_unique_address]] F f_;
  std::optional<Inner> front_;
};

// Flatten: the items of an iterator of iterators. Size: I + optional<inner>.
template <Iterator I>
class Flatten : public Ext<Flatten<I>> {
  using Inner = std::remove_cvref_t<ItemOf<I>>;
  static_assert(Iterator<Inner>, "flatten: the items must be Iterators");

 public:
  using Item = ItemOf<Inner>;

  constexpr explicit Flatten(I it) : it_(std::move(it)) {}

  constexpr Option<Item> next() {
    for (;;) {
      if (front_) {
        if (auto x = front_->next()) return x;
        front_.reset();
      }
      auto outer = it_.next();
      if (!outer) return std::nullopt;
      front_.emplace(iter_internal::take<ItemOf<I>>(outer));
    }
  }

 private:
  I it_;
  std::optional<Inner> front_;
};

// Peekable: adds `peek()` (look at the next item without consuming it) and
// `next_if(p)`. Size: I + Option<Option<Item>>. Rust: `Peekable`.
template <Iterator I>
class Peekable : public Ext<Peekable<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr explicit Peekable(I it) : it_(std::move(it)) {}

  constexpr Option<Item> next() {
    if (peeked_) {
      Option<Item> x = std::move(*peeked_);
      peeked_.reset();
      return x;
    }
    return it_.next();
  }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    if (peeked_) {
      Option<Item> x = std::move(*peeked_);
      peeked_.reset();
      if (!x) return init;
      init = std::invoke(g, std::move(init), iter_internal::take<Item>(x));
    }
    return iter_internal::fold_of(it_, std::move(init), g);
  }

  // A pointer to the next item (owned by this Peekable; valid until the next
  // call of `next`/`peek`), or nullptr at the end.
  constexpr std::remove_reference_t<Item>* peek() {
    if (!peeked_) peeked_.emplace(it_.next());
    return peeked_->has_value() ? &**peeked_ : nullptr;
  }

  // The next item if `p(const item&)` holds; otherwise it stays peeked.
  template <class P>
  constexpr Option<Item> next_if(P p) {
    auto* x = peek();
    if (x != nullptr && std::invoke(p, std::as_const(*x))) return next();
    return std::nullopt;
  }

  constexpr SizeHint size_hint() const {
    SizeHint h = iter::size_hint(it_);
    if (peeked_) {
      if (!peeked_->has_value()) return {0, std::size_t{0}};
      h.lower = iter_internal::saturating_add(h.lower, 1);
      if (h.upper) h.upper = *h.upper + 1;
    }
    return h;
  }

 private:
  I it_;
  std::optional<Option<Item>> peeked_;
};

// Inspect: calls `f(const item&)` on each item, then yields it. Size: I + F.
template <Iterator I, class F>
class Inspect : public Ext<Inspect<I, F>> {
 public:
  using Item = ItemOf<I>;

  constexpr Inspect(I it, F f) : it_(std::move(it)), f_(std::move(f)) {}

  constexpr Option<Item> next() {
    auto x = it_.next();
    if (x) std::invoke(f_, std::as_const(*x));
    return x;
  }
  constexpr Option<Item> next_back()
    requires DoubleEndedIterator<I>
  {
    auto x = it_.next_back();
    if (x) std::invoke(f_, std::as_const(*x));
    return x;
  }
  constexpr SizeHint size_hint() const { return iter::size_hint(it_); }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    auto step = [this, &g](B acc, ItemOf<I> x) -> B {
      std::invoke(f_, std::as_const(x));
      return std::invoke(g, std::move(acc), static_cast<ItemOf<I>&&>(x));
    };
    return iter_internal::fold_of(it_, std::move(init), step);
  }

 private:
  I it_;
  [[no_unique_address]] F f_;
};

// Scan: `f(state&, item)` returns an optional; yields its value, stops at the
// first empty one. Size: I + S + F + flag. Rust: `Scan`.
template <Iterator I, class S, class F>
class Scan : public Ext<Scan<I, S, F>> {
  using Result = std::invoke_result_t<F&, S&, ItemOf<I>>;
  static_assert(OptionLike<Result>, "scan: the function must return an optional");

 public:
  using Item = OptionValueOf<Result>;

  constexpr Scan(I it, S s, F f) : it_(std::move(it)), state_(std::move(s)), f_(std::move(f)) {}

  constexpr Option<Item> next() {
    if (done_) return std::nullopt;
    if (auto x = it_.next()) {
      Option<Item> y(std::invoke(f_, state_, iter_internal::take<ItemOf<I>>(x)));
      if (y) return y;
    }
    done_ = true;
    return std::nullopt;
  }

 private:
  I it_;
  S state_;
  [[no_unique_address]] F f_;
  bool done_ = false;
};

// Fuse: once `next()` returned empty, it stays empty. Size: I + flag.
template <Iterator I>
class Fuse : public Ext<Fuse<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr explicit Fuse(I it) : it_(std::move(it)) {}

  constexpr Option<Item> next() {
    if (done_) return std::nullopt;
    auto x = it_.next();
    if (!x) done_ = true;
    return x;
  }
  constexpr Option<Item> next_back()
    requires DoubleEndedIterator<I>
  {
    if (done_) return std::nullopt;
    auto x = it_.next_back();
    if (!x) done_ = true;
    return x;
  }
  constexpr SizeHint size_hint() const {
    return done_ ? SizeHint{0, std::size_t{0}} : iter::size_hint(it_);
  }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    if (done_) return init;
    done_ = true;
    return iter_internal::fold_of(it_, std::move(init), g);
  }

 private:
  I it_;
  bool done_ = false;
};

// Rev: a double-ended iterator, back to front. Size: I. Rust: `Rev`.
template <DoubleEndedIterator I>
class Rev : public Ext<Rev<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr explicit Rev(I it) : it_(std::move(it)) {}

  constexpr Option<Item> next() { return it_.next_back(); }
  constexpr Option<Item> next_back() { return it_.next(); }
  constexpr SizeHint size_hint() const { return iter::size_hint(it_); }

 private:
  I it_;
};

// ByRef: adapts an iterator without taking it (it must outlive the ByRef).
// Size: one pointer. Rust: `&mut I` as an iterator.
template <Iterator I>
class ByRef : public Ext<ByRef<I>> {
 public:
  using Item = ItemOf<I>;

  constexpr explicit ByRef(I& it) noexcept : it_(&it) {}

  constexpr Option<Item> next() { return it_->next(); }
  constexpr SizeHint size_hint() const { return iter::size_hint(*it_); }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    return iter_internal::fold_of(*it_, std::move(init), g);
  }

 private:
  I* it_;
};

// ---------------------------------------------------------------------------
// Pipe-form factories: `it | iter::map(f)`. Binary forms of zip/chain too.
// ---------------------------------------------------------------------------

#define WEFT_ITER_PIPE_ADAPTOR_(name, Type, Params, Captures, Args)                                  \
  constexpr auto name Params {                                                                     \
    return iter_internal::Closure{[Captures]<class I>(I&& it) mutable {                             \
      return Type(std::forward<I>(it) WEFT_ITER_UNPAREN_ Args);                                                        \
    }};                                                                                             \
  }

template <class F>
WEFT_ITER_PIPE_ADAPTOR_(map, Map<iter_internal::Decay<I> WEFT_ITER_COMMA_ F>, (F f), f = std::move(f), (, std::move(f)))
template <class P>
WEFT_ITER_PIPE_ADAPTOR_(filter, Filter<iter_internal::Decay<I> WEFT_ITER_COMMA_ P>, (P p), p = std::move(p), (, std::move(p)))
template <class F>
WEFT_ITER_PIPE_ADAPTOR_(filter_map, FilterMap<iter_internal::Decay<I> WEFT_ITER_COMMA_ F>, (F f), f = std::move(f),
                        (, std::move(f)))
WEFT_ITER_PIPE_ADAPTOR_(enumerate, Enumerate<iter_internal::Decay<I>>, (), , ())
template <Iterator B>
WEFT_ITER_PIPE_ADAPTOR_(zip, Zip<iter_internal::Decay<I> WEFT_ITER_COMMA_ B>, (B b), b = std::move(b), (, std::move(b)))
template <Iterator B>
WEFT_ITER_PIPE_ADAPTOR_(chain, Chain<iter_internal::Decay<I> WEFT_ITER_COMMA_ B>, (B b), b = std::move(b), (, std::move(b)))
WEFT_ITER_PIPE_ADAPTOR_(take, Take<iter_internal::Decay<I>>, (std::size_t n), n, (, n))
WEFT_ITER_PIPE_ADAPTOR_(skip, Skip<iter_internal::Decay<I>>, (std::size_t n), n, (, n))
template <class P>
WEFT_ITER_PIPE_ADAPTOR_(take_while, TakeWhile<iter_internal::Decay<I> WEFT_ITER_COMMA_ P>, (P p), p = std::move(p),
                        (, std::move(p)))
template <class P>
WEFT_ITER_PIPE_ADAPTOR_(skip_while, SkipWhile<iter_internal::Decay<I> WEFT_ITER_COMMA_ P>, (P p), p = std::move(p),
                        (, std::move(p)))
WEFT_ITER_PIPE_ADAPTOR_(step_by, StepBy<iter_internal::Decay<I>>, (std::size_t step), step, (, step))
template <class F>
WEFT_ITER_PIPE_ADAPTOR_(flat_map, FlatMap<iter_internal::Decay<I> WEFT_ITER_COMMA_ F>, (F f), f = std::move(f),
                        (, std::move(f)))
WEFT_ITER_PIPE_ADAPTOR_(flatten, Flatten<iter_internal::Decay<I>>, (), , ())
WEFT_ITER_PIPE_ADAPTOR_(peekable, Peekable<iter_internal::Decay<I>>, (), , ())
template <class F>
WEFT_ITER_PIPE_ADAPTOR_(inspect, Inspect<iter_internal::Decay<I> WEFT_ITER_COMMA_ F>, (F f), f = std::move(f),
                        (, std::move(f)))
template <class S, class F>
WEFT_ITER_PIPE_ADAPTOR_(scan, Scan<iter_internal::Decay<I> WEFT_ITER_COMMA_ S WEFT_ITER_COMMA_ F>, (S s, F f),
                        s = std::move(s) WEFT_ITER_COMMA_ f = std::move(f), (, std::move(s), std::move(f)))
WEFT_ITER_PIPE_ADAPTOR_(fuse, Fuse<iter_internal::Decay<I>>, (), , ())
WEFT_ITER_PIPE_ADAPTOR_(rev, Rev<iter_internal::Decay<I>>, (), , ())
#undef WEFT_ITER_PIPE_ADAPTOR_

template <Iterator A, Iterator B>
constexpr Zip<A, B> zip(A a, B b) {
  return Zip<A, B>(std::move(a), std::move(b));
}
template <Iterator A, Iterator B>
constexpr Chain<A, B> chain(A a, B b) {
  return Chain<A, B>(std::move(a), std::move(b));
}

// Consumers in pipe form: `it | iter::sum()`. They advance `it` in place when
// it is an lvalue. A user iterator that does not derive from `Ext` is wrapped
// in `ByRef` to reach the shared implementation.
namespace iter_internal {
template <class I, class Fn>
constexpr decltype(auto) with_ext(I& it, Fn&& fn) {
  if constexpr (std::is_base_of_v<Ext<I>, I>) {
    return std::forward<Fn>(fn)(it);
  } else {
    ByRef<I> r(it);
    return std::forward<Fn>(fn)(r);
  }
}
}  // namespace iter_internal

#define WEFT_ITER_PIPE_CONSUMER_(name, Params, Captures, Call)                               \
  constexpr auto name Params {                                                            \
    return iter_internal::Closure{[Captures]<class I>(I&& it) mutable -> decltype(auto) { \
      return iter_internal::with_ext(it, [&](auto& e) -> decltype(auto) { return Call; }); \
    }};                                                                                    \
  }

template <class B, class F>
WEFT_ITER_PIPE_CONSUMER_(fold, (B init, F f), init = std::move(init) WEFT_ITER_COMMA_ f = std::move(f),
                         e.fold(std::move(init), std::move(f)))
WEFT_ITER_PIPE_CONSUMER_(count, (), , e.count())
WEFT_ITER_PIPE_CONSUMER_(sum, (), , e.sum())
WEFT_ITER_PIPE_CONSUMER_(min, (), , e.min())
WEFT_ITER_PIPE_CONSUMER_(max, (), , e.max())
template <class L>
WEFT_ITER_PIPE_CONSUMER_(min_by, (L l), l = std::move(l), e.min_by(std::move(l)))
template <class L>
WEFT_ITER_PIPE_CONSUMER_(max_by, (L l), l = std::move(l), e.max_by(std::move(l)))
template <class K>
WEFT_ITER_PIPE_CONSUMER_(min_by_key, (K k), k = std::move(k), e.min_by_key(std::move(k)))
template <class K>
WEFT_ITER_PIPE_CONSUMER_(max_by_key, (K k), k = std::move(k), e.max_by_key(std::move(k)))
template <class P>
WEFT_ITER_PIPE_CONSUMER_(any, (P p), p = std::move(p), e.any(std::move(p)))
template <class P>
WEFT_ITER_PIPE_CONSUMER_(all, (P p), p = std::move(p), e.all(std::move(p)))
template <class P>
WEFT_ITER_PIPE_CONSUMER_(find, (P p), p = std::move(p), e.find(std::move(p)))
template <class P>
WEFT_ITER_PIPE_CONSUMER_(position, (P p), p = std::move(p), e.position(std::move(p)))
WEFT_ITER_PIPE_CONSUMER_(nth, (std::size_t n), n, e.nth(n))
WEFT_ITER_PIPE_CONSUMER_(last, (), , e.last())
template <class F>
WEFT_ITER_PIPE_CONSUMER_(for_each, (F f), f = std::move(f), e.for_each(std::move(f)))
template <class C>
WEFT_ITER_PIPE_CONSUMER_(collect, (), , e.template collect<C>())
template <template <class...> class C>
WEFT_ITER_PIPE_CONSUMER_(collect, (), , e.template collect<C>())
template <class C, class P>
WEFT_ITER_PIPE_CONSUMER_(partition, (P p), p = std::move(p), e.template partition<C>(std::move(p)))
template <template <class...> class C, class P>
WEFT_ITER_PIPE_CONSUMER_(partition, (P p), p = std::move(p), e.template partition<C>(std::move(p)))
#undef WEFT_ITER_PIPE_CONSUMER_

// ---------------------------------------------------------------------------
// Contiguous sources: chunks and windows over a span.
// ---------------------------------------------------------------------------

// Chunks<T>: consecutive non-overlapping spans of `n` elements (the last may
// be shorter). `n` must not be 0. Size: span + size_t. Rust: `slice::chunks`.
template <class T>
class Chunks : public Ext<Chunks<T>> {
 public:
  using Item = std::span<T>;

  constexpr Chunks(std::span<T> s, std::size_t n) : s_(s), n_(n) {
    WEFT_HARDENING_ASSERT(n != 0, "chunks: the chunk size must not be 0");
  }

  constexpr Option<Item> next() {
    if (s_.empty()) return std::nullopt;
    const std::size_t k = s_.size() < n_ ? s_.size() : n_;
    Item c = s_.first(k);
    s_ = s_.subspan(k);
    return c;
  }
  constexpr Option<Item> next_back() {
    if (s_.empty()) return std::nullopt;
    const std::size_t rem = s_.size() % n_;
    const std::size_t k = rem == 0 ? n_ : rem;
    Item c = s_.last(k);
    s_ = s_.first(s_.size() - k);
    return c;
  }
  constexpr SizeHint size_hint() const {
    const std::size_t n = (s_.size() + n_ - 1) / n_;
    return {n, n};
  }

 private:
  std::span<T> s_;
  std::size_t n_;
};

// Windows<T>: every overlapping span of `n` consecutive elements. `n` must
// not be 0. Size: span + size_t. Rust: `slice::windows`.
template <class T>
class Windows : public Ext<Windows<T>> {
 public:
  using Item = std::span<T>;

  constexpr Windows(std::span<T> s, std::size_t n) : s_(s), n_(n) {
    WEFT_HARDENING_ASSERT(n != 0, "windows: the window size must not be 0");
  }

  constexpr Option<Item> next() {
    if (s_.size() < n_) return std::nullopt;
    Item w = s_.first(n_);
    s_ = s_.subspan(1);
    return w;
  }
  constexpr Option<Item> next_back() {
    if (s_.size() < n_) return std::nullopt;
    Item w = s_.last(n_);
    s_ = s_.first(s_.size() - 1);
    return w;
  }
  constexpr SizeHint size_hint() const {
    const std::size_t n = s_.size() < n_ ? 0 : s_.size() - n_ + 1;
    return {n, n};
  }

 private:
  std::span<T> s_;
  std::size_t n_;
};

// chunks(range, n) / windows(range, n) over any contiguous range (array,
// vector, span, string...). The range must outlive the iterator.
template <class R>
  requires std::ranges::contiguous_range<R> && std::ranges::borrowed_range<R>
constexpr auto chunks(R&& r, std::size_t n) {
  return Chunks<std::remove_reference_t<std::ranges::range_reference_t<R>>>(std::span(r), n);
}
template <class R>
  requires std::ranges::contiguous_range<R> && std::ranges::borrowed_range<R>
constexpr auto windows(R&& r, std::size_t n) {
  return Windows<std::remove_reference_t<std::ranges::range_reference_t<R>>>(std::span(r), n);
}

}  // namespace weft::iter

#endif  // WEFT_ITER_ADAPTORS_H_
