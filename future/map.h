// -----------------------------------------------------------------------------
// File: future/map.h
// -----------------------------------------------------------------------------
//
// Sequencing combinators: `map`, `then`, `inspect`, `flatten`, `fuse`.
// Rust: `FutureExt::{map, then, inspect, flatten, fuse}`.
//
//   map(f, fn)      Ready(fn(out))                    Map<F, Fn>
//   then(f, fn)     fn(out) returns a future; awaits it  Then<F, Fn>
//   inspect(f, fn)  calls fn(const out&), passes out on  Inspect<F, Fn>
//   flatten(f)      f's output is a future; awaits it    Flatten<F>
//   fuse(f)         Pending forever after Ready, instead of a contract
//                   violation; `is_terminated()` tells  Fuse<F>
//
// Costs: no allocation. `sizeof(Map<F, Fn>)` is `F` plus `Fn` (zero for a
// capture-less lambda; plus a flag in debug builds); `Then`/`Flatten` hold one state at a
// time (a variant of the first and second future). Unpin when their parts
// are; otherwise debug builds check they are not moved after the first poll.
// Cancel-safe when their inner futures are (`map`/`inspect`/`fuse`).
// Contract: polling after Ready is a contract violation (debug assert naming
// the combinator), except for `Fuse`.
// Cancellation: dropping destroys the inner future(s) that are alive.
// Freestanding.
//
// Example:
//
//   auto f = weft::map(weft::ready(20), [](int x) { return x + 1; });
//   auto g = weft::then(std::move(f), [](int x) { return weft::ready(x * 2); });
//   EXPECT_EQ(testing::poll_once(g).value(), 42);
//
#ifndef WEFT_FUTURE_MAP_H_
#define WEFT_FUTURE_MAP_H_

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>
#include <variant>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

namespace future_internal {
template <class Fn, class T>
using MapResult = std::conditional_t<std::is_void_v<std::invoke_result_t<Fn&&, T&&>>, Unit,
                                     std::invoke_result_t<Fn&&, T&&>>;

template <class Fn, class T>
MapResult<Fn, T> invoke_unit(Fn&& fn, T&& v) {
  if constexpr (std::is_void_v<std::invoke_result_t<Fn&&, T&&>>) {
    std::invoke(std::forward<Fn>(fn), std::forward<T>(v));
    return Unit{};
  } else {
    return std::invoke(std::forward<Fn>(fn), std::forward<T>(v));
  }
}
}  // namespace future_internal

// Map<F, Fn>: the future returned by `map()`.
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] Map {
 public:
  using Output = future_internal::MapResult<Fn, OutputOf<F>>;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  constexpr Map(F f, Fn fn) : f_(std::move(f)), fn_(std::move(fn)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Map was moved after its first poll");
    WEFT_ASSERT(!done_.is_set(), "Map must not be polled after it returned ready");
    Poll<OutputOf<F>> p = f_.poll(cx);
    if (p.is_pending()) return Pending{};
    done_.set();
    return future_internal::invoke_unit(std::move(fn_), std::move(p).value());
  }

 private:
  F f_;
  [[no_unique_address]] Fn fn_;
  [[no_unique_address]] future_internal::DoneFlag done_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F, class Fn>
  requires Future<std::remove_cvref_t<F>>
constexpr Map<std::remove_cvref_t<F>, Fn> map(F&& f, Fn fn) {
  return Map<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// Inspect<F, Fn>: the future returned by `inspect()`.
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] Inspect {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  constexpr Inspect(F f, Fn fn) : f_(std::move(f)), fn_(std::move(fn)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Inspect was moved after its first poll");
    WEFT_ASSERT(!done_, "Inspect must not be polled after it returned ready");
    Poll<Output> p = f_.poll(cx);
    if (p.is_ready()) {
      done_ = true;
      std::invoke(fn_, std::as_const(p.value()));
    }
    return p;
  }

 private:
  F f_;
  [[no_unique_address]] Fn fn_;
  bool done_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F, class Fn>
  requires Future<std::remove_cvref_t<F>>
constexpr Inspect<std::remove_cvref_t<F>, Fn> inspect(F&& f, Fn fn) {
  return Inspect<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// Then<F, Fn>: the future returned by `then()`. States: First(F, Fn) ->
// Second(G) -> Done, one alive at a time: F is destroyed before `fn` runs
// and G is built in place, so an output of F must not borrow from F.
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] Then {
  using G = std::invoke_result_t<Fn&&, OutputOf<F>&&>;
  static_assert(Future<G>, "then: the function must return a future");

  struct First {
    F f;
    Fn fn;
  };
  struct Done {};

 public:
  using Output = OutputOf<G>;
  static constexpr bool kUnpin = Unpin<F> && Unpin<G>;

  constexpr Then(F f, Fn fn) : state_(std::in_place_index<0>, First{std::move(f), std::move(fn)}) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Then was moved after its first poll");
    WEFT_ASSERT(state_.index() < 2, "Then must not be polled after it returned ready (or threw)");
    if (auto* first = std::get_if<0>(&state_)) {
      Poll<OutputOf<F>> p = first->f.poll(cx);
      if (p.is_pending()) return Pending{};
      Fn fn = std::move(first->fn);
      OutputOf<F> out = std::move(p).value();
      state_.template emplace<2>();  // F is destroyed before fn runs (see ReturnedBy)
      state_.template emplace<1>(
          future_internal::ReturnedBy{[&] { return std::invoke(std::move(fn), std::move(out)); }});
    }
    Poll<Output> q = std::get_if<1>(&state_)->poll(cx);
    if (q.is_ready()) state_.template emplace<2>();
    return q;
  }

 private:
  std::variant<First, G, Done> state_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F, class Fn>
  requires Future<std::remove_cvref_t<F>>
constexpr Then<std::remove_cvref_t<F>, Fn> then(F&& f, Fn fn) {
  return Then<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// Flatten<F>: the future returned by `flatten()`; `F`'s output is a future.
template <Future F>
class [[nodiscard("futures do nothing unless polled")]] Flatten {
  using G = OutputOf<F>;
  static_assert(Future<G>, "flatten: the output must be a future");
  struct Done {};

 public:
  using Output = OutputOf<G>;
  static constexpr bool kUnpin = Unpin<F> && Unpin<G>;

  constexpr explicit Flatten(F f) : state_(std::in_place_index<0>, std::move(f)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Flatten was moved after its first poll");
    WEFT_ASSERT(state_.index() != 2, "Flatten must not be polled after it returned ready");
    if (auto* first = std::get_if<0>(&state_)) {
      Poll<G> p = first->poll(cx);
      if (p.is_pending()) return Pending{};
      G g = std::move(p).value();
      state_.template emplace<1>(std::move(g));
    }
    Poll<Output> q = std::get_if<1>(&state_)->poll(cx);
    if (q.is_ready()) state_.template emplace<2>();
    return q;
  }

 private:
  std::variant<F, G, Done> state_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F>
  requires Future<std::remove_cvref_t<F>>
constexpr Flatten<std::remove_cvref_t<F>> flatten(F&& f) {
  return Flatten<std::remove_cvref_t<F>>(std::forward<F>(f));
}

// Fuse<F>: the future returned by `fuse()`. After Ready it returns Pending
// forever (without registering a waker) and `is_terminated()` is true, so it
// can sit in a loop of `select`s. The inner future is destroyed at Ready.
template <Future F>
class [[nodiscard("futures do nothing unless polled")]] Fuse {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  constexpr explicit Fuse(F f) : f_(std::in_place, std::move(f)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Fuse was moved after its first poll");
    if (!f_) return Pending{};
    Poll<Output> p = f_->poll(cx);
    if (p.is_ready()) f_.reset();
    return p;
  }
  bool is_terminated() const noexcept { return !f_.has_value(); }

 private:
  std::optional<F> f_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F>
  requires Future<std::remove_cvref_t<F>>
constexpr Fuse<std::remove_cvref_t<F>> fuse(F&& f) {
  return Fuse<std::remove_cvref_t<F>>(std::forward<F>(f));
}

}  // namespace weft

#endif  // WEFT_FUTURE_MAP_H_
