// -----------------------------------------------------------------------------
// File: executor/local_executor.h
// -----------------------------------------------------------------------------
//
// `LocalExecutor`: a single-thread executor. Tasks run only on the thread that
// drives it, so their futures need not be thread-safe; their wakers may still
// be woken from any thread. Rust: `tokio::task::LocalSet` on a current-thread
// runtime, `futures::executor::LocalPool`.
//
//   spawn_local(f)        -> JoinHandle<T>: queue `f` as a task (owner thread).
//   weft::spawn_local(f)  the same on the executor running this thread.
//   run_until(f) / block_on(f)
//                         drive the executor until `f` (polled in place on this
//                         thread, not spawned: it may borrow) is Ready; return
//                         its output. Sleeps (Park) when nothing is ready.
//   run_until_stalled()   run until no task is ready (never sleeps).
//   shutdown(timeout)     run until every task finished or `timeout` passed,
//                         then cancel the rest; true if all finished.
//   ~LocalExecutor()      cancels every task still alive: their futures'
//                         destructors run here; handles yield "cancelled".
//   dump(), counters(), live_tasks()   introspection.
//
// Scheduling: a FIFO of ready tasks; each poll gets a fresh cooperative
// `Budget`; a task that woke itself during its poll goes to the back. Wakes
// from other threads go to a mutex-protected remote queue and unpark the
// thread through the `Park` seam (executor/park.h; a futex by default, the
// reactor's epoll/io_uring later), so an idle executor sleeps without
// spinning. The remote queue is drained every 31 polls and whenever the local
// queue is empty. `block_on`'s root future is re-polled only when woken.
//
// Costs: one allocation per spawn (the task: header 80 bytes + the future);
// nothing per poll or per local wake. A wake from another thread takes the
// mutex and costs a futex wake only when the thread sleeps.
// Contract:
//   - Immovable. Every member function must be called on one thread (the
//     owner), except that wakers and JoinHandles may travel anywhere. Tasks
//     are polled on the thread that calls run_until/block_on/
//     run_until_stalled/shutdown.
//   - run_until is not re-entrant on the same executor (calling it from one of
//     its own tasks is a contract violation); running another executor inside
//     a task is allowed.
//   - Spawns after shutdown return handles that yield "cancelled".
// Cancellation: destroying the executor cancels all tasks (their futures are
// destroyed on this thread, in spawn order); memory is freed as soon as the
// last JoinHandle/waker of each task is gone. A future being driven by
// run_until is the caller's: destroying it is the caller's business.
//
// Example:
//
//   weft::LocalExecutor ex;
//   auto h = ex.spawn_local(weft::map(weft::ready(20), [](int x) { return x + 1; }));
//   int v = ex.block_on(weft::map(std::move(h), [](weft::JoinResult<int> r) {
//     return r.value() * 2;
//   }));
//   EXPECT_EQ(v, 42);
//
#ifndef WEFT_EXECUTOR_LOCAL_EXECUTOR_H_
#define WEFT_EXECUTOR_LOCAL_EXECUTOR_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor/internal/sync.h"
#include "executor/internal/task.h"
#include "executor/join_handle.h"
#include "executor/park.h"
#include "executor/task_info.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

class LocalExecutor;

namespace executor_internal {

// ReadyQueue: FIFO of (N) references, or, when seeded (deterministic mode), a
// set from which a seeded generator picks the next task.
class ReadyQueue {
 public:
  void set_seed(std::uint64_t seed) noexcept {
    seeded_ = true;
    rng_ = seed;
  }
  bool seeded() const noexcept { return seeded_; }
  bool empty() const noexcept { return seeded_ ? set_.empty() : fifo_.empty(); }
  std::size_t size() const noexcept { return seeded_ ? set_.size() : fifo_.size(); }

  [[gnu::always_inline]] void push(TaskHeader* t) {
    if (seeded_) {
      push_seeded(t);
    } else {
      fifo_.push_back(t);
    }
  }
  void splice(TaskQueue& q) {
    if (!seeded_) {
      fifo_.splice_back(q);
      return;
    }
    while (TaskHeader* t = q.pop_front()) set_.push_back(t);
  }
  [[gnu::always_inline]] TaskHeader* pop() noexcept {
    if (!seeded_) return fifo_.pop_front();
    return pop_seeded();
  }

 private:
  [[gnu::noinline]] void push_seeded(TaskHeader* t) { set_.push_back(t); }
  [[gnu::noinline]] TaskHeader* pop_seeded() noexcept {
    if (set_.empty()) return nullptr;
    const std::size_t i = static_cast<std::size_t>(next_random() % set_.size());
    TaskHeader* t = set_[i];
    set_[i] = set_.back();
    set_.pop_back();
    return t;
  }

  // splitmix64: small, fast, and the same sequence everywhere.
  std::uint64_t next_random() noexcept {
    std::uint64_t z = (rng_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }

  TaskQueue fifo_;
  std::vector<TaskHeader*> set_;
  std::uint64_t rng_ = 0;
  bool seeded_ = false;
};

class LocalScheduler;
inline constinit thread_local LocalScheduler* tl_local_scheduler = nullptr;

// LocalScheduler: the shared state of a LocalExecutor (reference counted by
// the executor, every task and every root waker; see task_header.h).
//
// Invariants: `ready_`, `owned_`, `counters_`, `closed_` belong to the owner
// thread. `remote_` and `remote_closed_` are guarded by `mu_`;
// `remote_pending_` mirrors "remote_ is not empty" (set under `mu_`, read
// without it as a hint). `root_woken_` is set by the root waker from other
// threads and consumed by the owner; `root_woken_local_` by the owner's own
// wakes. Orderings: a remote push is published by
// the mutex; `root_woken_` is an acq_rel exchange / release store; the Park's
// token makes a wake between "no work" and "park" return the park at once.
//
// Lifetime count (task_header.h): references taken and dropped on the owner
// thread while it drives the executor are counted in `local_refs_` without
// atomics; the others go to the atomic `refs_`, which carries a bias of
// `kBias` while the executor lives so that releases from other threads (of
// references taken locally) cannot reach zero. `unbias()` (executor
// destruction, owner thread, outside any run) folds `local_refs_` into
// `refs_` and removes the bias; after it every count is atomic.
class LocalScheduler final : public Scheduler {
 public:
  explicit LocalScheduler(std::unique_ptr<Park> park)
      : park_(std::move(park)), unpark_(&park_->unparker()) {
    refs_.fetch_add(kBias, std::memory_order_relaxed);
  }

  void retain() noexcept override {
    if (tl_local_scheduler == this) {
      local_refs_ += 1;
    } else {
      Scheduler::retain();
    }
  }
  void release() noexcept override {
    if (tl_local_scheduler == this) {
      local_refs_ -= 1;
    } else {
      Scheduler::release();
    }
  }
  // Executor destruction (owner thread, not inside a run): see above. The
  // executor's own count is still held afterwards (release() it).
  void unbias() noexcept {
    WEFT_ASSERT(tl_local_scheduler != this, "LocalScheduler::unbias inside a run");
    const std::int64_t delta = static_cast<std::int64_t>(kBias) - local_refs_;
    local_refs_ = 0;
    refs_.fetch_sub(static_cast<std::size_t>(delta), std::memory_order_acq_rel);
  }

  // ---- Scheduler -----------------------------------------------------------
  void schedule(TaskHeader* t, ScheduleHint) noexcept override {
    if (tl_local_scheduler == this) {
      ready_.push(t);
      return;
    }
    schedule_remote(t);
  }
  bool unbind(TaskHeader* t) noexcept override { return owned_.remove(t); }

  // ---- owner thread --------------------------------------------------------
  template <class F>
  TaskHeader* spawn(F&& f, SpawnSite site, bool join_interest) {
    TaskHeader* t = new_task(std::forward<F>(f), this, site, join_interest);
    counters_.spawned += 1;
    if (closed_) {
      reject_task(t);
    } else {
      owned_.push_back(t);
      ready_.push(t);
    }
    return t;
  }

  // Runs up to `max` ready tasks; returns how many ran. (A root wake does
  // not cut the batch short: like tokio, the root is polled between batches,
  // so a root that awaits many tasks finds them finished in bulk.)
  // (Forced inline: it is the executor's inner loop, and GCC otherwise keeps
  // it out of line beside a coroutine root's poll in `run_until`, which costs
  // a call, spills and reloads per batch: about 30 instructions per
  // request/reply round trip.)
  [[gnu::always_inline]] inline std::size_t run_batch(std::size_t max) noexcept {
    std::size_t n = 0;
    std::size_t until_remote = kRemoteInterval - 1;  // a countdown, not n % 31
    while (n < max) {
      if (until_remote == 0) {
        drain_remote();
        until_remote = kRemoteInterval;
      }
      TaskHeader* t = ready_.pop();
      if (t == nullptr) {
        if (!drain_remote()) break;
        continue;
      }
      counters_.polled += 1;
      t->run();
      n += 1;
      until_remote -= 1;
    }
    return n;
  }

  // Moves remote wakes into the ready queue; true if there were any. (The
  // flag test is inlined: the run loop asks whenever its queue runs dry.)
  [[gnu::always_inline]] bool drain_remote() noexcept {
    if (!remote_pending_.load(std::memory_order_acquire)) return false;
    return drain_remote_slow();
  }
  [[gnu::noinline]] bool drain_remote_slow() noexcept {
    TaskQueue q;
    {
      Lock lock(mu_);
      q.splice_back(remote_);
      remote_pending_.store(false, std::memory_order_relaxed);
    }
    const bool any = !q.empty();
    ready_.splice(q);
    return any;
  }

  bool has_ready(bool watch_root) const noexcept {
    return !ready_.empty() || remote_pending_.load(std::memory_order_acquire) ||
           (watch_root && (root_woken_local_ || root_woken_.load(std::memory_order_acquire)));
  }

  // Sleeps until a wake arrives (or `timeout`, if given); returns at once if
  // work is already there. (A stale root wake can make it return early; the
  // callers loop.)
  void park(const std::chrono::nanoseconds* timeout, bool watch_root) noexcept {
    if (has_ready(watch_root)) return;
    counters_.parked += 1;
    if (timeout == nullptr) {
      park_->park();
    } else {
      park_->park_timeout(*timeout);
    }
  }

  // Consumes a root wake: the owner thread's own wakes set a plain flag; only
  // wakes from other threads cost an atomic exchange here.
  bool take_root_wake() noexcept {
    bool woken = std::exchange(root_woken_local_, false);
    if (root_woken_.load(std::memory_order_relaxed)) {
      woken |= root_woken_.exchange(false, std::memory_order_acq_rel);
    }
    return woken;
  }
  void set_root_woken() noexcept { root_woken_.store(true, std::memory_order_release); }
  void set_root_woken_local() noexcept { root_woken_local_ = true; }

  // Cancels every task and refuses new ones (idempotent).
  void close() noexcept {
    closed_ = true;
    {
      Lock lock(mu_);
      remote_closed_ = true;
    }
    for (;;) {
      bool any = false;
      while (TaskHeader* t = owned_.pop_front()) {
        t->shutdown();
        any = true;
      }
      while (TaskHeader* t = ready_.pop()) {
        t->drop_ref();
        any = true;
      }
      TaskQueue q;
      {
        Lock lock(mu_);
        q.splice_back(remote_);
        remote_pending_.store(false, std::memory_order_relaxed);
      }
      while (TaskHeader* t = q.pop_front()) {
        t->drop_ref();
        any = true;
      }
      if (!any) break;
    }
  }

  bool closed() const noexcept { return closed_; }
  std::size_t live_tasks() const noexcept { return owned_.size(); }
  ExecutorCounters counters() const noexcept { return counters_; }
  std::vector<TaskInfo> dump() const {
    std::vector<TaskInfo> out;
    out.reserve(owned_.size());
    owned_.for_each([&](const TaskHeader& t) { out.push_back(t.info()); });
    return out;
  }
  void set_seed(std::uint64_t seed) noexcept { ready_.set_seed(seed); }
  bool deterministic() const noexcept { return ready_.seeded(); }

  // The root future's waker (one lifetime count per clone).
  Waker root_waker() noexcept {
    retain();
    return Waker::from_raw(RawWaker{this, &kRootVTable});
  }

 private:
  static constexpr std::size_t kRemoteInterval = 31;
  static constexpr std::size_t kBias = std::size_t{1} << 60;

  void schedule_remote(TaskHeader* t) noexcept {
    {
      Lock lock(mu_);
      if (!remote_closed_) {
        remote_.push_back(t);
        remote_pending_.store(true, std::memory_order_release);
        t = nullptr;
      }
    }
    if (t != nullptr) {
      t->drop_ref();  // executor gone: the task is (or is being) cancelled
      return;
    }
    unpark_->unpark();
  }

  static LocalScheduler* self(const void* p) noexcept {
    return static_cast<LocalScheduler*>(const_cast<void*>(p));
  }
  static RawWaker root_clone(const void* p) noexcept {
    self(p)->retain();
    return RawWaker{p, &kRootVTable};
  }
  static void root_wake_by_ref(const void* p) noexcept {
    LocalScheduler* s = self(p);
    if (tl_local_scheduler == s) {
      s->set_root_woken_local();
      return;
    }
    s->set_root_woken();
    s->unpark_->unpark();
  }
  static void root_wake(const void* p) noexcept {
    root_wake_by_ref(p);
    self(p)->release();
  }
  static void root_drop(const void* p) noexcept { self(p)->release(); }
  static constexpr RawWakerVTable kRootVTable = {&root_clone, &root_wake, &root_wake_by_ref, &root_drop};

  // Owner thread.
  std::int64_t local_refs_ = 0;
  bool root_woken_local_ = false;
  ReadyQueue ready_;
  OwnedTaskList owned_;
  ExecutorCounters counters_;
  bool closed_ = false;
  // Shared.
  std::unique_ptr<Park> park_;
  Unpark* unpark_;
  Mutex mu_;
  TaskQueue remote_;
  bool remote_closed_ = false;
  Atomic<bool> remote_pending_{false};
  Atomic<bool> root_woken_{false};
};

// Makes `s` the executor of this thread for a scope.
class EnterLocal {
 public:
  explicit EnterLocal(LocalScheduler* s) noexcept : saved_(tl_local_scheduler) { tl_local_scheduler = s; }
  EnterLocal(const EnterLocal&) = delete;
  EnterLocal& operator=(const EnterLocal&) = delete;
  ~EnterLocal() { tl_local_scheduler = saved_; }

 private:
  LocalScheduler* saved_;
};

inline constinit thread_local LocalExecutor* tl_local_executor = nullptr;

}  // namespace executor_internal

// LocalExecutor
//
// See the header comment. Not copyable or movable.
class LocalExecutor {
 public:
  LocalExecutor() : LocalExecutor(std::make_unique<ThreadPark>()) {}
  // Sleeps on `park` when idle (the reactor's Park, for instance).
  explicit LocalExecutor(std::unique_ptr<Park> park)
      : sched_(new executor_internal::LocalScheduler(std::move(park))) {}
  LocalExecutor(const LocalExecutor&) = delete;
  LocalExecutor& operator=(const LocalExecutor&) = delete;
  ~LocalExecutor() {
    {
      Enter enter(this);
      sched_->close();
    }
    sched_->unbias();
    sched_->release();
  }

  // LocalExecutor::spawn_local()
  //
  // Queues `f` (a Future, moved in) as a task of this executor; it runs when
  // the executor is driven. Owner thread only.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  JoinHandle<OutputOf<F>> spawn_local(F&& f, SpawnSite site = SpawnSite::current()) {
    return JoinHandle<OutputOf<F>>::from_raw(sched_->spawn(std::forward<F>(f), site, true));
  }

  // Spawns without a JoinHandle (cheaper than dropping one).
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  void spawn_detached(F&& f, SpawnSite site = SpawnSite::current()) {
    (void)sched_->spawn(std::forward<F>(f), site, false);
  }

  // LocalExecutor::run_until()
  //
  // Drives the tasks until `f` is Ready and returns its output. `f` is polled
  // on this thread, in place, with a fresh Budget per poll, only when woken.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  OutputOf<F> run_until(F&& f) {
    WEFT_ASSERT(executor_internal::tl_local_scheduler != sched_,
                "LocalExecutor::run_until called from inside one of its own tasks");
    Enter enter(this);
    const Waker waker = sched_->root_waker();
    sched_->set_root_woken_local();
    for (;;) {
      if (sched_->take_root_wake()) {
        Budget budget;
        Context cx(waker, &budget);
        Poll<OutputOf<F>> p = f.poll(cx);
        if (p.is_ready()) return std::move(p).value();
      }
      if (sched_->run_batch(kBatch) == 0) sched_->park(nullptr, true);
    }
  }

  // Same as `run_until` (tokio's `Runtime::block_on` spelling).
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  OutputOf<F> block_on(F&& f) {
    return run_until(std::forward<F>(f));
  }

  // LocalExecutor::run_until_stalled()
  //
  // Runs tasks until none is ready (wakes from other threads that arrived
  // are included); never sleeps. Returns the number of polls made.
  std::size_t run_until_stalled() {
    WEFT_ASSERT(executor_internal::tl_local_scheduler != sched_,
                "LocalExecutor::run_until_stalled called from inside one of its own tasks");
    Enter enter(this);
    std::size_t total = 0;
    for (;;) {
      const std::size_t n = sched_->run_batch(kBatch);
      if (n == 0) return total;
      total += n;
    }
  }

  // LocalExecutor::shutdown()
  //
  // Runs the tasks until all have finished or `timeout` has passed (sleeping
  // while none is ready), then cancels the rest and refuses new spawns.
  // Returns true if every task finished by itself.
  bool shutdown(std::chrono::nanoseconds timeout) {
    WEFT_ASSERT(executor_internal::tl_local_scheduler != sched_,
                "LocalExecutor::shutdown called from inside one of its own tasks");
    Enter enter(this);
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (sched_->live_tasks() != 0) {
      if (sched_->run_batch(kBatch) != 0) continue;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::nanoseconds(0)) break;
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left);
      sched_->park(&ns, false);
    }
    const bool all = sched_->live_tasks() == 0;
    sched_->close();
    return all;
  }

  // Tasks spawned and not yet finished (or cancelled).
  std::size_t live_tasks() const noexcept { return sched_->live_tasks(); }

  // LocalExecutor::dump()
  //
  // Every live task, in spawn order: id, spawn site, running/scheduled/idle.
  // (`format_task_dump(ex.dump())` renders it.)
  std::vector<TaskInfo> dump() const { return sched_->dump(); }

  ExecutorCounters counters() const noexcept { return sched_->counters(); }

  // The executor driving this thread right now (inside run_until & co.), or
  // nullptr.
  static LocalExecutor* current() noexcept { return executor_internal::tl_local_executor; }

 protected:
  // DeterministicExecutor: the ready task to run next is picked by a seeded
  // generator instead of FIFO order.
  void set_seed(std::uint64_t seed) noexcept { sched_->set_seed(seed); }

 private:
  static constexpr std::size_t kBatch = 61;  // tokio's event_interval

  class Enter {
   public:
    explicit Enter(LocalExecutor* ex) noexcept
        : scheduler_(ex->sched_), saved_(executor_internal::tl_local_executor) {
      executor_internal::tl_local_executor = ex;
    }
    ~Enter() { executor_internal::tl_local_executor = saved_; }
    Enter(const Enter&) = delete;
    Enter& operator=(const Enter&) = delete;

   private:
    executor_internal::EnterLocal scheduler_;
    LocalExecutor* saved_;
  };

  executor_internal::LocalScheduler* sched_;
};

// spawn_local(f)
//
// Spawns `f` on the LocalExecutor running this thread (contract violation
// when there is none). Rust: `tokio::task::spawn_local`.
template <class F>
  requires Future<std::remove_cvref_t<F>>
JoinHandle<OutputOf<F>> spawn_local(F&& f, SpawnSite site = SpawnSite::current()) {
  LocalExecutor* ex = LocalExecutor::current();
  WEFT_HARDENING_ASSERT(ex != nullptr, "weft::spawn_local called outside of a LocalExecutor");
  return ex->spawn_local(std::forward<F>(f), site);
}

}  // namespace weft

#endif  // WEFT_EXECUTOR_LOCAL_EXECUTOR_H_
