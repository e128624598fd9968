// -----------------------------------------------------------------------------
// File: future/testing/test_waker.h
// -----------------------------------------------------------------------------
//
// Test doubles for wakers and polling (testonly). Rust: `futures-test`
// (`new_count_waker`, `noop_context`, `AssertUnmoved`, `PendingOnce`) and
// `tokio-test`'s `task::spawn`.
//
//   CountingWaker w;                  // counts wakes and outstanding clones
//   auto fut = some_future();
//   EXPECT_TRUE(poll_once(fut, w).is_pending());
//   EXPECT_TRUE(poll_next_once(stream, w).is_pending());
//   trigger();
//   EXPECT_EQ(w.wakes(), 1);          // no lost wake-up, no spurious one
//   fut = {};                         // cancel
//   EXPECT_EQ(w.outstanding(), 0);    // no dangling waker left behind
//
// Costs: atomics only (wakers may be woken from other threads in tests).
#ifndef WEFT_FUTURE_TESTING_TEST_WAKER_H_
#define WEFT_FUTURE_TESTING_TEST_WAKER_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/stream.h"
#include "future/waker.h"

namespace weft::testing {

// CountingWaker
//
// Owns a "task" that counts how often it was woken and how many waker
// references to it are alive (clones minus drops minus consuming wakes).
// Must outlive every Waker made from it.
class CountingWaker {
 public:
  CountingWaker() = default;
  CountingWaker(const CountingWaker&) = delete;
  CountingWaker& operator=(const CountingWaker&) = delete;

  // A new reference (counted in `outstanding()` until dropped or woken).
  Waker waker() {
    refs_.fetch_add(1, std::memory_order_relaxed);
    return Waker::from_raw(RawWaker{this, &kVTable});
  }
  // The waker `poll_once` uses: borrowed, not counted.
  const Waker& borrowed() const noexcept { return borrowed_; }

  int wakes() const noexcept { return wakes_.load(std::memory_order_acquire); }
  int clones() const noexcept { return clones_.load(std::memory_order_relaxed); }
  // References alive that were cloned from `borrowed()` or made by `waker()`.
  int outstanding() const noexcept { return refs_.load(std::memory_order_acquire); }
  void reset_wakes() noexcept { wakes_.store(0, std::memory_order_relaxed); }

 private:
  static CountingWaker* self(const void* p) {
    return static_cast<CountingWaker*>(const_cast<void*>(p));
  }
  static RawWaker clone(const void* p) {
    self(p)->clones_.fetch_add(1, std::memory_order_relaxed);
    self(p)->refs_.fetch_add(1, std::memory_order_relaxed);
    return RawWaker{p, &kVTable};
  }
  static void wake(const void* p) {
    self(p)->wakes_.fetch_add(1, std::memory_order_acq_rel);
    self(p)->refs_.fetch_sub(1, std::memory_order_acq_rel);
  }
  static void wake_by_ref(const void* p) { self(p)->wakes_.fetch_add(1, std::memory_order_acq_rel); }
  static void drop(const void* p) { self(p)->refs_.fetch_sub(1, std::memory_order_acq_rel); }
  // The borrowed waker's own reference is never counted.
  static RawWaker b_clone(const void* p) { return clone(p); }
  static void b_wake(const void* p) { wake_by_ref(p); }
  static void b_drop(const void*) {}

  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake_by_ref, &drop};
  static constexpr RawWakerVTable kBorrowedVTable = {&b_clone, &b_wake, &wake_by_ref, &b_drop};

  std::atomic<int> wakes_{0};
  std::atomic<int> clones_{0};
  std::atomic<int> refs_{0};
  Waker borrowed_ = Waker::from_raw(RawWaker{this, &kBorrowedVTable});
};

// The noop waker, as futures-test names it.
inline const Waker& NoopWaker() { return noop_waker(); }

// poll_once(f[, waker[, budget]])
//
// Polls `f` once with a Context for `waker` (noop by default).
template <Future F>
Poll<OutputOf<F>> poll_once(F& f, const Waker& waker = noop_waker(), Budget* budget = nullptr) {
  Context cx(waker, budget);
  return f.poll(cx);
}
template <Future F>
Poll<OutputOf<F>> poll_once(F& f, CountingWaker& w, Budget* budget = nullptr) {
  Context cx(w.borrowed(), budget);
  return f.poll(cx);
}

// poll_next_once(s[, waker[, budget]])
//
// The same for a stream: one `poll_next`.
template <Stream S>
PollNext<StreamItemOf<S>> poll_next_once(S& s, const Waker& waker = noop_waker(), Budget* budget = nullptr) {
  Context cx(waker, budget);
  return s.poll_next(cx);
}
template <Stream S>
PollNext<StreamItemOf<S>> poll_next_once(S& s, CountingWaker& w, Budget* budget = nullptr) {
  Context cx(w.borrowed(), budget);
  return s.poll_next(cx);
}

// PendingOnce<F>
//
// Returns Pending (after waking) on its first poll, then polls `F`: checks
// that a combinator handles a child that is not ready at once.
template <Future F>
class PendingOnce {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  explicit PendingOnce(F f) : f_(std::move(f)) {}

  Poll<Output> poll(Context& cx) {
    if (!polled_once_) {
      polled_once_ = true;
      cx.waker().wake_by_ref();
      return Pending{};
    }
    return f_.poll(cx);
  }

 private:
  F f_;
  bool polled_once_ = false;
};
template <class F>
PendingOnce(F) -> PendingOnce<F>;

// AssertUnmoved<F>
//
// Polls `F` and aborts (always, not only in debug builds) if it is polled at
// a different address than its first poll.
template <Future F>
class AssertUnmoved {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  explicit AssertUnmoved(F f) : f_(std::move(f)) {}
  AssertUnmoved(AssertUnmoved&& o) noexcept : f_(std::move(o.f_)), first_(o.first_) {}

  Poll<Output> poll(Context& cx) {
    if (first_ == nullptr) first_ = this;
    WEFT_HARDENING_ASSERT(first_ == this, "AssertUnmoved: the future was moved after its first poll");
    return f_.poll(cx);
  }

 private:
  F f_;
  const void* first_ = nullptr;
};
template <class F>
AssertUnmoved(F) -> AssertUnmoved<F>;

}  // namespace weft::testing

#endif  // WEFT_FUTURE_TESTING_TEST_WAKER_H_
