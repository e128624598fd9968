// -----------------------------------------------------------------------------
// File: executor/thread_per_core.h
// -----------------------------------------------------------------------------
//
// `ThreadPerCore`: N independent single-thread executors, one per core, each
// on its own thread pinned to its CPU, for shared-nothing services: a task
// spawned on core i runs on core i for its whole life (no stealing, no
// migration), and `spawn_on(core, f)` is the cheap way to hand work to
// another core. Rust: glommio's / Seastar's executors-per-core, tokio's
// `LocalSet` per thread; monoio.
//
//   - `spawn_on(core, f)`: runs `f` on `core`; from that core itself the task
//     goes into its LIFO slot (it runs next), from anywhere else into the
//     core's inbox (a mutex-protected MPSC queue) and the core is unparked
//     if it sleeps. Returns a `JoinHandle<T>`.
//   - `spawn_local(f)`: `spawn_on(current_core(), f)`; only on a core.
//   - `current_core()`: the core running the caller, if any.
//   - `block_on(f)`, `shutdown(timeout)`, `counters(core)`, `dump()`,
//     `pin_failures()`.
//
// Each core is the pool scheduler of executor/internal/pool.h with one
// worker: a local ring + LIFO slot for work created on the core, an inject
// queue as its inbox, a `Park` (futex by default; the reactor can plug in
// one io_uring per core). Pinning uses `pthread_setaffinity_np` to the i-th
// CPU the process may run on; a core whose pinning fails (a restricted
// cpuset, or not Linux) still runs, unpinned, and is counted in
// `pin_failures()`.
//
// Costs: per spawn one allocation (the task); `spawn_on` another core: one
// mutex round trip on its inbox and, if it sleeps, one futex wake. Per core:
// a thread, a ring of 256 pointers, a Park.
// Contract: the methods are thread-safe. The future given to `spawn_on` is
// built on the calling thread and moved once, into its task; after that it
// is polled, woken and destroyed (on shutdown: by the thread that shuts
// down) without ever being polled on another core, so its state need not be
// thread-safe beyond that one hand-over. Wakers may be woken from any
// thread. `block_on`/`shutdown`/the destructor must not be called on a core.
// Cancellation: as `ThreadPool`: shutdown and the destructor cancel every
// task still alive; spawns after shutdown return cancelled handles.
//
// Example:
//
//   weft::ThreadPerCore cores(2);
//   auto h = cores.spawn_on(1, weft::lazy([&] { return *cores.current_core(); }));
//   EXPECT_EQ(cores.block_on(std::move(h)).value(), 1u);
//
#ifndef WEFT_EXECUTOR_THREAD_PER_CORE_H_
#define WEFT_EXECUTOR_THREAD_PER_CORE_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
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

// ThreadPerCoreOptions
struct ThreadPerCoreOptions {
  // Number of cores (executors); 0: one per hardware thread.
  std::size_t cores = 0;
  // Pin core i's thread to the i-th allowed CPU.
  bool pin = true;
  // Makes core i's Park; empty: `ThreadPark` (a futex).
  std::function<std::unique_ptr<Park>(std::size_t core)> make_park;
  // Prefix of the threads' names ("weft-core-0", ...).
  const char* thread_name = "weft-core";
  // How long an idle core keeps looking at its inbox before it sleeps (0,
  // the default: sleep at once). See ThreadPoolOptions::spin_before_park.
  std::chrono::nanoseconds spin_before_park = std::chrono::nanoseconds::zero();
};

// ThreadPerCore
//
// See the header comment. Not copyable or movable.
class ThreadPerCore {
 public:
  explicit ThreadPerCore(std::size_t cores = 0) : ThreadPerCore(ThreadPerCoreOptions{.cores = cores}) {}

  explicit ThreadPerCore(ThreadPerCoreOptions options) {
    std::size_t n = options.cores;
    if (n == 0) {
      const unsigned hw = std::thread::hardware_concurrency();
      n = hw == 0 ? 1 : hw;
    }
    cores_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      executor_internal::PoolConfig config;
      config.workers = 1;
      if (options.make_park) {
        config.make_park = [make = options.make_park, i](std::size_t) { return make(i); };
      }
      if (options.pin) config.pin_cpus = {static_cast<int>(i)};
      config.thread_name = options.thread_name;
      config.name_offset = i;
      config.spin_before_park = options.spin_before_park;
      cores_.push_back(new executor_internal::PoolScheduler(std::move(config)));
    }
    try {
      for (auto* c : cores_) c->start();
    } catch (...) {  // a thread could not be started: stop the others
      stop_and_cancel();
      for (auto* c : cores_) c->release();
      throw;
    }
  }

  ThreadPerCore(const ThreadPerCore&) = delete;
  ThreadPerCore& operator=(const ThreadPerCore&) = delete;

  // Cancels every task still alive and joins the cores' threads.
  ~ThreadPerCore() {
    stop_and_cancel();
    for (auto* c : cores_) c->release();
  }

  std::size_t num_cores() const noexcept { return cores_.size(); }

  // ThreadPerCore::spawn_on()
  //
  // Runs `f` on `core` (< num_cores()). See the header comment.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  JoinHandle<OutputOf<F>> spawn_on(std::size_t core, F&& f, SpawnSite site = SpawnSite::current()) {
    WEFT_HARDENING_ASSERT(core < cores_.size(), "ThreadPerCore::spawn_on: no such core");
    return JoinHandle<OutputOf<F>>::from_raw(cores_[core]->spawn(std::forward<F>(f), site, true));
  }

  // `spawn_on(core, f).detach()` without the handle.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  void spawn_on_detached(std::size_t core, F&& f, SpawnSite site = SpawnSite::current()) {
    WEFT_HARDENING_ASSERT(core < cores_.size(), "ThreadPerCore::spawn_on_detached: no such core");
    (void)cores_[core]->spawn(std::forward<F>(f), site, false);
  }

  // ThreadPerCore::spawn_local()
  //
  // Runs `f` on the core the caller runs on (hardening assert: the caller
  // must be one of this executor's cores).
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  JoinHandle<OutputOf<F>> spawn_local(F&& f, SpawnSite site = SpawnSite::current()) {
    const std::optional<std::size_t> core = current_core();
    WEFT_HARDENING_ASSERT(core.has_value(), "ThreadPerCore::spawn_local called outside of the executor's cores");
    return spawn_on(*core, std::forward<F>(f), site);
  }

  // The core running the caller, or nothing on any other thread.
  std::optional<std::size_t> current_core() const noexcept {
    executor_internal::PoolWorker* w = executor_internal::tl_pool_worker;
    if (w == nullptr) return std::nullopt;
    for (std::size_t i = 0; i < cores_.size(); ++i) {
      if (w->pool == cores_[i]) return i;
    }
    return std::nullopt;
  }

  // Polls `f` on the calling thread (which must not be a core) until ready.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  OutputOf<F> block_on(F&& f) {
    WEFT_HARDENING_ASSERT(!current_core().has_value(),
                          "ThreadPerCore::block_on called on one of its cores (it would block the core)");
    return weft::block_on(std::forward<F>(f));
  }

  // ThreadPerCore::shutdown()
  //
  // Waits up to `timeout` for every task on every core to complete, then
  // cancels the rest and stops the cores. True if every task had completed.
  bool shutdown(std::chrono::nanoseconds timeout = std::chrono::nanoseconds::zero()) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    bool finished = true;
    for (auto* c : cores_) finished = c->wait_idle(deadline) && finished;
    stop_and_cancel();
    return finished;
  }

  // Counters of one core, or summed over all cores (stolen is always 0).
  ExecutorCounters counters(std::size_t core) const { return cores_.at(core)->counters(); }
  ExecutorCounters counters() const {
    ExecutorCounters sum;
    for (auto* c : cores_) {
      const ExecutorCounters x = c->counters();
      sum.spawned += x.spawned;
      sum.polled += x.polled;
      sum.stolen += x.stolen;
      sum.parked += x.parked;
    }
    return sum;
  }

  // Cores whose thread could not be pinned to its CPU.
  std::uint64_t pin_failures() const noexcept {
    std::uint64_t n = 0;
    for (auto* c : cores_) n += c->pin_failures();
    return n;
  }

  // Every live task of every core, core by core (each ordered by id).
  std::vector<TaskInfo> dump() const {
    std::vector<TaskInfo> out;
    for (auto* c : cores_) {
      std::vector<TaskInfo> d = c->dump();
      out.insert(out.end(), d.begin(), d.end());
    }
    return out;
  }
  std::vector<TaskInfo> dump(std::size_t core) const { return cores_.at(core)->dump(); }

  std::size_t live_tasks() const {
    std::size_t n = 0;
    for (auto* c : cores_) n += c->live_tasks();
    return n;
  }

 private:
  // Every core stops running tasks before any task is cancelled: a task on
  // one core never sees a task it awaits on another core cancelled under it
  // while it still runs.
  void stop_and_cancel() noexcept {
    for (auto* c : cores_) c->stop_workers();
    for (auto* c : cores_) c->cancel_all();
  }

  std::vector<executor_internal::PoolScheduler*> cores_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_THREAD_PER_CORE_H_
