// -----------------------------------------------------------------------------
// File: channels/internal/deadline_block_on.h
// -----------------------------------------------------------------------------
//
// Test helper (testonly) for the channels stress tests: `block_on_until(f,
// parker, deadline)` polls `f` on the calling thread, sleeping on `parker`
// between wakes, and gives up at `deadline` (returns nullopt), so a lost
// wake-up fails a test instead of hanging it.
//
//   DeadlineParker parker;                    // must outlive every waker it made
//   auto out = block_on_until(fut, parker, deadline);
//   ASSERT_TRUE(out.has_value()) << "lost wake-up";
//
// Costs: a mutex and a condition variable per parker; no allocation per
// wake (wakers are uncounted pointers to the parker). Hosted only.
#ifndef WEFT_CHANNELS_INTERNAL_DEADLINE_BLOCK_ON_H_
#define WEFT_CHANNELS_INTERNAL_DEADLINE_BLOCK_ON_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"

namespace weft::channels_internal {

using StressClock = std::chrono::steady_clock;

// DeadlineParker
//
// A thread's "wake me" flag. Its wakers do not count references: the parker
// must outlive every waker made from it (declare parkers before the threads
// that use them and join the threads first).
class DeadlineParker {
 public:
  DeadlineParker() = default;
  DeadlineParker(const DeadlineParker&) = delete;
  DeadlineParker& operator=(const DeadlineParker&) = delete;

  Waker waker() { return Waker::from_raw(RawWaker{this, &kVTable}); }

  // Sleeps until woken (true) or `deadline` (false). Consumes the wake.
  bool park_until(StressClock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    const bool woken = cv_.wait_until(lock, deadline, [&] { return notified_; });
    notified_ = false;
    return woken;
  }
  // Whether a wake is pending (without consuming it).
  bool woken() {
    std::lock_guard<std::mutex> lock(mu_);
    return notified_;
  }
  int wakes() const noexcept { return wakes_.load(std::memory_order_relaxed); }

 private:
  static DeadlineParker* self(const void* p) {
    return static_cast<DeadlineParker*>(const_cast<void*>(p));
  }
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) {
    DeadlineParker* s = self(p);
    s->wakes_.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(s->mu_);
    s->notified_ = true;
    s->cv_.notify_one();
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake, &drop};

  std::mutex mu_;
  std::condition_variable cv_;
  bool notified_ = false;
  std::atomic<int> wakes_{0};
};

// Polls `f` until Ready or `deadline`.
template <Future F>
std::optional<OutputOf<F>> block_on_until(F& f, DeadlineParker& parker,
                                          StressClock::time_point deadline) {
  Waker w = parker.waker();
  for (;;) {
    Context cx(w);
    Poll<OutputOf<F>> p = f.poll(cx);
    if (p.is_ready()) return std::optional<OutputOf<F>>(std::move(p).value());
    if (!parker.park_until(deadline)) return std::nullopt;
  }
}

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_DEADLINE_BLOCK_ON_H_
