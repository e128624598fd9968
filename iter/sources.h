// -----------------------------------------------------------------------------
// File: iter/sources.h
// -----------------------------------------------------------------------------
//
// Where iterators come from. Rust: `slice::iter`, `Range`, `iter::repeat`,
// `iter::once`, `iter::empty`, `iter::from_fn`, `iter::successors`.
//
//   from(container)       borrows any range; items are its references
//   range(a, b)           a, a+1, ..., b-1 (double-ended)
//   repeat(x)             x, x, x, ... (forever; combine with take)
//   once(x) / empty<T>()  one item / none
//   from_fn(f)            calls f() -> optional<T> until it is empty
//   successors(first, f)  first, f(first), f(f(first)), ... while engaged
//
// Costs: no allocation. `from` holds two C++ iterators; `range` two integers.
// Contract: `from(c)` borrows: `c` must outlive the iterator (rvalue
// containers are rejected at compile time unless they are borrowed ranges
// such as `std::span`).
//
// Example:
//
//   std::vector<std::string> names = {"ada", "bob"};
//   for (auto [i, name] : iter::from(names).enumerate()) { ... }   // name is std::string&
//   int s = iter::range(1, 4).sum();                                  // 6
//
#ifndef WEFT_ITER_SOURCES_H_
#define WEFT_ITER_SOURCES_H_

#include <concepts>
#include <cstddef>
#include <functional>
#include <iterator>
#include <optional>
#include <ranges>
#include <type_traits>
#include <utility>

#include "iter/adaptors.h"
#include "iter/iterator.h"

namespace weft::iter {

// From<R>: borrowing iterator over a range; double-ended when the range is
// bidirectional, exact size hint when it is sized.
template <std::ranges::input_range R>
class From : public Ext<From<R>> {
  using It = std::ranges::iterator_t<R>;
  using Sent = std::ranges::sentinel_t<R>;

 public:
  using Item = std::ranges::range_reference_t<R>;

  constexpr From(It first, Sent last) : first_(std::move(first)), last_(std::move(last)) {}

  constexpr Option<Item> next() {
    if (first_ == last_) return std::nullopt;
    Option<Item> x(*first_);
    ++first_;
    return x;
  }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    for (; first_ != last_; ++first_) init = std::invoke(g, std::move(init), static_cast<Item>(*first_));
    return init;
  }
  constexpr Option<Item> next_back()
    requires std::ranges::bidirectional_range<R> && std::same_as<It, Sent>
  {
    if (first_ == last_) return std::nullopt;
    --last_;
    return Option<Item>(*last_);
  }
  constexpr SizeHint size_hint() const {
    if constexpr (std::sized_sentinel_for<Sent, It>) {
      const auto n = static_cast<std::size_t>(last_ - first_);
      return {n, n};
    } else {
      return {};
    }
  }

 private:
  It first_;
  [[no_unique_address]] Sent last_;
};

template <class R>
  requires std::ranges::input_range<R> &&
           (std::is_lvalue_reference_v<R> || std::ranges::borrowed_range<R>)
constexpr auto from(R&& r) {
  return From<std::remove_reference_t<R>&>(std::ranges::begin(r), std::ranges::end(r));
}

// Range<T>: the integers [a, b). Double-ended; exact size hint.
template <std::integral T>
class Range : public Ext<Range<T>> {
 public:
  using Item = T;

  constexpr Range(T a, T b) noexcept : a_(a), b_(b < a ? a : b) {}

  constexpr Option<T> next() noexcept {
    if (a_ == b_) return std::nullopt;
    return a_++;
  }
  template <class B, class G>
  constexpr B fold(B init, G g) {
    for (; a_ != b_; ++a_) init = std::invoke(g, std::move(init), T(a_));
    return init;
  }
  constexpr Option<T> next_back() noexcept {
    if (a_ == b_) return std::nullopt;
    return --b_;
  }
  constexpr SizeHint size_hint() const noexcept {
    const auto n = static_cast<std::size_t>(b_ - a_);
    return {n, n};
  }

 private:
  T a_;
  T b_;
};

template <std::integral T>
constexpr Range<T> range(T a, T b) noexcept {
  return Range<T>(a, b);
}

// Repeat<T>: the same value forever (copies). Double-ended.
template <std::copy_constructible T>
class Repeat : public Ext<Repeat<T>> {
 public:
  using Item = T;

  constexpr explicit Repeat(T x) : x_(std::move(x)) {}

  constexpr Option<T> next() { return x_; }
  constexpr Option<T> next_back() { return x_; }
  constexpr SizeHint size_hint() const noexcept { return {static_cast<std::size_t>(-1), std::nullopt}; }

 private:
  T x_;
};

template <class T>
constexpr Repeat<std::decay_t<T>> repeat(T&& x) {
  return Repeat<std::decay_t<T>>(std::forward<T>(x));
}

// Once<T>: exactly one item. Double-ended.
template <class T>
class Once : public Ext<Once<T>> {
 public:
  using Item = T;

  constexpr explicit Once(T x) : x_(std::move(x)) {}

  constexpr Option<T> next() {
    Option<T> x;
    iter_internal::replace(x, std::move(x_));
    x_.reset();
    return x;
  }
  constexpr Option<T> next_back() { return next(); }
  constexpr SizeHint size_hint() const noexcept {
    const std::size_t n = x_.has_value() ? 1 : 0;
    return {n, n};
  }

 private:
  Option<T> x_;
};

template <class T>
constexpr Once<std::decay_t<T>> once(T&& x) {
  return Once<std::decay_t<T>>(std::forward<T>(x));
}

// Empty<T>: no items. Double-ended.
template <class T>
class Empty : public Ext<Empty<T>> {
 public:
  using Item = T;

  constexpr Option<T> next() const noexcept { return std::nullopt; }
  constexpr Option<T> next_back() const noexcept { return std::nullopt; }
  constexpr SizeHint size_hint() const noexcept { return {0, std::size_t{0}}; }
};

template <class T>
constexpr Empty<T> empty() noexcept {
  return {};
}

// FromFn<F>: calls `f()` (returning an optional) for each item.
template <class F>
class FromFn : public Ext<FromFn<F>> {
  using Result = std::invoke_result_t<F&>;
  static_assert(OptionLike<Result>, "from_fn: the function must return an optional");

 public:
  using Item = OptionValueOf<Result>;

  constexpr explicit FromFn(F f) : f_(std::move(f)) {}

  constexpr Option<Item> next() { return Option<Item>(std::invoke(f_)); }

 private:
  [[no_unique_address]] F f_;
};

template <class F>
constexpr FromFn<F> from_fn(F f) {
  return FromFn<F>(std::move(f));
}

// Successors<T, F>: `first`, then `f(previous)` while it is engaged.
template <class T, class F>
class Successors : public Ext<Successors<T, F>> {
 public:
  using Item = T;

  constexpr Successors(Option<T> first, F f) : next_(std::move(first)), f_(std::move(f)) {}

  constexpr Option<T> next() {
    if (!next_) return std::nullopt;
    Option<T> out;
    iter_internal::replace(out, std::move(next_));
    iter_internal::replace(next_, Option<T>(std::invoke(f_, std::as_const(*out))));
    return out;
  }
  constexpr SizeHint size_hint() const noexcept {
    return next_ ? SizeHint{1, std::nullopt} : SizeHint{0, std::size_t{0}};
  }

 private:
  Option<T> next_;
  [[no_unique_address]] F f_;
};

template <class T, class F>
constexpr Successors<T, F> successors(std::optional<T> first, F f) {
  return Successors<T, F>(std::move(first), std::move(f));
}
template <class T, class F>
  requires(!OptionLike<T>)
constexpr Successors<T, F> successors(T first, F f) {
  return Successors<T, F>(Option<T>(std::move(first)), std::move(f));
}

}  // namespace weft::iter

#endif  // WEFT_ITER_SOURCES_H_
