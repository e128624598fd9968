// -----------------------------------------------------------------------------
// File: future/coop.h
// -----------------------------------------------------------------------------
//
// The cooperative budget (future/context.h) from user code:
// `consume_budget()` and `unconstrained(f)`. Rust: `tokio::task::coop::
// consume_budget` and `tokio::task::coop::unconstrained`.
//
//   consume_budget()   takes one unit of the running task's budget: Ready at
//                      once while units remain; when the budget is spent it
//                      wakes the task and is Pending (the task yields, and
//                      the next poll, with a fresh budget, is Ready). For a
//                      loop of pure computation (no leaf futures that would
//                      count): `co_await consume_budget();` per step makes
//                      it yield every `Budget::kDefault` steps instead of
//                      hogging its worker (yield_now() yields every time).
//   unconstrained(f)   polls `f` with no budget: its leaf futures never make
//                      it yield (for a future that must finish in one go;
//                      it can then starve other tasks on its thread).
//
// Costs: ConsumeBudget is one byte; a poll is `poll_proceed` (a compare and
// a decrement). Unconstrained<F> is the size of F; its poll builds a Context
// (two pointers). No allocation.
// Contract: as any future (do not poll after Ready). Unconstrained<F> is
// Unpin and cancel-safe exactly when F is.
// Cancellation: dropping either has no side effect beyond dropping `f`.
// Freestanding.
//
// Example:
//
//   weft::Task<long> sum_to(long n) {
//     long s = 0;
//     for (long i = 0; i < n; ++i) {
//       s += i;
//       co_await weft::consume_budget();  // yields every 128 steps
//     }
//     co_return s;
//   }
//
#ifndef WEFT_FUTURE_COOP_H_
#define WEFT_FUTURE_COOP_H_

#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// ConsumeBudget: the future returned by `consume_budget()`.
class [[nodiscard("futures do nothing unless polled")]] ConsumeBudget {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  Poll<Unit> poll(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};  // spent: woken, yields once
    return Unit{};
  }
};

constexpr ConsumeBudget consume_budget() noexcept { return {}; }

// Unconstrained<F>: the future returned by `unconstrained(f)`.
template <Future F>
class [[nodiscard("futures do nothing unless polled")]] Unconstrained {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  constexpr explicit Unconstrained(F f) : f_(std::move(f)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Unconstrained was moved after its first poll");
    Context unbudgeted(cx.waker());
    return f_.poll(unbudgeted);
  }

 private:
  F f_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class F>
  requires Future<std::remove_cvref_t<F>>
constexpr Unconstrained<std::remove_cvref_t<F>> unconstrained(F&& f) {
  return Unconstrained<std::remove_cvref_t<F>>(std::forward<F>(f));
}

}  // namespace weft

#endif  // WEFT_FUTURE_COOP_H_
