// -----------------------------------------------------------------------------
// File: executor/spawn_blocking.h
// -----------------------------------------------------------------------------
//
// `spawn_blocking(fn)`: runs a blocking function (file I/O without io_uring,
// a C library call, a long computation) on a separate, elastic pool of
// threads, so that it never stalls an executor's workers, and returns a
// `JoinHandle<T>` of its result that any task can await. Rust:
// `tokio::task::spawn_blocking` and tokio's `runtime/blocking/pool.rs`,
// whose design this follows.
//
//   - `BlockingPool pool(options)`; `pool.spawn_blocking(fn)`;
//     `pool.shutdown(timeout)`; the free function `spawn_blocking(fn)` uses a
//     process-wide pool created on first use.
//   - Elastic: a call is handed to an idle thread if there is one; else a new
//     thread is started, up to `max_threads` (then calls queue, FIFO); a
//     thread idle for `keep_alive` exits.
//   - `fn()` returning `void` gives a `JoinHandle<Unit>`; an exception thrown
//     by `fn` becomes the `JoinResult`'s error (the thread survives).
//
// The call runs as a weft task (executor/internal/task.h) whose future calls
// `fn` on its first poll, on a scheduler whose "queue" is this pool: so the
// colleague-built `JoinHandle` wraps it unchanged (abort, detach, is_finished).
//
// Costs: one allocation per call (the task); a mutex round trip, plus a
// condition-variable notify when an idle thread takes it, or a thread start
// (~10-50 us) when none is idle. Idle threads cost nothing but memory (their
// stacks), until they exit after `keep_alive`.
// Contract: thread-safe. `fn` must be callable once with no arguments and
// movable; it runs on another thread. Do not call `shutdown`/destroy the
// pool from one of its own threads (hardening assert).
// Cancellation: `abort()` before the call started cancels it (it never
// runs; the handle yields cancelled); once running it cannot be interrupted,
// and completes normally. `shutdown(timeout)` refuses new calls, cancels the
// queued ones, and waits up to `timeout` for the running ones (their threads
// are detached after that and finish on their own); the destructor waits
// without limit, like dropping a tokio runtime.
//
// Example:
//
//   weft::BlockingPool pool;
//   weft::JoinHandle<int> h = pool.spawn_blocking([] { return 6 * 7; });
//   EXPECT_EQ(weft::block_on(std::move(h)).value(), 42);
//
#ifndef WEFT_EXECUTOR_SPAWN_BLOCKING_H_
#define WEFT_EXECUTOR_SPAWN_BLOCKING_H_

#if defined(__linux__)
#include <pthread.h>
#endif

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <mutex>
#include <system_error>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor/internal/task.h"
#include "executor/internal/task_header.h"
#include "executor/join_handle.h"
#include "executor/task_info.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// BlockingPoolOptions
struct BlockingPoolOptions {
  // At most this many threads at once (tokio: 512).
  std::size_t max_threads = 512;
  // An idle thread exits after this long without work (tokio: 10 s).
  std::chrono::nanoseconds keep_alive = std::chrono::seconds(10);
  // Prefix of the threads' names ("weft-blocking-3").
  const char* thread_name = "weft-blocking";
};

// BlockingPoolCounters
struct BlockingPoolCounters {
  std::uint64_t spawned = 0;          // calls accepted
  std::uint64_t ran = 0;              // queued calls taken by a thread (an
                                      // aborted one is taken and cancelled)
  std::uint64_t threads_started = 0;  // threads created over the pool's life
  std::uint64_t thread_start_failures = 0;
  std::size_t threads = 0;       // alive now
  std::size_t idle_threads = 0;  // alive and waiting for work now
  std::size_t queued = 0;        // waiting for a thread now
};

namespace executor_internal {

// BlockingFn<Fn>: the future of one blocking call: calls `fn` on its first
// (and only) poll. Not cancel-safe in any useful sense: it never pends.
template <class Fn>
class BlockingFn {
  using Result = std::invoke_result_t<Fn&&>;
  static_assert(std::is_void_v<Result> || std::is_object_v<Result>,
                "spawn_blocking: the function must return void or an object type (not a reference)");

 public:
  using Output = std::conditional_t<std::is_void_v<Result>, Unit, Result>;
  static constexpr bool kUnpin = true;

  explicit BlockingFn(Fn fn) : fn_(std::move(fn)) {}

  Poll<Output> poll(Context&) {
    if constexpr (std::is_void_v<Result>) {
      std::invoke(std::move(fn_));
      return Unit{};
    } else {
      return std::invoke(std::move(fn_));
    }
  }

 private:
  Fn fn_;
};

// BlockingScheduler
//
// The pool proper (a Scheduler whose tasks poll once, on a thread of their
// own). Invariants, all guarded by `mu_`:
//   - `queue_` holds the (N) references of calls not yet started; a thread
//     pops one and runs it outside the lock;
//   - `num_idle_` counts threads waiting on `cv_` that nobody has claimed;
//     a spawn claims one by moving a count from `num_idle_` to
//     `num_notify_` and notifying; a woken thread that finds
//     `num_notify_ > 0` consumes one and goes to work; any other wake-up is
//     spurious (or a timeout, or shutdown);
//   - `threads_` holds the std::thread of every live thread, except one
//     that left on idle timeout, which parks its own handle in
//     `last_exiting_` for the next leaver (or shutdown) to join;
//   - each live thread holds one lifetime count of the scheduler (retain at
//     start, release as its last action).
class BlockingScheduler final : public Scheduler {
 public:
  explicit BlockingScheduler(BlockingPoolOptions o) : options_(o) {
    WEFT_HARDENING_ASSERT(options_.max_threads >= 1, "BlockingPool: max_threads must be at least 1");
  }

  template <class Fn>
  TaskHeader* spawn(Fn&& fn, SpawnSite site) {
    TaskHeader* t = new_task(BlockingFn<std::decay_t<Fn>>(std::forward<Fn>(fn)), this, site, true);
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) {
      lock.unlock();
      reject_task(t);
      return t;
    }
    owned_.push_back(t);
    spawned_ += 1;
    enqueue_locked(t);
    return t;
  }

  void schedule(TaskHeader* t, ScheduleHint) noexcept override {
    // Spawns queue directly; a blocking call never pends and `abort()` of a
    // queued or running call schedules nothing, so this is reached only by a
    // stray wake of the task's own waker: queue it like any notification (its
    // run then finds it complete or cancelled and just drops the reference).
    std::unique_lock<std::mutex> lock(mu_);
    if (shutdown_) {
      lock.unlock();
      t->drop_ref();
      return;
    }
    enqueue_locked(t);
  }

  bool unbind(TaskHeader* t) noexcept override {
    std::lock_guard<std::mutex> lock(mu_);
    return owned_.remove(t);
  }

  BlockingPoolCounters counters() const {
    std::lock_guard<std::mutex> lock(mu_);
    BlockingPoolCounters c;
    c.spawned = spawned_;
    c.ran = ran_;
    c.threads_started = threads_started_;
    c.thread_start_failures = thread_start_failures_;
    c.threads = num_threads_;
    c.idle_threads = num_idle_;
    c.queued = queue_.size();
    return c;
  }

  std::vector<TaskInfo> dump() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<TaskInfo> out;
    owned_.for_each([&](const TaskHeader& t) { out.push_back(t.info()); });
    return out;
  }

  // See BlockingPool::shutdown. `timeout == nanoseconds::max()`: no limit.
  bool shutdown(std::chrono::nanoseconds timeout) {
    const auto start = std::chrono::steady_clock::now();
    std::vector<Thread> threads;
    std::thread last;
    {
      std::lock_guard<std::mutex> lock(mu_);
      WEFT_HARDENING_ASSERT(!on_pool_thread(), "BlockingPool shut down from one of its own threads");
      if (shutdown_) return num_threads_ == 0;
      shutdown_ = true;
      threads.swap(threads_);
      last = std::move(last_exiting_);
    }
    cv_.notify_all();
    // Cancel the calls that did not start (a running one is only marked).
    for (;;) {
      TaskHeader* t;
      {
        std::lock_guard<std::mutex> lock(mu_);
        t = owned_.pop_front();
      }
      if (t == nullptr) break;
      t->shutdown();
    }
    for (;;) {
      TaskHeader* t;
      {
        std::lock_guard<std::mutex> lock(mu_);
        t = queue_.pop_front();
      }
      if (t == nullptr) break;
      t->drop_ref();
    }
    bool all_exited;
    {
      std::unique_lock<std::mutex> lock(mu_);
      auto exited = [&] { return num_threads_ == 0; };
      if (timeout == std::chrono::nanoseconds::max()) {
        exit_cv_.wait(lock, exited);
        all_exited = true;
      } else {
        all_exited = exit_cv_.wait_until(lock, start + timeout, exited);
      }
    }
    if (last.joinable()) last.join();  // it already left the pool's lock for good
    for (Thread& th : threads) {
      if (all_exited) {
        th.thread.join();
      } else {
        th.thread.detach();  // still running a call; it releases the pool when done
      }
    }
    return all_exited;
  }

 private:
  struct Thread {
    std::uint64_t id;
    std::thread thread;
  };

  ~BlockingScheduler() override = default;  // through Scheduler::release()

  inline static constinit thread_local const BlockingScheduler* tl_current = nullptr;
  bool on_pool_thread() const noexcept { return tl_current == this; }

  void enqueue_locked(TaskHeader* t) noexcept {
    queue_.push_back(t);
    if (num_idle_ > 0) {
      num_idle_ -= 1;
      num_notify_ += 1;
      cv_.notify_one();
      return;
    }
    if (num_threads_ < options_.max_threads) start_thread_locked();
    // else: all threads busy and at the cap; the first to finish takes it.
  }

  void start_thread_locked() noexcept {
    const std::uint64_t id = next_thread_id_++;
    retain();  // the thread's lifetime count
    try {
      threads_.push_back(Thread{id, std::thread([this, id] { thread_main(id); })});
      num_threads_ += 1;
      threads_started_ += 1;
    } catch (...) {
      // No thread (resource limits): the call stays queued; a running
      // thread takes it when it finishes, or the next spawn tries again.
      release();
      thread_start_failures_ += 1;
    }
  }

  void thread_main(std::uint64_t id) noexcept {
    tl_current = this;
#if defined(__linux__)
    char name[16];
    std::snprintf(name, sizeof(name), "%s-%llu", options_.thread_name, static_cast<unsigned long long>(id));
    pthread_setname_np(pthread_self(), name);
#endif
    std::thread to_join;
    {
      std::unique_lock<std::mutex> lock(mu_);
      for (;;) {
        // Busy: run queued calls (not after shutdown: those are cancelled).
        while (!shutdown_) {
          TaskHeader* t = queue_.pop_front();
          if (t == nullptr) break;
          ran_ += 1;
          lock.unlock();
          t->run();
          lock.lock();
        }
        if (shutdown_) break;
        // Idle: wait for a claim, a timeout or shutdown.
        num_idle_ += 1;
        bool leave = false;
        for (;;) {
          const bool timed_out = cv_.wait_for(lock, options_.keep_alive) == std::cv_status::timeout;
          if (num_notify_ > 0) {
            num_notify_ -= 1;  // claimed (the claimer decremented num_idle_)
            break;
          }
          if (shutdown_) {
            num_idle_ -= 1;
            leave = true;
            break;
          }
          if (timed_out) {
            num_idle_ -= 1;
            for (auto it = threads_.begin(); it != threads_.end(); ++it) {
              if (it->id == id) {
                to_join = std::exchange(last_exiting_, std::move(it->thread));
                threads_.erase(it);
                break;
              }
            }
            leave = true;
            break;
          }
          // Spurious: wait again.
        }
        if (leave) break;
      }
      num_threads_ -= 1;
      if (shutdown_ && num_threads_ == 0) exit_cv_.notify_all();
    }
    if (to_join.joinable()) to_join.join();
    tl_current = nullptr;
    release();  // may free the pool: nothing of `this` is touched after it
  }

  const BlockingPoolOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // idle threads wait here
  std::condition_variable exit_cv_;  // shutdown waits here for the last thread
  TaskQueue queue_;                  // guarded by mu_
  OwnedTaskList owned_;              // guarded by mu_
  std::vector<Thread> threads_;      // guarded by mu_
  std::thread last_exiting_;         // guarded by mu_
  std::size_t num_threads_ = 0;      // guarded by mu_
  std::size_t num_idle_ = 0;         // guarded by mu_
  std::size_t num_notify_ = 0;       // guarded by mu_
  bool shutdown_ = false;            // guarded by mu_
  std::uint64_t next_thread_id_ = 0;  // guarded by mu_
  std::uint64_t spawned_ = 0;         // guarded by mu_
  std::uint64_t ran_ = 0;             // guarded by mu_
  std::uint64_t threads_started_ = 0;        // guarded by mu_
  std::uint64_t thread_start_failures_ = 0;  // guarded by mu_
};

}  // namespace executor_internal

// BlockingPool
//
// See the header comment. Not copyable or movable.
class BlockingPool {
 public:
  explicit BlockingPool(BlockingPoolOptions options = {})
      : sched_(new executor_internal::BlockingScheduler(options)) {}
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  // Waits for every running call (no limit), cancels queued ones.
  ~BlockingPool() {
    sched_->shutdown(std::chrono::nanoseconds::max());
    sched_->release();
  }

  // BlockingPool::spawn_blocking()
  //
  // Runs `fn()` on one of the pool's threads; see the header comment.
  template <class Fn>
  auto spawn_blocking(Fn&& fn, SpawnSite site = SpawnSite::current()) {
    using Output = typename executor_internal::BlockingFn<std::decay_t<Fn>>::Output;
    return JoinHandle<Output>::from_raw(sched_->spawn(std::forward<Fn>(fn), site));
  }

  // BlockingPool::shutdown()
  //
  // Refuses new calls (their handles yield cancelled), cancels the queued
  // ones, waits up to `timeout` for the running ones. True if every thread
  // exited in time (else they are detached and finish on their own).
  bool shutdown(std::chrono::nanoseconds timeout) { return sched_->shutdown(timeout); }

  BlockingPoolCounters counters() const { return sched_->counters(); }

  // Calls not yet finished (queued or running).
  std::vector<TaskInfo> dump() const { return sched_->dump(); }

 private:
  executor_internal::BlockingScheduler* sched_;
};

// The process-wide pool behind `spawn_blocking(fn)`: default options,
// created on first use and never destroyed (its idle threads exit after the
// keep-alive; a call still running at process exit is not waited for).
inline BlockingPool& default_blocking_pool() {
  static BlockingPool* pool = new BlockingPool();
  return *pool;
}

// spawn_blocking(fn)
//
// `default_blocking_pool().spawn_blocking(fn)`.
template <class Fn>
auto spawn_blocking(Fn&& fn, SpawnSite site = SpawnSite::current()) {
  return default_blocking_pool().spawn_blocking(std::forward<Fn>(fn), site);
}

}  // namespace weft

#endif  // WEFT_EXECUTOR_SPAWN_BLOCKING_H_
