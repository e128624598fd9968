// -----------------------------------------------------------------------------
// File: future/context.h
// -----------------------------------------------------------------------------
//
// `Context`: what `poll` receives. It carries the current task's `Waker` and
// its cooperative `Budget`. Rust: `core::task::Context` (+ tokio's coop
// budget, which tokio keeps in a thread-local that foreign combinators cannot
// see; weft carries it in the Context so every combinator passes it on).
//
// Cooperative budget: an executor gives each task poll a budget (default
// `Budget::kDefault` = 128 units). Every leaf future that does work (yields
// an item, completes an operation) calls `cx.poll_proceed()` first; when the
// budget is spent that returns false after waking the task, and the leaf
// returns `Pending`. So a task looping over always-ready futures still hands
// the thread back to its executor every 128 operations. A Context made
// without a budget is unconstrained (`block_on` of a single future, tests).
//
//   Budget budget;                       // executors: once per task poll
//   Context cx(waker, &budget);
//   fut.poll(cx);
//
//   // in a leaf future's poll:
//   if (!cx.poll_proceed()) return Pending{};   // budget spent: yield
//
// Costs: two pointers; `poll_proceed` is a compare and a decrement.
// Contract: a Context lives for one `poll` call; do not store it. Freestanding.
#ifndef WEFT_FUTURE_CONTEXT_H_
#define WEFT_FUTURE_CONTEXT_H_

#include <cstdint>

#include "future/waker.h"

namespace weft {

// Budget
//
// Units of work a task may do in one poll before it must yield.
class Budget {
 public:
  static constexpr std::uint32_t kDefault = 128;

  constexpr explicit Budget(std::uint32_t units = kDefault) noexcept : remaining_(units) {}

  // Takes one unit; false when none is left.
  constexpr bool try_consume() noexcept {
    if (remaining_ == 0) return false;
    remaining_ -= 1;
    return true;
  }
  constexpr std::uint32_t remaining() const noexcept { return remaining_; }
  constexpr bool exhausted() const noexcept { return remaining_ == 0; }
  constexpr void refill(std::uint32_t units = kDefault) noexcept { remaining_ = units; }

 private:
  std::uint32_t remaining_;
};

// Context
//
// The waker and budget of the task being polled.
class Context {
 public:
  constexpr explicit Context(const Waker& waker, Budget* budget = nullptr) noexcept
      : waker_(&waker), budget_(budget) {}
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  constexpr const Waker& waker() const noexcept { return *waker_; }
  // nullptr when unconstrained.
  constexpr Budget* budget() const noexcept { return budget_; }

  // Context::poll_proceed()
  //
  // For leaf futures about to do a unit of work: consumes one unit and
  // returns true; or, when the budget is spent, wakes the task (so it is
  // polled again soon) and returns false: return `Pending` then.
  // (The fast path is inlined; the spent path is an out-of-line call: with
  // it inline GCC 12 kept the whole function out of line, a call per leaf
  // operation, ~10% of a single-thread channel round.)
  [[gnu::always_inline]] inline bool poll_proceed() const {
    if (budget_ == nullptr || budget_->try_consume()) [[likely]] return true;
    return budget_spent();
  }

 private:
  [[gnu::noinline, gnu::cold]] bool budget_spent() const {
    waker_->wake_by_ref();
    return false;
  }

  const Waker* waker_;
  Budget* budget_;
};

}  // namespace weft

#endif  // WEFT_FUTURE_CONTEXT_H_
