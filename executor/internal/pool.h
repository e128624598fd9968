// -----------------------------------------------------------------------------
// File: executor/internal/pool.h
// -----------------------------------------------------------------------------
//
// `PoolScheduler`: the multi-threaded scheduler under `ThreadPool`
// (executor/thread_pool.h) and, with one worker per scheduler, under
// `ThreadPerCore` (executor/thread_per_core.h). Rust: tokio's
// `runtime/scheduler/multi_thread/{worker.rs, handle.rs}`. Not API.
//
// Pieces (each documented in its own header):
//   - per worker: a `LocalQueue` (bounded ring, thieves take half;
//     local_queue.h), a LIFO slot (owner only), a `Park` (executor/park.h);
//   - an `InjectQueue` for tasks scheduled from outside the workers and for
//     local-queue overflow (inject_queue.h);
//   - `Idle`: which sleeping worker to wake (idle.h, tokio's protocol);
//   - the owned-task list (task_header.h), sharded by task id (consecutive
//     spawns go to different shards, so a spawn and a completion on two
//     workers rarely meet on one lock), each shard under a `SpinLock`
//     (tools/base/sync.h; a pthread mutex's lock+unlock pair showed as
//     ~15% of spawn+join under perf). A task spawned on a worker goes on
//     it at once; one spawned from outside (FROM_OUTSIDE, task_header.h)
//     waits in the inject queue unowned, and the worker that first takes
//     it from there puts it on (`bind`): the spawning thread then takes one
//     lock per task, not two, and touches no shard line that the workers
//     write (perf, a batch from outside on 2 workers: the two spin locks
//     were 27% of the spawning thread's time, half of it the shard's; the
//     inject queue holds pointers, so a worker's batch is a copy under its
//     lock, not a walk over the tasks).
//     Until then it is counted (under the inject lock) for `live_tasks()`
//     and `counters()`, and listed by `dump()` from the inject queue;
//   - the scheduler's lifetime count: every task holds one, but a worker
//     takes them from the shared word 64 at a time and keeps the counts that
//     tasks freed on it give back, so spawn and free on a worker touch no
//     shared word for it.
//
// Where a scheduled task goes (`schedule(task, hint)`):
//   - on one of this scheduler's worker threads, hint kWake (a task woke
//     another, or spawned one): into the LIFO slot; the task it displaces
//     goes to the back of the local queue. So a message passed to a task
//     runs next, on the same core, with warm caches (tokio's LIFO
//     optimisation);
//   - on a worker thread, hint kYield (woken during its own poll): the back
//     of the local queue;
//   - from any other thread: the inject queue, then notify (wake a sleeping
//     worker if nobody searches: idle.h).
//   A push to a worker's own queue notifies only when the queue was empty
//   (or overflowed): its owner is awake and runs it anyway, so the
//   notification is about parallelism only, and one per refill suffices.
//   A yielded task and a task spilled from the LIFO slot (below) notify
//   nobody even then: the worker looks at its queue right after.
//   tokio notifies on every push, a read-modify-write of the shared idle
//   word per spawn.
//
// A worker's loop (one "tick" per task):
//   1. every 61st tick look at the inject queue first (fairness for remote
//      work), else: LIFO slot, local queue, then a batch from the inject
//      queue (its fair share: len / workers + 1, at most half a ring);
//   2. nothing: search (at most half the workers search at once): steal half
//      of a random victim's queue (visiting all others from a random start),
//      then the inject queue once more;
//   3. nothing: park (the Idle protocol: announce, re-check if last
//      searcher, sleep on the worker's Park; a wake that did not pick this
//      worker sends it back to sleep).
//   Before parking, a worker allowed to search may first spin for
//   `spin_before_park` (off by default) looking at the queues.
//   Running a task: leave the searching state (the last searcher to find
//   work wakes another worker if work is left: wake-ups propagate one at a
//   time), poll it (`TaskHeader::run`, which gives the poll a fresh
//   cooperative `Budget`), then run whatever landed in the LIFO slot, at
//   most 3 in a row (two tasks that ping-pong through the slot cannot
//   starve the queue: the 4th goes to the back of the queue).
//
// Shutdown (`shutdown_now`): set the flag, close the inject queue (later
// remote schedules drop their notification; a spawn from outside is then
// owned at once, as on a worker), unpark and join every worker (each drops
// the notifications left in its LIFO slot and queue), close the owned
// shards (later spawns are rejected: their handles yield cancelled), then
// cancel every remaining task on the calling thread (its future's
// destructor runs there; its JoinHandle yields cancelled), and drain the
// inject queue, cancelling there the tasks spawned from outside that no
// worker took. `wait_idle(deadline)` first waits for the owned list to
// empty (tasks finished by themselves).
//
// Memory ordering: the queues and Idle document theirs. `shutdown_` is a
// release store / acquire load (workers only need to see it eventually:
// they are unparked after it is set, and the Park's unpark/park pair is a
// release/acquire). Counters are per worker, written only by their worker
// (relaxed store of load + 1: no read-modify-write on the hot path) and
// read relaxed by anyone: monotonic snapshots, not a consistent cut.
//
// Costs per task: one allocation (the task cell; the inject queue takes a
// 2 KiB block per 255 tasks beyond its current block and spare), the owned
// shard's lock at spawn (on a worker) or, spawned from outside, once per
// shard per batch a worker takes from the inject queue (`bind_batch`), and
// at completion, and for a local wake one LIFO store (plus, if that
// displaced a task, one ring push, and the idle word's seq_cst RMW if the
// ring was empty). A remote schedule takes the inject lock and the idle
// RMW; a futex wake only if a worker must be woken.
#ifndef WEFT_EXECUTOR_INTERNAL_POOL_H_
#define WEFT_EXECUTOR_INTERNAL_POOL_H_

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "executor/internal/idle.h"
#include "executor/internal/inject_queue.h"
#include "executor/internal/local_queue.h"
#include "executor/internal/sync.h"
#include "executor/internal/task.h"
#include "executor/internal/task_header.h"
#include "executor/park.h"
#include "executor/task_info.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// PoolConfig: what ThreadPool / ThreadPerCore pass down.
struct PoolConfig {
  std::size_t workers = 1;
  // Makes worker i's Park; empty: ThreadPark (futex).
  std::function<std::unique_ptr<Park>(std::size_t worker)> make_park;
  bool lifo_slot = true;
  // Pin worker i to this CPU (index into the process's allowed CPU set);
  // negative: do not pin. Empty: nobody is pinned.
  std::vector<int> pin_cpus;
  // Prefix of the worker threads' names (Linux shows 15 characters).
  const char* thread_name = "weft-worker";
  // Index of the first worker in thread names ("weft-core-3").
  std::size_t name_offset = 0;
  // How long a worker that ran out of work keeps searching before it parks
  // (0: park at once, as tokio does).
  std::chrono::nanoseconds spin_before_park = std::chrono::nanoseconds::zero();
};

class PoolScheduler;

// PoolWorker
//
// One worker's state. `queue`, `unpark` and the counters are read by other
// threads; everything else belongs to the worker's thread.
struct PoolWorker {
  PoolWorker(PoolScheduler* p, std::size_t i, std::unique_ptr<Park> pk)
      : pool(p), index(i), park(std::move(pk)), unpark(&park->unparker()), rng(0x9E3779B97F4A7C15ull * (i + 1)) {}
  PoolWorker(const PoolWorker&) = delete;
  PoolWorker& operator=(const PoolWorker&) = delete;

  PoolScheduler* const pool;
  const std::size_t index;
  LocalQueue<TaskHeader*> queue;
  std::unique_ptr<Park> park;
  Unpark* const unpark;

  // Owner-only.
  TaskHeader* lifo = nullptr;
  std::size_t credits = 0;  // counts of the scheduler's lifetime word held here
  bool searching = false;
  std::uint32_t tick = 0;
  std::uint64_t rng;

  // Written by the owner only, read by anyone.
  // Set while tasks it took from the inject queue may still be unbound
  // (between that pop and their `bind`/`bind_batch`): `dump()` waits for it
  // to clear.
  Atomic<bool> binding{false};
  Atomic<std::uint64_t> polled{0};
  Atomic<std::uint64_t> stolen{0};
  Atomic<std::uint64_t> parked{0};

  static void bump(Atomic<std::uint64_t>& c, std::uint64_t n = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t next_random() noexcept {  // xorshift64*
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return rng * 0x2545F4914F6CDD1Dull;
  }
};

// The worker running on this thread (nullptr on other threads).
inline constinit thread_local PoolWorker* tl_pool_worker = nullptr;

// PoolScheduler
//
// See the header comment. Heap-allocated and reference counted (Scheduler);
// the owning facade calls `start()` once, `shutdown_now()` (idempotent), then
// `release()`.
class PoolScheduler final : public Scheduler {
 public:
  static constexpr std::uint32_t kGlobalQueueInterval = 61;
  static constexpr int kMaxLifoPolls = 3;
  static constexpr std::size_t kCreditBatch = 64;

  explicit PoolScheduler(PoolConfig config)
      : config_(std::move(config)), idle_(std::max<std::size_t>(config_.workers, 1)) {
    const std::size_t n = std::max<std::size_t>(config_.workers, 1);
    config_.workers = n;
    workers_.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      std::unique_ptr<Park> park = config_.make_park ? config_.make_park(i) : std::make_unique<ThreadPark>();
      WEFT_HARDENING_ASSERT(park != nullptr, "ThreadPool: make_park returned null");
      workers_.push_back(std::make_unique<PoolWorker>(this, i, std::move(park)));
    }
    std::size_t shards = 1;
    while (shards < 4 * n && shards < 64) shards *= 2;
    shards_ = std::make_unique<OwnedShard[]>(shards);
    shard_mask_ = shards - 1;
  }

  // Starts the worker threads.
  void start() {
    threads_.reserve(workers_.size());
    for (std::size_t i = 0; i < workers_.size(); ++i) {
      threads_.emplace_back([this, i] { worker_main(*workers_[i]); });
    }
  }

  std::size_t num_workers() const noexcept { return workers_.size(); }

  // ---- spawning --------------------------------------------------------------

  // Creates a task running `f`, owned by this scheduler, and schedules it.
  // Returns it with its (J) reference when `join_interest` (else the caller
  // must not touch it). After shutdown the task is created already cancelled.
  template <class F>
  TaskHeader* spawn(F&& f, SpawnSite site, bool join_interest) {
    TaskHeader* t = new_task(std::forward<F>(f), this, site, join_interest);
    PoolWorker* w = tl_pool_worker;
    if (w == nullptr || w->pool != this) {
      // From outside: into the inject queue, not yet owned (the worker that
      // takes it from there puts it on its shard: `bind`). Counted under the
      // inject lock, for live_tasks() and counters().
      t->mark_from_outside();
      if (inject_.push(t, /*counted=*/true)) {
        notify_parked();
        return t;
      }
      // The inject queue is closed: the workers are stopping. Own the task
      // now, as a spawn on a worker does: the owned lists close later and
      // cancel it then (ThreadPerCore stops every core before cancelling
      // any task, and a spawn from one core onto another in between must
      // not complete as cancelled before its parent is cancelled itself).
    }
    OwnedShard& sh = shard_for(t);
    bool closed;
    {
      std::lock_guard<SpinLock> lock(sh.mu);
      closed = sh.closed;
      if (!closed) {
        sh.list.push_back(t);
        sh.spawned += 1;
      }
    }
    if (closed) {
      t->prev = &kOwnedGone;  // never listed: unbind() must say "taken"
      reject_task(t);
    } else {
      schedule(t, ScheduleHint::kWake);
    }
    return t;
  }

  // Whether the calling thread is one of this scheduler's workers; its index.
  std::optional<std::size_t> current_worker() const noexcept {
    PoolWorker* w = tl_pool_worker;
    if (w != nullptr && w->pool == this) return w->index;
    return std::nullopt;
  }

  // ---- Scheduler -------------------------------------------------------------

  void schedule(TaskHeader* t, ScheduleHint hint) noexcept override {
    PoolWorker* w = tl_pool_worker;
    if (w != nullptr && w->pool == this) {
      schedule_local(*w, t, hint);
    } else {
      schedule_remote(t);
    }
  }

  // Lifetime counts (see the header comment): on this scheduler's workers,
  // through the worker's stash; elsewhere, the shared word.
  void retain() noexcept override {
    PoolWorker* w = tl_pool_worker;
    if (w != nullptr && w->pool == this) {
      if (w->credits == 0) {
        refs_.fetch_add(kCreditBatch, std::memory_order_relaxed);
        w->credits = kCreditBatch;
      }
      w->credits -= 1;
      return;
    }
    Scheduler::retain();
  }
  void release() noexcept override {
    PoolWorker* w = tl_pool_worker;
    if (w != nullptr && w->pool == this) {
      w->credits += 1;
      if (w->credits > 2 * kCreditBatch) {
        // Never the last count: the worker keeps kCreditBatch + 1.
        refs_.fetch_sub(kCreditBatch, std::memory_order_acq_rel);
        w->credits -= kCreditBatch;
      }
      return;
    }
    Scheduler::release();
  }

  bool unbind(TaskHeader* t) noexcept override {
    OwnedShard& sh = shard_for(t);
    std::lock_guard<SpinLock> lock(sh.mu);
    if (sh.list.remove(t)) {
      t->prev = &kOwnedGone;
      return true;
    }
    if (t->prev == nullptr) {  // spawned from outside, never bound: ours to drop
      t->prev = &kOwnedGone;
      sh.unbound_done += 1;
      return true;
    }
    return false;  // shutdown took it
  }

  // ---- introspection ---------------------------------------------------------

  ExecutorCounters counters() const {
    ExecutorCounters c;
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
      std::lock_guard<SpinLock> lock(shards_[i].mu);
      c.spawned += shards_[i].spawned;
    }
    c.spawned += inject_.counted_pushes();
    for (const auto& w : workers_) {
      c.polled += w->polled.load(std::memory_order_relaxed);
      c.stolen += w->stolen.load(std::memory_order_relaxed);
      c.parked += w->parked.load(std::memory_order_relaxed);
    }
    return c;
  }

  // Tasks spawned and not yet completed (or cancelled): owned tasks, plus
  // those spawned from outside and not yet bound: pushed
  // (counted under the inject lock) minus bound or finished unbound (counted
  // under each shard's lock, in the same critical section that puts a task
  // on the list). Read with every shard lock held at once (then the inject
  // lock: the lock order, see `AllShards`), so the count is exact at one
  // instant: a task that spawns a child on another shard and completes
  // cannot be missed half-way.
  std::size_t live_tasks() const {
    AllShards all(*this);
    std::size_t n = 0;
    std::uint64_t unbound_done = 0;
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
      n += shards_[i].list.size();
      unbound_done += shards_[i].unbound_done;
    }
    return n + static_cast<std::size_t>(inject_.counted_pushes() - unbound_done);
  }

  // Owned tasks and the inject queue's (tasks spawned from outside wait
  // there unbound; owned ones may be there too: listed once), taken with
  // every shard lock and the inject lock held, once no worker is between
  // taking tasks from the inject queue and binding them (a brief wait).
  std::vector<TaskInfo> dump() const {
    std::vector<TaskInfo> out;
    out.reserve(live_tasks() + 16);
    for (int attempt = 0;; ++attempt) {
      out.clear();
      bool taken;
      {
        AllShards all(*this);
        taken = inject_.for_each_if(
            [&] {
              // Holding the inject lock: no worker can start a new transit.
              if (attempt >= 10000) return true;  // best effort under a storm of pops
              for (const auto& w : workers_) {
                if (w->binding.load(std::memory_order_acquire)) return false;
              }
              return true;
            },
            [&](const TaskHeader& t) {
              // (A task completed while its notification waits here is not live.)
              if (!t.is_complete()) out.push_back(t.info());
            });
        if (taken) {
          for (std::size_t i = 0; i <= shard_mask_; ++i) {
            shards_[i].list.for_each([&](const TaskHeader& t) { out.push_back(t.info()); });
          }
        }
      }
      if (taken) break;
      // A worker is binding what it took (it needs a shard lock): let it
      // finish before trying again.
      for (const auto& w : workers_) {
        while (w->binding.load(std::memory_order_acquire)) std::this_thread::yield();
      }
    }
    std::sort(out.begin(), out.end(), [](const TaskInfo& a, const TaskInfo& b) { return a.id < b.id; });
    out.erase(std::unique(out.begin(), out.end(), [](const TaskInfo& a, const TaskInfo& b) { return a.id == b.id; }),
              out.end());
    return out;
  }

  // Workers whose pinning to a CPU failed.
  std::uint64_t pin_failures() const noexcept { return pin_failures_.load(std::memory_order_relaxed); }

  // ---- shutdown --------------------------------------------------------------

  // Waits until every task completed or `deadline` passed; true if all did.
  // (Polls the owned shards every millisecond: shutdown is not a hot path.)
  bool wait_idle(std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (live_tasks() == 0) return true;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(deadline - now,
                                                                                 std::chrono::milliseconds(1)));
    }
  }

  // Stops the workers and cancels every task (see the header comment).
  // Call from a thread that is not one of the workers; idempotent.
  void shutdown_now() noexcept {
    stop_workers();
    cancel_all();
  }

  // The two halves of `shutdown_now`, for executors made of several
  // schedulers (ThreadPerCore stops every core before cancelling any task,
  // so no task runs while others are being cancelled).
  void stop_workers() noexcept {
    WEFT_HARDENING_ASSERT(!current_worker().has_value(),
                          "ThreadPool: shut down (or destroyed) from one of its own worker threads");
    // Callers on several threads at once (the pool's methods are
    // thread-safe): the later ones wait here until the workers are joined,
    // so none of them goes on to `cancel_all` while a worker still runs
    // (it could bind a task onto a shard already closed).
    std::lock_guard<std::mutex> stopping(stop_mu_);
    if (shutdown_.exchange(true, std::memory_order_acq_rel)) return;
    inject_.close();
    for (auto& w : workers_) w->unpark->unpark();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  void cancel_all() noexcept {
    WEFT_ASSERT(shutdown_.load(std::memory_order_acquire), "PoolScheduler::cancel_all before stop_workers");
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
      std::lock_guard<SpinLock> lock(shards_[i].mu);
      shards_[i].closed = true;
    }
    for (std::size_t i = 0; i <= shard_mask_; ++i) {
      for (;;) {
        TaskHeader* t;
        {
          std::lock_guard<SpinLock> lock(shards_[i].mu);
          t = shards_[i].list.pop_front();
          if (t != nullptr) t->prev = &kOwnedGone;
        }
        if (t == nullptr) break;
        t->shutdown();  // cancels here (its destructor may wake or spawn: both are refused)
      }
    }
    // The inject queue: notifications to drop, and tasks spawned from
    // outside that no worker took (never owned: cancel them here too).
    while (TaskHeader* t = inject_.pop()) {
      bool never_bound = false;
      {
        OwnedShard& sh = shard_for(t);
        std::lock_guard<SpinLock> lock(sh.mu);
        if (t->next == nullptr && t->prev == nullptr) {
          t->prev = &kOwnedGone;
          sh.unbound_done += 1;
          never_bound = true;
        }
      }
      if (never_bound) t->shutdown();  // consumes (O); unbind() now returns false
      t->drop_ref();                   // (N)
    }
  }

  bool is_shutdown() const noexcept { return shutdown_.load(std::memory_order_acquire); }

 private:
  struct alignas(64) OwnedShard {
    mutable SpinLock mu;
    OwnedTaskList list;         // guarded by mu
    std::uint64_t spawned = 0;       // guarded by mu: spawned on a worker (bound at once)
    std::uint64_t unbound_done = 0;  // guarded by mu: spawned from outside, then bound or finished
    bool closed = false;             // guarded by mu
  };

  // A task's owned-list links (guarded by its shard's lock) say where it is:
  // `next` set: on the list; both null: spawned from outside and not bound
  // yet (its (O) reference waits with it); `prev == &kOwnedGone`: off the
  // list for good (completed, or taken by shutdown), never bound again.
  static inline OwnedLink kOwnedGone{};

  // A task taken from the inject queue: if it was spawned from outside and
  // never bound, puts it on its shard (unless it completed meanwhile, say
  // by TaskScope's synchronous cancellation). FROM_OUTSIDE is only a hint
  // that skips the lock: the task's first poll clears it (task_header.h), so
  // later trips through the inject queue (remote wakes) skip the lock, and a
  // bound task that comes back before its first poll (a local queue's
  // overflow) finds itself listed and is left alone.
  void bind(TaskHeader* t) noexcept {
    if (!t->from_outside()) return;  // owned since its spawn, or polled already
    OwnedShard& sh = shard_for(t);
    std::lock_guard<SpinLock> lock(sh.mu);
    bind_locked(sh, t);
  }
  // Under `sh.mu`, `t` of shard `sh`: lists it unless it is listed or gone.
  static void bind_locked(OwnedShard& sh, TaskHeader* t) noexcept {
    if (t->next == nullptr && t->prev == nullptr) {  // not owned, not gone
      WEFT_ASSERT(!sh.closed, "PoolScheduler: a worker took a task after the owned lists closed");
      sh.list.push_back(t);
      sh.unbound_done += 1;
    }
  }

  // `bind` for a batch taken from the inject queue: one lock per shard the
  // batch touches, not one per task. `batch` is left as it is.
  void bind_batch(TaskHeader* const* batch, std::size_t n) noexcept {
    constexpr std::size_t kMax = LocalQueue<TaskHeader*>::kCapacity / 2 + 1;
    WEFT_ASSERT(n <= kMax, "bind_batch: batch larger than an inject pull");
    TaskHeader* pending[kMax];
    std::size_t left = 0;
    for (std::size_t i = 0; i < n; ++i) {
      if (batch[i]->from_outside()) pending[left++] = batch[i];
    }
    while (left != 0) {
      OwnedShard& sh = shard_for(pending[0]);
      std::size_t kept = 0;
      std::lock_guard<SpinLock> lock(sh.mu);
      for (std::size_t i = 0; i < left; ++i) {
        TaskHeader* t = pending[i];
        if (&shard_for(t) != &sh) {
          pending[kept++] = t;
        } else {
          bind_locked(sh, t);
        }
      }
      left = kept;
    }
  }

  // Every shard lock at once, in index order. The lock order is: shards in
  // ascending order, then the inject lock; everything else holds at most
  // one shard lock, and nobody takes a shard lock while holding the inject
  // lock (workers bind after their pop returned).
  class AllShards {
   public:
    explicit AllShards(const PoolScheduler& p) noexcept : p_(p) {
      for (std::size_t i = 0; i <= p_.shard_mask_; ++i) p_.shards_[i].mu.lock();
    }
    ~AllShards() {
      for (std::size_t i = 0; i <= p_.shard_mask_; ++i) p_.shards_[i].mu.unlock();
    }
    AllShards(const AllShards&) = delete;
    AllShards& operator=(const AllShards&) = delete;

   private:
    const PoolScheduler& p_;
  };

  ~PoolScheduler() override = default;  // through Scheduler::release()

  OwnedShard& shard_for(const TaskHeader* t) const noexcept { return shards_[t->id() & shard_mask_]; }

  // ---- scheduling ------------------------------------------------------------

  void schedule_local(PoolWorker& w, TaskHeader* t, ScheduleHint hint) noexcept {
    bool notify;
    if (hint == ScheduleHint::kYield) {
      // The task yielded at the end of its own poll on this worker, which is
      // therefore about to look at its queue: it adds no work for others
      // (waking one here made a lone yielding task bounce between two
      // workers through the futex: 110 ns per yield instead of 31).
      notify = push_local(w, t, /*wake_helper_if_empty=*/false);
    } else if (!config_.lifo_slot) {
      notify = push_local(w, t);
    } else {
      TaskHeader* prev = std::exchange(w.lifo, t);
      if (prev == nullptr) return;  // nobody else could take it anyway
      notify = push_local(w, prev);
    }
    if (notify) notify_parked();
  }

  // Pushes to the worker's own queue (overflowing into the inject queue).
  // Returns whether to look for a sleeping worker to help: only when the
  // queue was empty, or overflowed. Work in a worker's own queue never
  // depends on a wake-up for liveness (its owner is awake and will run it),
  // so a notification is only about parallelism, and one per refill of the
  // queue is enough: the woken worker steals, and comes back for more while
  // the queue stays non-empty. (tokio notifies on every push; that is a
  // read-modify-write of the shared idle word per spawn.)
  // `wake_helper_if_empty = false`: the caller is about to look at the
  // queue itself (only an overflow notifies).
  bool push_local(PoolWorker& w, TaskHeader* t, bool wake_helper_if_empty = true) noexcept {
    const bool was_empty = wake_helper_if_empty && w.queue.is_empty();
    bool overflowed = false;
    w.queue.push_back(t, [this, &overflowed](TaskHeader* const* items, std::size_t n) {
      overflowed = true;
      push_inject_batch(items, n);
    });
    return was_empty || overflowed;
  }

  void push_inject_batch(TaskHeader* const* items, std::size_t n) noexcept {
    if (!inject_.push_batch(items, n)) {
      for (std::size_t i = 0; i < n; ++i) items[i]->drop_ref();  // shutting down
    }
  }

  void schedule_remote(TaskHeader* t) noexcept {
    if (!inject_.push(t)) {
      t->drop_ref();  // shutting down: the owned list cancels the task
      return;
    }
    notify_parked();
  }

  void notify_parked() noexcept {
    if (std::optional<std::size_t> id = idle_.worker_to_notify()) workers_[*id]->unpark->unpark();
  }

  // After the last searcher parked: any work anywhere? Then wake a worker.
  void notify_if_work_pending() noexcept {
    for (const auto& w : workers_) {
      if (!w->queue.is_empty()) {
        notify_parked();
        return;
      }
    }
    if (!inject_.is_empty()) notify_parked();
  }

  // ---- the worker ------------------------------------------------------------

  void worker_main(PoolWorker& w) {
    tl_pool_worker = &w;
    setup_thread(w);
    while (!shutdown_.load(std::memory_order_acquire)) {
      w.tick += 1;
      if (TaskHeader* t = next_task(w)) {
        run_task(w, t);
        continue;
      }
      if (TaskHeader* t = steal_work(w)) {
        run_task(w, t);
        continue;
      }
      park(w);
    }
    // Shutdown: drop the notifications this worker still holds; the owned
    // list cancels their tasks.
    if (TaskHeader* t = std::exchange(w.lifo, nullptr)) t->drop_ref();
    while (TaskHeader* t = w.queue.pop()) t->drop_ref();
    if (w.searching) {
      w.searching = false;
      idle_.transition_worker_from_searching();
    }
    tl_pool_worker = nullptr;
    // Give the stash back. Never the last count: the facade holds one until
    // the workers are joined.
    if (const std::size_t n = std::exchange(w.credits, 0); n != 0) {
      const std::size_t before = refs_.fetch_sub(n, std::memory_order_acq_rel);
      WEFT_ASSERT(before > n, "ThreadPool: lifetime count reached zero on a worker");
      (void)before;
    }
  }

  void setup_thread(PoolWorker& w) {
#if defined(__linux__)
    char name[16];
    std::snprintf(name, sizeof(name), "%s-%zu", config_.thread_name, config_.name_offset + w.index);
    pthread_setname_np(pthread_self(), name);
    if (w.index < config_.pin_cpus.size() && config_.pin_cpus[w.index] >= 0) {
      if (!pin_to_cpu(static_cast<std::size_t>(config_.pin_cpus[w.index]))) {
        pin_failures_.fetch_add(1, std::memory_order_relaxed);
      }
    }
#else
    if (w.index < config_.pin_cpus.size() && config_.pin_cpus[w.index] >= 0) {
      pin_failures_.fetch_add(1, std::memory_order_relaxed);
    }
#endif
  }

#if defined(__linux__)
  // Pins the calling thread to the `n`-th CPU of the process's allowed set
  // (modulo its size: containers often allow CPUs that are not 0..k-1).
  static bool pin_to_cpu(std::size_t n) noexcept {
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof(allowed), &allowed) != 0) return false;
    const int count = CPU_COUNT(&allowed);
    if (count <= 0) return false;
    std::size_t want = n % static_cast<std::size_t>(count);
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
      if (!CPU_ISSET(cpu, &allowed)) continue;
      if (want-- == 0) {
        cpu_set_t one;
        CPU_ZERO(&one);
        CPU_SET(cpu, &one);
        return pthread_setaffinity_np(pthread_self(), sizeof(one), &one) == 0;
      }
    }
    return false;
  }
#endif

  TaskHeader* next_task(PoolWorker& w) noexcept {
    if (w.tick % kGlobalQueueInterval == 0 && !inject_.is_empty()) {
      w.binding.store(true, std::memory_order_relaxed);
      TaskHeader* t = inject_.pop();
      if (t != nullptr) bind(t);
      w.binding.store(false, std::memory_order_release);
      if (t != nullptr) return t;
    }
    if (TaskHeader* t = std::exchange(w.lifo, nullptr)) return t;
    if (TaskHeader* t = w.queue.pop()) return t;
    return pull_inject_batch(w);
  }

  // Takes this worker's fair share of the inject queue: one to run, the rest
  // into the local queue (where others may steal them).
  TaskHeader* pull_inject_batch(PoolWorker& w) noexcept {
    if (inject_.is_empty()) return nullptr;
    constexpr std::size_t kMaxBatch = LocalQueue<TaskHeader*>::kCapacity / 2;
    std::size_t n = inject_.len() / workers_.size() + 1;
    n = std::min<std::size_t>(n, std::min<std::size_t>(w.queue.remaining_slots(), kMaxBatch) + 1);
    TaskHeader* batch[kMaxBatch + 1];
    std::size_t got = 0;
    w.binding.store(true, std::memory_order_relaxed);  // before the pop's lock (see dump())
    inject_.pop_n(n, [&](TaskHeader* t) { batch[got++] = t; });
    bind_batch(batch, got);
    w.binding.store(false, std::memory_order_release);
    if (got == 0) return nullptr;
    if (got > 1) w.queue.push_back_batch(batch + 1, got - 1);
    return batch[0];
  }

  TaskHeader* steal_work(PoolWorker& w) noexcept {
    if (!w.searching) {
      if (!idle_.transition_worker_to_searching()) return nullptr;
      w.searching = true;
    }
    const std::size_t n = workers_.size();
    const std::size_t start = static_cast<std::size_t>(w.next_random() % n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t v = (start + i) % n;
      if (v == w.index) continue;
      std::uint32_t moved = 0;
      if (TaskHeader* t = workers_[v]->queue.steal_into(w.queue, &moved)) {
        PoolWorker::bump(w.stolen, moved);
        return t;
      }
    }
    if (inject_.is_empty()) return nullptr;
    w.binding.store(true, std::memory_order_relaxed);
    TaskHeader* t = inject_.pop();
    if (t != nullptr) bind(t);
    w.binding.store(false, std::memory_order_release);
    return t;
  }

  // The last searcher to find work wakes another worker if work is left
  // anywhere (tokio wakes one unconditionally). Checking after the RMW that
  // ends the search is enough: a producer whose push we do not see here
  // makes its own idle RMW after ours, sees nobody searching, and wakes a
  // worker itself. So a producer slower than the workers does not cost a
  // futex wake per task.
  void transition_from_searching(PoolWorker& w) noexcept {
    if (!w.searching) return;
    w.searching = false;
    if (idle_.transition_worker_from_searching()) notify_if_work_pending();
  }

  void run_task(PoolWorker& w, TaskHeader* t) noexcept {
    transition_from_searching(w);
    PoolWorker::bump(w.polled);
    t->run();
    for (int lifo_polls = 0;;) {
      TaskHeader* next = std::exchange(w.lifo, nullptr);
      if (next == nullptr) return;
      if (lifo_polls == kMaxLifoPolls) {
        // To the back of the queue, which this worker looks at next: no
        // helper is woken for it (a chain of spawns, each into the LIFO
        // slot, otherwise woke the other worker every 4th task).
        if (push_local(w, next, /*wake_helper_if_empty=*/false)) notify_parked();
        return;
      }
      lifo_polls += 1;
      PoolWorker::bump(w.polled);
      next->run();
    }
  }

  void park(PoolWorker& w) noexcept {
    if (w.lifo != nullptr || !w.queue.is_empty()) return;
    if (spin_for_work(w)) return;
    const bool last_searcher = idle_.transition_worker_to_parked(w.index, w.searching);
    w.searching = false;
    if (last_searcher) notify_if_work_pending();
    for (;;) {
      if (shutdown_.load(std::memory_order_acquire)) return;
      PoolWorker::bump(w.parked);
      w.park->park();
      if (transition_from_parked(w)) return;
    }
  }

  // Before sleeping, a worker that may search keeps looking for a short
  // while (`spin_before_park`): work that arrives meanwhile is picked up
  // without a futex wait/wake pair, and because the spinner counts as
  // searching, producers wake nobody. At most half the workers spin (the
  // search limit); the others park at once. True: work showed up.
  bool spin_for_work(PoolWorker& w) noexcept {
    if (config_.spin_before_park.count() <= 0) return false;
    if (!w.searching) {
      if (!idle_.transition_worker_to_searching()) return false;
      w.searching = true;
    }
    const auto deadline = std::chrono::steady_clock::now() + config_.spin_before_park;
    for (std::uint32_t round = 1;; ++round) {
      if (!inject_.is_empty()) return true;
      for (const auto& v : workers_) {
        if (v.get() != &w && v->queue.len() > 0) return true;
      }
      if (shutdown_.load(std::memory_order_relaxed)) return true;
      for (int i = 0; i < 16; ++i) spin_hint();
      if (round % 8 == 0) {
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::yield();  // a 2-core machine: let the producer run
      }
    }
  }

  // After the Park returned: false to sleep again (spurious, or a wake that
  // chose another worker).
  bool transition_from_parked(PoolWorker& w) noexcept {
    if (w.lifo != nullptr || !w.queue.is_empty()) {
      // Work scheduled on this thread while it was parked (a reactor's Park
      // runs wakers here). Not chosen by a notifier: not searching, unless
      // it was chosen anyway.
      w.searching = !idle_.unpark_worker_by_id(w.index);
      return true;
    }
    if (shutdown_.load(std::memory_order_acquire)) return true;
    if (idle_.is_parked(w.index)) return false;
    w.searching = true;  // `worker_to_notify` chose us and counted us searching
    return true;
  }

  PoolConfig config_;
  std::vector<std::unique_ptr<PoolWorker>> workers_;
  std::vector<std::thread> threads_;
  // Own cache lines: written by producers and workers, while the lifetime
  // count (first line) is written by non-worker spawns.
  alignas(64) InjectQueue<TaskHeader> inject_;
  alignas(64) Idle idle_;
  std::unique_ptr<OwnedShard[]> shards_;
  std::size_t shard_mask_ = 0;
  Atomic<bool> shutdown_{false};
  std::mutex stop_mu_;  // held by `stop_workers` while it joins the workers
  Atomic<std::uint64_t> pin_failures_{0};
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_POOL_H_
