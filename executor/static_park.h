// -----------------------------------------------------------------------------
// File: executor/static_park.h
// -----------------------------------------------------------------------------
//
// `ParkIdle`: the idle policy that lets a `StaticExecutor` run on a hosted
// thread and sleep while no task is ready: the executor's thread parks (on a
// futex, through `future/internal/parker.h`, the parker `block_on` uses) and
// every wake unparks it. Hosted (the parker allocates its state once, at
// construction); the freestanding executor itself stays in
// executor/static_executor.h. Rust: what `embassy_executor`'s std `Executor`
// does with its `Signaler` (a mutex and a condition variable).
//
// Costs: a wake adds one atomic swap (`Parker::unpark`), plus a futex wake
// system call only while the executor's thread is parked; an idle executor
// sleeps in one futex wait. One allocation per `ParkIdle`.
// Contract: only the executor's thread calls `wait`; any thread `notify`.
// A notify before a wait is not lost (the parker keeps one token), so the
// executor's check-then-sleep cannot miss a wake; a stale token only makes
// one wait return early (the executor re-checks).
//
// Example:
//
//   weft::StaticExecutor<8, weft::AtomicPolicy, weft::ParkIdle> executor;
//   weft::TaskStorage<Job> job;
//   auto h = executor.spawn(job, [&] { return make_job(); });
//   // other threads wake the task; this thread sleeps while nothing is ready
//   executor.run_until([&] { return h->is_finished(); });
//
#ifndef WEFT_EXECUTOR_STATIC_PARK_H_
#define WEFT_EXECUTOR_STATIC_PARK_H_

#include "executor/static_executor.h"
#include "future/internal/parker.h"

namespace weft {

// ParkIdle
//
// See the header comment. Not copyable or movable.
class ParkIdle {
 public:
  ParkIdle() = default;
  ParkIdle(const ParkIdle&) = delete;
  ParkIdle& operator=(const ParkIdle&) = delete;

  template <class HasWork>
  void wait(HasWork&& has_work) noexcept {
    if (!has_work()) parker_.park();
  }
  void notify() noexcept { parker_.unpark(); }

 private:
  future_internal::Parker parker_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_STATIC_PARK_H_
