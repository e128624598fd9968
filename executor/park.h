// -----------------------------------------------------------------------------
// File: executor/park.h
// -----------------------------------------------------------------------------
//
// The `Park`/`Unpark` seam: what an executor thread sleeps on when it has no
// ready task, and how other threads wake it. The default, `ThreadPark`,
// sleeps on a futex (future/internal/parker.h); the reactor plugs in a `Park`
// that sleeps in `epoll_wait`/`io_uring_enter` (processing I/O and timers as
// it wakes) and an `Unpark` that writes an eventfd / posts a NOP. Rust:
// tokio's (former) `park::Park`/`Unpark` traits, `runtime::driver::Driver`.
//
//   Park::park()                  sleeps until unparked (or spuriously).
//   Park::park_timeout(d)         at most `d`; `d == 0` must not block but
//                                 may process pending events (a reactor
//                                 polls its I/O).
//   Park::unparker()              the Unpark of this Park.
//   Unpark::unpark()              from any thread: the next or current park
//                                 returns. Unparks before a park are not lost
//                                 (a token), and several coalesce into one.
//
// Costs: one virtual call per park/unpark. `ThreadPark`: unpark is one atomic
// swap, plus a futex wake only if the thread sleeps; park with a pending
// token is one atomic op; one allocation at construction.
// Contract: only the owning executor thread parks; `unparker()` is valid as
// long as the `Park` lives (executors keep the Park alive while wakers may
// still reach it). `park` may return spuriously: callers re-check for work.
//
// Example:
//
//   weft::ThreadPark park;
//   weft::Unpark& u = park.unparker();
//   std::thread t([&] { u.unpark(); });
//   park.park();      // returns once t has unparked (or at once if it did)
//   t.join();
//
#ifndef WEFT_EXECUTOR_PARK_H_
#define WEFT_EXECUTOR_PARK_H_

#include <chrono>

#include "future/internal/parker.h"

namespace weft {

// Unpark
class Unpark {
 public:
  virtual ~Unpark() = default;
  // Wakes the parked thread, or makes its next park return at once.
  virtual void unpark() noexcept = 0;
};

// Park
class Park {
 public:
  virtual ~Park() = default;
  // Blocks until unparked (may return spuriously).
  virtual void park() noexcept = 0;
  // Blocks at most `timeout` (0: do not block).
  virtual void park_timeout(std::chrono::nanoseconds timeout) noexcept = 0;
  // The Unpark for this Park; lives as long as it.
  virtual Unpark& unparker() noexcept = 0;
};

// ThreadPark
//
// The default Park: a futex-based token (weft's `Parker`).
class ThreadPark final : public Park, private Unpark {
 public:
  ThreadPark() = default;
  void park() noexcept override { parker_.park(); }
  void park_timeout(std::chrono::nanoseconds timeout) noexcept override {
    if (timeout.count() <= 0) return;  // a token stays for the next park
    (void)parker_.park_for(timeout);
  }
  Unpark& unparker() noexcept override { return *this; }

 private:
  void unpark() noexcept override { parker_.unpark(); }

  future_internal::Parker parker_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_PARK_H_
