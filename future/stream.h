// -----------------------------------------------------------------------------
// File: future/stream.h
// -----------------------------------------------------------------------------
//
// `Stream`: the async twin of `iter::Iterator` — a source of items that may
// not be there yet. `poll_next(cx)` returns `Ready(item)`, `Ready(nullopt)`
// (the end) or `Pending` (after arranging for `cx.waker()` to be woken).
// Rust: `futures::Stream`, `futures::StreamExt`, `futures::stream::iter`.
//
//   template <class S>
//   concept Stream = requires(S& s, Context& cx) {
//     typename S::Item;
//     { s.poll_next(cx) } -> std::same_as<Poll<std::optional<typename S::Item>>>;
//   };
//
// In a `poll_next`: `return Pending{};` is Pending, `return std::nullopt;` is
// the end, `return std::optional<T>(x);` an item (`PollNext<T>` names the type).
//
// Adaptors and consumers live in namespace `weft::stream` (so they do not
// clash with the future combinators `weft::map`/`weft::then`), in two
// spellings, as in //iter:
//
//   stream::map(s, f)          ==  s | stream::map(f)
//
//   iter(it)              an `iter::Iterator` as a stream; each item costs one
//                         unit of the cooperative budget (`cx.poll_proceed()`)
//   map(s, f)             f(item)                               Map<S, Fn>
//   filter(s, p)          items with p(const item&)             Filter<S, P>
//   then(s, f)            f(item) returns a future; its output  Then<S, Fn>
//   take(s, n)            the first n items                     Take<S>
//   zip(a, b)             pairs; ends when either ends          Zip<A, B>
//   chain(a, b)           a's items, then b's                   Chain<A, B>
//   merge(a, b)           items of both as they come; polls the two fairly
//                         (alternating which goes first); ends when both end
//                                                               Merge<A, B>
//   fuse(s)               None forever after the first None     Fuse<S>
//   by_ref(s)             borrows `s` (adapt or consume it in place)  ByRef<S>
//   next(s)               future of the next item (borrows `s`; cancel-safe)
//   fold(s, init, f)      future: f(acc, item) -> acc, or a future of acc
//   for_each(s, f)        future: f(item) -> void, or a future (awaited)
//   collect<C>(s)         future: every item into a container C (hosted)
//   buffer_unordered(s, n)   see future/futures_unordered.h (hosted)
//
// Also: `AsyncGenerator<T>` (future/async_generator.h), a stream written as a
// coroutine with `co_await` and `co_yield`; `FuturesUnordered<F>`
// (future/futures_unordered.h); `block_on_stream(s)` (future/
// block_on_stream.h), a blocking iterator over a stream.
//
// Costs: no allocation (except the container `collect` fills), no type
// erasure. Each adaptor holds its parts by value: `Map<S, Fn>` is S plus Fn
// (nothing for a capture-less lambda); `Filter` likewise; `Take` adds a count;
// `Then` adds an optional in-flight future; `Zip` adds one buffered item per
// side and two flags; `Chain` an optional first stream; `Merge` three flags;
// `Fold` the optional accumulator (and in-flight future, if async).
//
// Contract (as for futures):
//   - A stream must not move after its first `poll_next` unless it is `Unpin`
//     (`static constexpr bool kUnpin = true;`); adaptors are Unpin when their
//     parts are, and otherwise check it in debug builds.
//   - After a stream returned the end (`nullopt`), polling it again is a
//     contract violation; adaptors that keep state for it assert it (debug),
//     the others forward to a child that does. `fuse(s)` makes it safe.
//   - `Pending` means the waker was stored; no lost wake-ups. Adaptors pass
//     the caller's Context (waker and budget) to their children unchanged.
//   - `filter` loops until an item passes; a leaf that yields forever and
//     is filtered out forever still yields to its executor through the budget.
//   - Functions are called with the item by value (`filter`'s predicate sees
//     `const Item&`). Items are objects: `iter(it)` copies reference items.
//   - Factories take streams by value: an lvalue is copied (wrap it in
//     `by_ref(s)` to adapt or consume it in place, or move it).
// Cancellation: dropping a stream or one of its futures at any Pending point
// destroys the children alive in it (an in-flight `then` future, buffered
// `zip` items); no waker is left registered. `next(s)` is cancel-safe: what
// the stream had received stays in the stream.
// Freestanding (`collect` needs a container, which a hosted caller supplies).
//
// Example:
//
//   auto s = stream::iter(iter::range(1, 6))
//            | stream::map([](int x) { return x * x; })
//            | stream::filter([](int x) { return x % 2 == 1; });
//   auto sum = stream::fold(std::move(s), 0, [](int a, int x) { return a + x; });
//   EXPECT_EQ(testing::poll_once(sum).value(), 35);   // 1 + 9 + 25
//
//   // Inside a coroutine (`Task<T>`, `AsyncGenerator<T>`), item by item:
//   while (auto x = co_await stream::next(s)) total += *x;
//
#ifndef WEFT_FUTURE_STREAM_H_
#define WEFT_FUTURE_STREAM_H_

#include <concepts>
#include <cstddef>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "iter/iterator.h"
#include "tools/base/assert.h"

namespace weft {

// Stream
//
// A type with `using Item = ...;` (an object type) and
// `Poll<std::optional<Item>> poll_next(Context&)`.
template <class S>
concept Stream = std::is_object_v<S> && requires(S& s, Context& cx) {
  typename S::Item;
  { s.poll_next(cx) } -> std::same_as<Poll<std::optional<typename S::Item>>>;
};

// The item type of a stream (cv-ref ignored).
template <class S>
using StreamItemOf = typename std::remove_cvref_t<S>::Item;

// What `poll_next` returns for a stream of `T`.
template <class T>
using PollNext = Poll<std::optional<T>>;

namespace future_internal {

// StreamClosure<Fn>: what the pipe-form factories return; `s | c` calls
// `c.fn(s)` (an lvalue stream is copied, an rvalue moved, as the factories do).
template <class Fn>
struct StreamClosure {
  [[no_unique_address]] Fn fn;

  template <class S>
    requires Stream<std::remove_cvref_t<S>>
  friend constexpr auto operator|(S&& s, StreamClosure c) {
    return std::move(c.fn)(std::forward<S>(s));
  }
};
template <class Fn>
StreamClosure(Fn) -> StreamClosure<Fn>;

// An empty member for the `if constexpr` parts of a template.
struct StreamNothing {};

// InFlight<R, kUnpin>: the optional in-flight future of an async adaptor
// (`then`, `fold`, `for_each`). When the adaptor is not Unpin it moves only
// before its first poll, when this is empty, so it moves as empty without
// reading the source (debug builds check that it is). This also spares GCC
// 12 at -O1 a false -Wmaybe-uninitialized on the never-engaged payload
// (the ubsan build, for a `for_each` over mpsc sends).
template <class R, bool kUnpin>
struct InFlight : std::optional<R> {
  InFlight() = default;
};
template <class R>
struct InFlight<R, false> : std::optional<R> {
  InFlight() = default;
  InFlight(InFlight&& o) noexcept : std::optional<R>() {
    WEFT_ASSERT(!o.has_value(), "a stream adaptor that is not Unpin was moved while a future was in flight");
  }
  InFlight& operator=(InFlight&&) = delete;
};

// Pushes into a container with push_back, else insert.
template <class C, class X>
void stream_push(C& c, X&& x) {
  if constexpr (requires { c.push_back(std::forward<X>(x)); }) {
    c.push_back(std::forward<X>(x));
  } else {
    c.insert(std::forward<X>(x));
  }
}

}  // namespace future_internal

namespace stream {

// ---------------------------------------------------------------------------
// Sources
// ---------------------------------------------------------------------------

// Iter<I>: the stream returned by `iter()`. Always ready: every poll takes one
// unit of the cooperative budget first (and returns Pending after waking the
// task once the budget is spent). Reference items are copied.
template <::weft::iter::Iterator I>
class [[nodiscard("streams do nothing unless polled")]] Iter {
  using Ref = ::weft::iter::ItemOf<I>;

 public:
  using Item = std::remove_cvref_t<Ref>;
  static constexpr bool kUnpin = true;

  constexpr explicit Iter(I it) : it_(std::move(it)) {}

  PollNext<Item> poll_next(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    auto x = it_.next();
    if (!x) return std::nullopt;
    return std::optional<Item>(std::in_place, static_cast<Ref&&>(*x));
  }

  I& get() noexcept { return it_; }

 private:
  I it_;
};

// iter(it): any `iter::Iterator` as a stream.
template <class I>
  requires ::weft::iter::Iterator<std::remove_cvref_t<I>>
constexpr Iter<std::remove_cvref_t<I>> iter(I&& it) {
  return Iter<std::remove_cvref_t<I>>(std::forward<I>(it));
}

// ByRef<S>: the stream returned by `by_ref()`; borrows `S` (which must
// outlive it and must not move while borrowed).
template <Stream S>
class [[nodiscard("streams do nothing unless polled")]] ByRef {
 public:
  using Item = StreamItemOf<S>;
  static constexpr bool kUnpin = true;  // a pointer; the borrowed stream stays put

  constexpr explicit ByRef(S& s) noexcept : s_(&s) {}

  PollNext<Item> poll_next(Context& cx) { return s_->poll_next(cx); }

 private:
  S* s_;
};

template <Stream S>
constexpr ByRef<S> by_ref(S& s) noexcept {
  return ByRef<S>(s);
}

// ---------------------------------------------------------------------------
// Adaptors
// ---------------------------------------------------------------------------

// Map<S, Fn>: the stream returned by `map()`. Size: S + Fn.
template <Stream S, class Fn>
class [[nodiscard("streams do nothing unless polled")]] Map {
  using In = StreamItemOf<S>;

 public:
  using Item = std::invoke_result_t<Fn&, In&&>;
  static_assert(std::is_object_v<Item>, "stream::map: the function must return a value (an object type)");
  static constexpr bool kUnpin = Unpin<S>;

  constexpr Map(S s, Fn fn) : s_(std::move(s)), fn_(std::move(fn)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Map was moved after its first poll");
    PollNext<In> p = s_.poll_next(cx);
    if (p.is_pending()) return Pending{};
    std::optional<In>& x = p.value();
    if (!x) return std::nullopt;
    return std::optional<Item>(std::invoke(fn_, std::move(*x)));
  }

 private:
  S s_;
  [[no_unique_address]] Fn fn_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S, class Fn>
  requires Stream<std::remove_cvref_t<S>>
constexpr Map<std::remove_cvref_t<S>, Fn> map(S&& s, Fn fn) {
  return Map<std::remove_cvref_t<S>, Fn>(std::forward<S>(s), std::move(fn));
}
template <class Fn>
constexpr auto map(Fn fn) {
  return future_internal::StreamClosure{[fn = std::move(fn)]<class S>(S&& s) mutable {
    return stream::map(std::forward<S>(s), std::move(fn));
  }};
}

// Filter<S, P>: the stream returned by `filter()`. Size: S + P.
template <Stream S, class P>
class [[nodiscard("streams do nothing unless polled")]] Filter {
 public:
  using Item = StreamItemOf<S>;
  static constexpr bool kUnpin = Unpin<S>;

  constexpr Filter(S s, P p) : s_(std::move(s)), p_(std::move(p)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Filter was moved after its first poll");
    for (;;) {
      PollNext<Item> p = s_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      std::optional<Item>& x = p.value();
      if (!x || std::invoke(p_, std::as_const(*x))) return p;
    }
  }

 private:
  S s_;
  [[no_unique_address]] P p_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S, class P>
  requires Stream<std::remove_cvref_t<S>>
constexpr Filter<std::remove_cvref_t<S>, P> filter(S&& s, P p) {
  return Filter<std::remove_cvref_t<S>, P>(std::forward<S>(s), std::move(p));
}
template <class P>
constexpr auto filter(P p) {
  return future_internal::StreamClosure{[p = std::move(p)]<class S>(S&& s) mutable {
    return stream::filter(std::forward<S>(s), std::move(p));
  }};
}

// Then<S, Fn>: the stream returned by `then()`. `fn(item)` returns a future;
// its output is the next item. One future in flight at a time (it is
// destroyed as soon as it is ready). Size: S + Fn + optional<future>.
template <Stream S, class Fn>
class [[nodiscard("streams do nothing unless polled")]] Then {
  using In = StreamItemOf<S>;
  using G = std::invoke_result_t<Fn&, In&&>;
  static_assert(Future<G>, "stream::then: the function must return a future");

 public:
  using Item = OutputOf<G>;
  static constexpr bool kUnpin = Unpin<S> && Unpin<G>;

  constexpr Then(S s, Fn fn) : s_(std::move(s)), fn_(std::move(fn)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Then was moved after its first poll");
    for (;;) {
      if (fut_) {
        Poll<Item> q = fut_->poll(cx);
        if (q.is_pending()) return Pending{};
        fut_.reset();
        return std::optional<Item>(std::move(q).value());
      }
      PollNext<In> p = s_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      std::optional<In>& x = p.value();
      if (!x) return std::nullopt;
      fut_.emplace(future_internal::ReturnedBy{[&] { return std::invoke(fn_, std::move(*x)); }});
    }
  }

 private:
  S s_;
  [[no_unique_address]] Fn fn_;
  future_internal::InFlight<G, kUnpin> fut_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S, class Fn>
  requires Stream<std::remove_cvref_t<S>>
constexpr Then<std::remove_cvref_t<S>, Fn> then(S&& s, Fn fn) {
  return Then<std::remove_cvref_t<S>, Fn>(std::forward<S>(s), std::move(fn));
}
template <class Fn>
constexpr auto then(Fn fn) {
  return future_internal::StreamClosure{[fn = std::move(fn)]<class S>(S&& s) mutable {
    return stream::then(std::forward<S>(s), std::move(fn));
  }};
}

// Take<S>: the stream returned by `take()`. Ends after `n` items without
// polling `S` again; stays ended (re-polling it is harmless). Size: S + size_t.
template <Stream S>
class [[nodiscard("streams do nothing unless polled")]] Take {
 public:
  using Item = StreamItemOf<S>;
  static constexpr bool kUnpin = Unpin<S>;

  constexpr Take(S s, std::size_t n) : s_(std::move(s)), n_(n) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Take was moved after its first poll");
    if (n_ == 0) return std::nullopt;
    PollNext<Item> p = s_.poll_next(cx);
    if (p.is_pending()) return Pending{};
    if (p.value()) {
      --n_;
    } else {
      n_ = 0;
    }
    return p;
  }

  std::size_t remaining() const noexcept { return n_; }

 private:
  S s_;
  std::size_t n_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S>
  requires Stream<std::remove_cvref_t<S>>
constexpr Take<std::remove_cvref_t<S>> take(S&& s, std::size_t n) {
  return Take<std::remove_cvref_t<S>>(std::forward<S>(s), n);
}
constexpr auto take(std::size_t n) {
  return future_internal::StreamClosure{[n]<class S>(S&& s) { return stream::take(std::forward<S>(s), n); }};
}

// Zip<A, B>: the stream returned by `zip()`. Polls each side that has no
// buffered item; yields a pair when both have one; ends when either side
// ended with nothing buffered. Size: A + B + optional<A item> + optional<B
// item> + two flags.
template <Stream A, Stream B>
class [[nodiscard("streams do nothing unless polled")]] Zip {
  using X = StreamItemOf<A>;
  using Y = StreamItemOf<B>;

 public:
  using Item = std::pair<X, Y>;
  static constexpr bool kUnpin = Unpin<A> && Unpin<B>;

  constexpr Zip(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Zip was moved after its first poll");
    WEFT_ASSERT(!ended(), "stream::Zip must not be polled after it returned the end");
    if (!x_ && !a_done_) {
      PollNext<X> p = a_.poll_next(cx);
      if (p.is_ready()) {
        if (p.value()) {
          x_.emplace(std::move(*p.value()));
        } else {
          a_done_ = true;
        }
      }
    }
    if (!y_ && !b_done_) {
      PollNext<Y> p = b_.poll_next(cx);
      if (p.is_ready()) {
        if (p.value()) {
          y_.emplace(std::move(*p.value()));
        } else {
          b_done_ = true;
        }
      }
    }
    if (x_ && y_) {
      std::optional<Item> out(std::in_place, std::move(*x_), std::move(*y_));
      x_.reset();
      y_.reset();
      return out;
    }
    if (ended()) {
      x_.reset();  // an item of the longer side is dropped, as in Rust
      y_.reset();
      return std::nullopt;
    }
    return Pending{};
  }

 private:
  bool ended() const noexcept { return (a_done_ && !x_) || (b_done_ && !y_); }

  A a_;
  B b_;
  std::optional<X> x_;
  std::optional<Y> y_;
  bool a_done_ = false;
  bool b_done_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class A, class B>
  requires Stream<std::remove_cvref_t<A>> && Stream<std::remove_cvref_t<B>>
constexpr Zip<std::remove_cvref_t<A>, std::remove_cvref_t<B>> zip(A&& a, B&& b) {
  return Zip<std::remove_cvref_t<A>, std::remove_cvref_t<B>>(std::forward<A>(a), std::forward<B>(b));
}
template <class B>
  requires Stream<std::remove_cvref_t<B>>
constexpr auto zip(B&& b) {
  return future_internal::StreamClosure{[b = std::remove_cvref_t<B>(std::forward<B>(b))]<class S>(S&& s) mutable {
    return stream::zip(std::forward<S>(s), std::move(b));
  }};
}

// Chain<A, B>: the stream returned by `chain()`. `A` is destroyed as soon as
// it ends. Size: optional<A> + B.
template <Stream A, Stream B>
class [[nodiscard("streams do nothing unless polled")]] Chain {
  static_assert(std::is_same_v<StreamItemOf<A>, StreamItemOf<B>>,
                "stream::chain: both streams must have the same Item type");

 public:
  using Item = StreamItemOf<A>;
  static constexpr bool kUnpin = Unpin<A> && Unpin<B>;

  constexpr Chain(A a, B b) : a_(std::in_place, std::move(a)), b_(std::move(b)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Chain was moved after its first poll");
    if (a_) {
      PollNext<Item> p = a_->poll_next(cx);
      if (p.is_pending() || p.value()) return p;
      a_.reset();
    }
    return b_.poll_next(cx);
  }

 private:
  std::optional<A> a_;
  B b_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class A, class B>
  requires Stream<std::remove_cvref_t<A>> && Stream<std::remove_cvref_t<B>>
constexpr Chain<std::remove_cvref_t<A>, std::remove_cvref_t<B>> chain(A&& a, B&& b) {
  return Chain<std::remove_cvref_t<A>, std::remove_cvref_t<B>>(std::forward<A>(a), std::forward<B>(b));
}
template <class B>
  requires Stream<std::remove_cvref_t<B>>
constexpr auto chain(B&& b) {
  return future_internal::StreamClosure{[b = std::remove_cvref_t<B>(std::forward<B>(b))]<class S>(S&& s) mutable {
    return stream::chain(std::forward<S>(s), std::move(b));
  }};
}

// Merge<A, B>: the stream returned by `merge()`. Each poll starts with the
// side the previous poll polled second (round robin), so an always-ready side
// cannot starve the other. A side that ended is not polled again; the merge
// ends when both have. Size: A + B + three flags. Rust: `stream::select`.
template <Stream A, Stream B>
class [[nodiscard("streams do nothing unless polled")]] Merge {
  static_assert(std::is_same_v<StreamItemOf<A>, StreamItemOf<B>>,
                "stream::merge: both streams must have the same Item type");

 public:
  using Item = StreamItemOf<A>;
  static constexpr bool kUnpin = Unpin<A> && Unpin<B>;

  constexpr Merge(A a, B b) : a_(std::move(a)), b_(std::move(b)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Merge was moved after its first poll");
    WEFT_ASSERT(!(a_done_ && b_done_), "stream::Merge must not be polled after it returned the end");
    const bool b_first = b_first_;
    b_first_ = !b_first_;
    std::optional<Item> x = b_first ? poll_side(b_, b_done_, cx) : poll_side(a_, a_done_, cx);
    if (x) return x;
    x = b_first ? poll_side(a_, a_done_, cx) : poll_side(b_, b_done_, cx);
    if (x) return x;
    if (a_done_ && b_done_) return std::nullopt;
    return Pending{};
  }

 private:
  // The side's item, or nothing (it is Pending, or ended: `done` is set).
  template <class Side>
  static std::optional<Item> poll_side(Side& s, bool& done, Context& cx) {
    if (done) return std::nullopt;
    PollNext<Item> p = s.poll_next(cx);
    if (p.is_pending()) return std::nullopt;
    if (!p.value()) done = true;
    return std::move(p).value();
  }

  A a_;
  B b_;
  bool a_done_ = false;
  bool b_done_ = false;
  bool b_first_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class A, class B>
  requires Stream<std::remove_cvref_t<A>> && Stream<std::remove_cvref_t<B>>
constexpr Merge<std::remove_cvref_t<A>, std::remove_cvref_t<B>> merge(A&& a, B&& b) {
  return Merge<std::remove_cvref_t<A>, std::remove_cvref_t<B>>(std::forward<A>(a), std::forward<B>(b));
}
template <class B>
  requires Stream<std::remove_cvref_t<B>>
constexpr auto merge(B&& b) {
  return future_internal::StreamClosure{[b = std::remove_cvref_t<B>(std::forward<B>(b))]<class S>(S&& s) mutable {
    return stream::merge(std::forward<S>(s), std::move(b));
  }};
}

// Fuse<S>: the stream returned by `fuse()`. After the first end it returns
// the end forever without polling `S`, which it destroys at that point;
// `is_terminated()` tells. Size: optional<S>.
template <Stream S>
class [[nodiscard("streams do nothing unless polled")]] Fuse {
 public:
  using Item = StreamItemOf<S>;
  static constexpr bool kUnpin = Unpin<S>;

  constexpr explicit Fuse(S s) : s_(std::in_place, std::move(s)) {}

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::Fuse was moved after its first poll");
    if (!s_) return std::nullopt;
    PollNext<Item> p = s_->poll_next(cx);
    if (p.is_ready() && !p.value()) s_.reset();
    return p;
  }
  bool is_terminated() const noexcept { return !s_.has_value(); }

 private:
  std::optional<S> s_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S>
  requires Stream<std::remove_cvref_t<S>>
constexpr Fuse<std::remove_cvref_t<S>> fuse(S&& s) {
  return Fuse<std::remove_cvref_t<S>>(std::forward<S>(s));
}
constexpr auto fuse() {
  return future_internal::StreamClosure{[]<class S>(S&& s) { return stream::fuse(std::forward<S>(s)); }};
}

// ---------------------------------------------------------------------------
// Consumers (futures)
// ---------------------------------------------------------------------------

// Next<S>: the future returned by `next()`: the stream's next item, or
// nullopt at its end. Borrows the stream. Cancel-safe: dropping it before
// Ready loses nothing (whatever the stream holds stays in the stream).
// Size: a pointer and a flag.
template <Stream S>
class [[nodiscard("futures do nothing unless polled")]] Next {
 public:
  using Output = std::optional<StreamItemOf<S>>;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  constexpr explicit Next(S& s) noexcept : s_(&s) {}

  Poll<Output> poll(Context& cx) {
    WEFT_ASSERT(!done_, "stream::Next must not be polled after it returned ready");
    Poll<Output> p = s_->poll_next(cx);
    done_ = p.is_ready();
    return p;
  }

 private:
  S* s_;
  bool done_ = false;
};

// next(s): `co_await stream::next(s)` in a coroutine. `s` must outlive the
// future and must not move while it is borrowed (unless it is Unpin).
template <Stream S>
constexpr Next<S> next(S& s) noexcept {
  return Next<S>(s);
}
template <Stream S>
void next(S&& s) = delete;  // a temporary stream would be gone before its item

// Fold<S, B, Fn>: the future returned by `fold()`. `fn(acc, item)` returns
// the new accumulator, or a future of it (awaited before the next item is
// pulled; Rust's `StreamExt::fold`). Size: S + optional<B> + Fn (+ the
// optional in-flight future when `fn` is async).
template <Stream S, class B, class Fn>
class [[nodiscard("futures do nothing unless polled")]] Fold {
  using In = StreamItemOf<S>;
  using R = std::invoke_result_t<Fn&, B&&, In&&>;
  static constexpr bool kAsync = Future<R> && !std::is_convertible_v<R, B>;
  static_assert(kAsync || std::is_convertible_v<R, B>,
                "stream::fold: the function must return the accumulator type or a future of it");
  using Fut = std::conditional_t<kAsync, future_internal::InFlight<R, Unpin<S> && Unpin<R>>, future_internal::StreamNothing>;

 public:
  using Output = B;
  static constexpr bool kUnpin = Unpin<S> && (!kAsync || Unpin<R>);

  constexpr Fold(S s, B init, Fn fn) : s_(std::move(s)), acc_(std::in_place, std::move(init)), fn_(std::move(fn)) {}

  Poll<B> poll(Context& cx) {
    moved_.check(this, "stream::Fold was moved after its first poll");
    WEFT_ASSERT(busy(), "stream::Fold must not be polled after it returned ready");
    for (;;) {
      if constexpr (kAsync) {
        if (fut_) {
          Poll<OutputOf<R>> q = fut_->poll(cx);
          if (q.is_pending()) return Pending{};
          fut_.reset();
          acc_.emplace(std::move(q).value());
        }
      }
      PollNext<In> p = s_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      std::optional<In>& x = p.value();
      if (!x) {
        B out = std::move(*acc_);
        acc_.reset();
        return out;
      }
      if constexpr (kAsync) {
        fut_.emplace(
            future_internal::ReturnedBy{[&] { return std::invoke(fn_, std::move(*acc_), std::move(*x)); }});
        acc_.reset();
      } else {
        *acc_ = std::invoke(fn_, std::move(*acc_), std::move(*x));
      }
    }
  }

 private:
  bool busy() const noexcept {
    if constexpr (kAsync) {
      return acc_.has_value() || fut_.has_value();
    } else {
      return acc_.has_value();
    }
  }

  S s_;
  std::optional<B> acc_;
  [[no_unique_address]] Fn fn_;
  [[no_unique_address]] Fut fut_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S, class B, class Fn>
  requires Stream<std::remove_cvref_t<S>>
constexpr Fold<std::remove_cvref_t<S>, B, Fn> fold(S&& s, B init, Fn fn) {
  return Fold<std::remove_cvref_t<S>, B, Fn>(std::forward<S>(s), std::move(init), std::move(fn));
}
template <class B, class Fn>
constexpr auto fold(B init, Fn fn) {
  return future_internal::StreamClosure{[init = std::move(init), fn = std::move(fn)]<class S>(S&& s) mutable {
    return stream::fold(std::forward<S>(s), std::move(init), std::move(fn));
  }};
}

// ForEach<S, Fn>: the future returned by `for_each()`; Ready(Unit) at the
// stream's end. `fn(item)` returns nothing, or a future that is awaited
// before the next item is pulled. Size: S + Fn + a flag (+ the optional
// in-flight future when `fn` is async).
template <Stream S, class Fn>
class [[nodiscard("futures do nothing unless polled")]] ForEach {
  using In = StreamItemOf<S>;
  using R = std::invoke_result_t<Fn&, In&&>;
  static constexpr bool kAsync = Future<R>;
  using Fut = std::conditional_t<kAsync, future_internal::InFlight<R, Unpin<S> && Unpin<R>>, future_internal::StreamNothing>;

 public:
  using Output = Unit;
  static constexpr bool kUnpin = Unpin<S> && (!kAsync || Unpin<R>);

  constexpr ForEach(S s, Fn fn) : s_(std::move(s)), fn_(std::move(fn)) {}

  Poll<Unit> poll(Context& cx) {
    moved_.check(this, "stream::ForEach was moved after its first poll");
    WEFT_ASSERT(!done_, "stream::ForEach must not be polled after it returned ready");
    for (;;) {
      if constexpr (kAsync) {
        if (fut_) {
          if (fut_->poll(cx).is_pending()) return Pending{};
          fut_.reset();
        }
      }
      PollNext<In> p = s_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      std::optional<In>& x = p.value();
      if (!x) {
        done_ = true;
        return Unit{};
      }
      if constexpr (kAsync) {
        fut_.emplace(future_internal::ReturnedBy{[&] { return std::invoke(fn_, std::move(*x)); }});
      } else {
        std::invoke(fn_, std::move(*x));
      }
    }
  }

 private:
  S s_;
  [[no_unique_address]] Fn fn_;
  [[no_unique_address]] Fut fut_;
  bool done_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S, class Fn>
  requires Stream<std::remove_cvref_t<S>>
constexpr ForEach<std::remove_cvref_t<S>, Fn> for_each(S&& s, Fn fn) {
  return ForEach<std::remove_cvref_t<S>, Fn>(std::forward<S>(s), std::move(fn));
}
template <class Fn>
constexpr auto for_each(Fn fn) {
  return future_internal::StreamClosure{[fn = std::move(fn)]<class S>(S&& s) mutable {
    return stream::for_each(std::forward<S>(s), std::move(fn));
  }};
}

// Collect<S, C>: the future returned by `collect<C>()`: every item, pushed
// with `push_back` (or `insert` for sets and maps). Size: S + optional<C>.
template <Stream S, class C>
class [[nodiscard("futures do nothing unless polled")]] Collect {
 public:
  using Output = C;
  static constexpr bool kUnpin = Unpin<S>;

  constexpr explicit Collect(S s) : s_(std::move(s)), c_(std::in_place) {}

  Poll<C> poll(Context& cx) {
    moved_.check(this, "stream::Collect was moved after its first poll");
    WEFT_ASSERT(c_.has_value(), "stream::Collect must not be polled after it returned ready");
    for (;;) {
      PollNext<StreamItemOf<S>> p = s_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      if (!p.value()) {
        C out = std::move(*c_);
        c_.reset();
        return out;
      }
      future_internal::stream_push(*c_, std::move(*p.value()));
    }
  }

 private:
  S s_;
  std::optional<C> c_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// collect<C>(s) (e.g. `std::vector<int>`) or collect<Template>(s) (e.g.
// `std::vector`, instantiated with the item type).
template <class C, class S>
  requires Stream<std::remove_cvref_t<S>>
constexpr Collect<std::remove_cvref_t<S>, C> collect(S&& s) {
  return Collect<std::remove_cvref_t<S>, C>(std::forward<S>(s));
}
template <template <class...> class C, class S>
  requires Stream<std::remove_cvref_t<S>>
constexpr Collect<std::remove_cvref_t<S>, C<StreamItemOf<S>>> collect(S&& s) {
  return Collect<std::remove_cvref_t<S>, C<StreamItemOf<S>>>(std::forward<S>(s));
}
template <class C>
constexpr auto collect() {
  return future_internal::StreamClosure{[]<class S>(S&& s) { return stream::collect<C>(std::forward<S>(s)); }};
}
template <template <class...> class C>
constexpr auto collect() {
  return future_internal::StreamClosure{[]<class S>(S&& s) { return stream::collect<C>(std::forward<S>(s)); }};
}

}  // namespace stream

}  // namespace weft

#endif  // WEFT_FUTURE_STREAM_H_
