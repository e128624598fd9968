// -----------------------------------------------------------------------------
// File: executor/thread_pool.h
// -----------------------------------------------------------------------------
//
// `ThreadPool`: the multi-threaded, work-stealing executor. Rust: tokio's
// multi-thread runtime (`Runtime::new()`, `spawn`, `block_on`,
// `shutdown_timeout`).
//
//   - `spawn(f)`: runs the future `f` on some worker; returns a
//     `JoinHandle<T>` (executor/join_handle.h): a future of the task's
//     `JoinResult<T>`, with `abort()` and `detach()`.
//   - `weft::spawn(f)` (free): the same from inside a task, onto the pool
//     running it (no pool reference needed).
//   - `block_on(f)`: polls `f` on the calling thread until it is ready (the
//     workers meanwhile run the spawned tasks); typically
//     `pool.block_on(pool.spawn(root()))`.
//   - `shutdown(timeout)`: waits up to `timeout` for every task to finish,
//     then cancels what is left and stops the workers; the destructor is
//     `shutdown(0)`.
//   - `counters()` (spawned, polled, stolen, parked), `dump()` (every live
//     task: id, spawn site, state), `live_tasks()`. A finishing task leaves
//     both just before its completion is published, so a task whose
//     JoinHandle returned is never listed.
//
// How it schedules (details in executor/internal/pool.h): each worker has a
// bounded ring (256 tasks; thieves take half of it in one claim) and a LIFO
// slot for the task just woken (or spawned) by the running task, so a
// message handed to a task is processed next, on the same core; remote
// wake-ups and ring overflow go through a global inject queue, checked
// every 61 ticks for fairness; idle workers steal from a random victim, at
// most half of the workers search at once, and a sleeping worker is woken
// only when nobody is searching (no thundering herd, no lost wake-up).
// Every poll gets a fresh cooperative `Budget` (future/context.h). Idle
// workers sleep on a pluggable `Park` (executor/park.h; futex by default;
// the reactor plugs in epoll/io_uring).
//
// Costs: one allocation per spawn (task header, future and output together:
// executor/internal/task.h); no allocation per poll or wake, except that the
// global queue (wakes and spawns from outside, local-queue overflow) grows
// by a 2 KiB block per 255 tasks beyond what it held before (it keeps one
// block and a spare when empty). Per worker: a ring of 256 pointers, a Park,
// a thread.
// Contract: the pool's methods are thread-safe, and tasks may spawn onto the
// pool. Futures passed to `spawn` may run on, and move between, any worker
// thread (between polls): everything they touch must be thread-safe.
// `block_on` and `shutdown`/the destructor must not be called from a worker
// thread of the same pool (hardening assert: it would deadlock). Exceptions
// escaping a task are stored in its `JoinResult` (`is_exception()`); the
// worker carries on.
// Cancellation: `shutdown` and the destructor cancel every task still alive
// (its future's destructor runs on the thread that shuts down; its handle
// yields `is_cancelled()`); spawns after shutdown return handles that are
// already cancelled. `JoinHandle::abort()` cancels one task at its next
// pending point.
//
// Example:
//
//   weft::ThreadPool pool(2);
//   weft::JoinHandle<int> h = pool.spawn(weft::ready(41));
//   weft::JoinResult<int> r = pool.block_on(std::move(h));
//   EXPECT_EQ(r.value() + 1, 42);
//
#ifndef WEFT_EXECUTOR_THREAD_POOL_H_
#define WEFT_EXECUTOR_THREAD_POOL_H_

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor/internal/pool.h"
#include "executor/join_handle.h"
#include "executor/park.h"
#include "executor/task_info.h"
#include "future/block_on.h"
#include "future/future.h"
#include "tools/base/assert.h"

namespace weft {

// ThreadPoolOptions
struct ThreadPoolOptions {
  // Worker threads; 0: one per hardware thread.
  std::size_t workers = 0;
  // Makes worker i's Park; empty: `ThreadPark` (a futex).
  std::function<std::unique_ptr<Park>(std::size_t worker)> make_park;
  // The LIFO slot (on by default; off: every wake goes to the back of a queue).
  bool lifo_slot = true;
  // Prefix of the worker threads' names ("weft-worker-0", ...).
  const char* thread_name = "weft-worker";
  // How long a worker that ran out of work keeps looking before it sleeps
  // (at most half the workers do; 0, the default: sleep at once, as tokio
  // does). Saves a futex wait/wake pair per task when work trickles in at a
  // steady rate; costs up to that much CPU each time a worker goes idle, and
  // hurts when the machine has no spare core (see thread_pool_benchmark.cc).
  std::chrono::nanoseconds spin_before_park = std::chrono::nanoseconds::zero();
};

// ThreadPool
//
// See the header comment. Not copyable or movable (workers hold its state).
class ThreadPool {
 public:
  // A pool of `workers` threads (0: one per hardware thread).
  explicit ThreadPool(std::size_t workers = 0) : ThreadPool(ThreadPoolOptions{.workers = workers}) {}

  explicit ThreadPool(ThreadPoolOptions options) {
    executor_internal::PoolConfig config;
    config.workers = options.workers != 0 ? options.workers : default_workers();
    config.make_park = std::move(options.make_park);
    config.lifo_slot = options.lifo_slot;
    config.thread_name = options.thread_name;
    config.spin_before_park = options.spin_before_park;
    sched_ = new executor_internal::PoolScheduler(std::move(config));
    try {
      sched_->start();
    } catch (...) {  // a thread could not be started: stop the others
      sched_->shutdown_now();
      sched_->release();
      throw;
    }
  }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  // Cancels every task still alive and joins the workers (`shutdown(0)`).
  ~ThreadPool() {
    sched_->shutdown_now();
    sched_->release();
  }

  // ThreadPool::spawn()
  //
  // Runs `f` on the pool. From a worker of this pool the task goes into that
  // worker's LIFO slot (it runs next, unless another worker steals it); from
  // elsewhere into the inject queue.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  JoinHandle<OutputOf<F>> spawn(F&& f, SpawnSite site = SpawnSite::current()) {
    return JoinHandle<OutputOf<F>>::from_raw(sched_->spawn(std::forward<F>(f), site, /*join_interest=*/true));
  }

  // ThreadPool::spawn_detached()
  //
  // `spawn(f).detach()` without the handle's reference count traffic.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  void spawn_detached(F&& f, SpawnSite site = SpawnSite::current()) {
    (void)sched_->spawn(std::forward<F>(f), site, /*join_interest=*/false);
  }

  // ThreadPool::block_on()
  //
  // Polls `f` on the calling thread until ready, sleeping between wakes
  // (future/block_on.h). Must not be called from a worker of this pool.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  OutputOf<F> block_on(F&& f) {
    WEFT_HARDENING_ASSERT(!sched_->current_worker().has_value(),
                          "ThreadPool::block_on called from one of the pool's own workers (it would "
                          "block a worker: await the future instead)");
    return weft::block_on(std::forward<F>(f));
  }

  // ThreadPool::shutdown()
  //
  // Waits up to `timeout` for every task to complete, then cancels the rest
  // (destructors run on this thread) and stops the workers. Returns true if
  // every task had completed by itself. Later spawns yield cancelled handles;
  // calling it again does nothing (and returns whether no task is left).
  bool shutdown(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
    const bool finished = sched_->wait_idle(std::chrono::steady_clock::now() + timeout);
    sched_->shutdown_now();
    return finished;
  }

  std::size_t num_workers() const noexcept { return sched_->num_workers(); }

  // The index of the worker running the caller, if it is one of this pool's.
  std::optional<std::size_t> current_worker() const noexcept { return sched_->current_worker(); }

  // Monotonic counters: spawned, polled, stolen, parked (summed over workers).
  ExecutorCounters counters() const { return sched_->counters(); }

  // Every live task (spawned, not yet completed): id, spawn site, state;
  // ordered by id. Locks each owned shard in turn (a snapshot per shard).
  std::vector<TaskInfo> dump() const { return sched_->dump(); }

  // How many tasks are alive (spawned and not completed).
  std::size_t live_tasks() const { return sched_->live_tasks(); }

 private:
  static std::size_t default_workers() noexcept {
    const unsigned n = std::thread::hardware_concurrency();
    return n == 0 ? 1 : n;
  }

  executor_internal::PoolScheduler* sched_;
};

// spawn(f)
//
// Spawns `f` onto the pool whose worker runs the caller (tokio's free
// `tokio::spawn`; on a ThreadPerCore core, onto that core): a task need not
// carry a reference to its pool. Hardening assert anywhere else: from a
// LocalExecutor task use `spawn_local(f)`; from outside, `pool.spawn(f)`.
template <class F>
  requires Future<std::remove_cvref_t<F>>
JoinHandle<OutputOf<F>> spawn(F&& f, SpawnSite site = SpawnSite::current()) {
  executor_internal::PoolWorker* w = executor_internal::tl_pool_worker;
  WEFT_HARDENING_ASSERT(w != nullptr,
                        "weft::spawn called outside a ThreadPool worker (use pool.spawn(f), or "
                        "spawn_local(f) on a LocalExecutor)");
  return JoinHandle<OutputOf<F>>::from_raw(w->pool->spawn(std::forward<F>(f), site, /*join_interest=*/true));
}

}  // namespace weft

#endif  // WEFT_EXECUTOR_THREAD_POOL_H_
