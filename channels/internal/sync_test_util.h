// -----------------------------------------------------------------------------
// File: channels/internal/sync_test_util.h
// -----------------------------------------------------------------------------
//
// Test helpers shared by the Mutex/RwLock/Barrier/OnceCell stress tests
// (testonly).
//
//   auto g = co_await TryOnce(m.lock());   // std::optional<MutexGuard<T>>
//   // nullopt: the lock future was polled once, Pending, and is dropped
//   // (cancelled) at the end of the full-expression.
//
//   Deadline d(std::chrono::seconds(30));  if (d.passed()) break;
#ifndef WEFT_CHANNELS_INTERNAL_SYNC_TEST_UTIL_H_
#define WEFT_CHANNELS_INTERNAL_SYNC_TEST_UTIL_H_

#include <chrono>
#include <optional>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"

namespace weft::channels_internal {

// TryOnce<F>: polls `F` exactly once with the caller's context; Ready with
// its output, or with nullopt if it was Pending (the inner future is then
// dropped with this one: a cancellation at a pending point).
template <Future F>
class TryOnce {
 public:
  using Output = std::optional<OutputOf<F>>;
  explicit TryOnce(F f) : f_(std::move(f)) {}
  Poll<Output> poll(Context& cx) {
    auto p = f_.poll(cx);
    if (p.is_pending()) return Output(std::nullopt);
    return Output(std::move(p).value());
  }

 private:
  F f_;
};
template <class F>
TryOnce(F) -> TryOnce<F>;

// A wall-clock bound for load loops (they are bounded by count too).
class Deadline {
 public:
  explicit Deadline(std::chrono::steady_clock::duration d) : end_(std::chrono::steady_clock::now() + d) {}
  bool passed() const { return std::chrono::steady_clock::now() >= end_; }

 private:
  std::chrono::steady_clock::time_point end_;
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_SYNC_TEST_UTIL_H_
