// -----------------------------------------------------------------------------
// File: future/ready.h
// -----------------------------------------------------------------------------
//
// Leaf futures: `ready(v)`, `pending<T>()`, `poll_fn(f)`, `lazy(f)` and
// `yield_now()`. Rust: `future::ready`, `future::pending`, `future::poll_fn`,
// `future::lazy`, `tokio::task::yield_now`.
//
//   ready(v)       Ready(v) on the first poll.
//   pending<T>()   never ready (for tests and `select` arms that never fire).
//   poll_fn(f)     `f(Context&) -> Poll<T>` is the poll function.
//   lazy(f)        `f()` runs at the first poll; Ready with its result.
//   yield_now()    Pending once (after waking itself), then Ready(Unit):
//                  lets the executor run something else.
//
// Costs: no allocation; each is the size of what it holds. All are `Unpin`
// (they hold no self-references) and cancel-safe except `poll_fn` and `lazy`,
// whose user code weft cannot judge.
// Contract: polling after Ready is a contract violation (debug assert).
// Cancellation: dropping any of them has no side effect. Freestanding.
//
// Example:
//
//   auto f = weft::ready(7);
//   Context cx(noop_waker());
//   EXPECT_EQ(f.poll(cx).value(), 7);
//
#ifndef WEFT_FUTURE_READY_H_
#define WEFT_FUTURE_READY_H_

#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// Ready<T>: the future returned by `ready()`.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] Ready {
 public:
  using Output = T;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  constexpr explicit Ready(T v) : v_(std::move(v)) {}

  Poll<T> poll(Context&) {
    WEFT_ASSERT(v_.has_value(), "Ready must not be polled after it returned ready");
    Poll<T> out(std::move(*v_));
    v_.reset();
    return out;
  }

 private:
  std::optional<T> v_;
};

template <class T>
constexpr Ready<std::decay_t<T>> ready(T&& v) {
  return Ready<std::decay_t<T>>(std::forward<T>(v));
}
constexpr Ready<Unit> ready() { return Ready<Unit>(Unit{}); }

// PendingForever<T>: the future returned by `pending<T>()`.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] PendingForever {
 public:
  using Output = T;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  Poll<T> poll(Context&) noexcept { return Pending{}; }
};

template <class T = Unit>
constexpr PendingForever<T> pending() noexcept {
  return {};
}

// PollFn<F>: the future returned by `poll_fn()`.
template <class F>
class [[nodiscard("futures do nothing unless polled")]] PollFn {
  using R = std::invoke_result_t<F&, Context&>;

 public:
  using Output = typename R::value_type;
  static constexpr bool kUnpin = true;  // the closure state is the user's; it is not self-referential

  constexpr explicit PollFn(F f) : f_(std::move(f)) {}

  Poll<Output> poll(Context& cx) { return std::invoke(f_, cx); }

 private:
  [[no_unique_address]] F f_;
};

template <class F>
constexpr PollFn<F> poll_fn(F f) {
  static_assert(requires(F& g, Context& cx) { { g(cx) } -> std::same_as<Poll<typename std::invoke_result_t<F&, Context&>::value_type>>; },
                "poll_fn: the function must be callable as f(Context&) -> Poll<T>");
  return PollFn<F>(std::move(f));
}

// Lazy<F>: the future returned by `lazy()`.
template <class F>
class [[nodiscard("futures do nothing unless polled")]] Lazy {
  using R = std::invoke_result_t<F&&>;

 public:
  using Output = std::conditional_t<std::is_void_v<R>, Unit, R>;
  static constexpr bool kUnpin = true;

  constexpr explicit Lazy(F f) : f_(std::move(f)) {}

  Poll<Output> poll(Context&) {
    WEFT_ASSERT(f_.has_value(), "Lazy must not be polled after it returned ready");
    F f = std::move(*f_);
    f_.reset();
    if constexpr (std::is_void_v<R>) {
      std::invoke(std::move(f));
      return Unit{};
    } else {
      return std::invoke(std::move(f));
    }
  }

 private:
  std::optional<F> f_;
};

template <class F>
constexpr Lazy<F> lazy(F f) {
  return Lazy<F>(std::move(f));
}

// YieldNow: the future returned by `yield_now()`.
class [[nodiscard("futures do nothing unless polled")]] YieldNow {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  Poll<Unit> poll(Context& cx) {
    if (yielded_) return Unit{};
    yielded_ = true;
    cx.waker().wake_by_ref();
    return Pending{};
  }

 private:
  bool yielded_ = false;
};

constexpr YieldNow yield_now() noexcept { return {}; }

}  // namespace weft

#endif  // WEFT_FUTURE_READY_H_
