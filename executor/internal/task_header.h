// -----------------------------------------------------------------------------
// File: executor/internal/task_header.h
// -----------------------------------------------------------------------------
//
// The type-erased part of every weft task: `TaskHeader` (state word, links,
// vtable, scheduler, join waker, id, spawn site), the `Scheduler` interface a
// task wakes into, `OwnedTaskList` (every live task of an executor, for
// shutdown and dumps), and the task's `Waker`. The typed part (the future and
// its output, in the same allocation) is `TaskCell<F>` in executor/internal/
// task.h, which is the header executors include. Rust: tokio's
// `runtime/task/{state.rs, harness.rs, raw.rs, waker.rs}`; embassy's
// `raw::TaskHeader`.
//
// ---------------------------------------------------------------------------
// References. A task is freed when its reference count drops to zero. The
// references are:
//   (O) owned:    held by the executor's `OwnedTaskList` from spawn until the
//                 task completes (`complete()` asks `Scheduler::unbind` and
//                 drops it) or until shutdown takes the task off the list (the
//                 shutdown path then consumes it).
//   (N) notified: held by whoever must poll the task next: a run queue entry,
//                 a LIFO slot, the poll in progress. At most one exists at a
//                 time, and it exists exactly while NOTIFIED or RUNNING is set,
//                 except that a task that completed (or was shut down) while
//                 NOTIFIED may still have one in a queue: popping it finds
//                 COMPLETE and just drops it.
//   (J) join:     held by the `JoinHandle` while JOIN_INTEREST is set.
//   (W) wakers:   one per `Waker` clone (and one per `AbortHandle`).
// A new task has refs = 3 (O, N, J) or 2 (detached: O, N), and NOTIFIED set.
//
// ---------------------------------------------------------------------------
// The state word (one `Atomic<uint64_t>`):
//
//   bit 0  RUNNING        a thread is polling (or cancelling) the future; it
//                         alone may touch the future.
//   bit 1  COMPLETE       the future is gone; the output (if any) is stored.
//   bit 2  NOTIFIED       a wake arrived; an (N) reference exists.
//   bit 3  CANCELLED      abort()/shutdown asked the task to stop.
//   bit 4  JOIN_INTEREST  a JoinHandle exists.
//   bit 5  JOIN_WAKER     the join waker field holds the JoinHandle's waker and
//                         belongs to the runtime side (read-only for the handle).
//   bit 6  OUT_ERROR      (with COMPLETE) the output is an exception.
//   bit 7  OUT_NONE       (with COMPLETE) there is no output: cancelled.
//   bit 8  FROM_OUTSIDE   spawned onto a pool from outside its workers and
//                         maybe not bound yet: set before the task is
//                         published, cleared by its first (3) (no extra
//                         step: a worker binds it, putting it on its owned
//                         list, before it can run; executor/internal/pool.h).
//                         A task cancelled before it ever ran keeps it: it
//                         is only a hint, the pool relies on the links.
//   bits 9..63            reference count (REF_ONE = 1 << 9).
//
// Lifecycle (RUNNING/COMPLETE/NOTIFIED), numbered transitions below:
//
//                 (1) spawn
//                     │
//                     v          (3) poll
//      ┌────────> SCHEDULED ─────────────────> RUNNING ──(6) Ready/throw──> COMPLETE
//      │         (NOTIFIED)                   │  ^   │                         ^
//      │              ^                       │  │   │ (4) wake while running  │
//      │ (2) wake     │ (5b) Pending, was     │  │   v                         │
//      │              │      notified         │  │ RUNNING|NOTIFIED ───(6)─────┤
//      │              └───────────────────────┼──┼───┘                         │
//      │                                      │  │                             │
//    IDLE <──────(5a) Pending, not notified ──┘  │                             │
//      │                                         │                             │
//      └──(7) abort: CANCELLED|NOTIFIED ─> ... (3) finds CANCELLED: cancel ────┤
//      └──(8) shutdown / cancel_now: takes RUNNING itself, cancels ────────────┘
//
//   (1) new_task:            state = NOTIFIED | [JOIN_INTEREST] | refs(O,N[,J]).
//   (2) wake (idle task):    set NOTIFIED; by_ref adds an (N) ref, by value
//                            turns the waker's (W) ref into (N); then
//                            `Scheduler::schedule(task, kWake)`.
//                            A wake of a NOTIFIED or COMPLETE task does nothing
//                            (by value: drops its ref). Wakes coalesce.
//   (3) transition_to_running (executor pops an (N) ref): requires NOTIFIED;
//                            if not idle (COMPLETE after a shutdown) drop (N);
//                            else clear NOTIFIED (and FROM_OUTSIDE), set
//                            RUNNING. With CANCELLED
//                            set it cancels instead of polling (see 7).
//   (4) wake while RUNNING:  set NOTIFIED only (no schedule: the poller will).
//                            So a task woken during its own poll runs again
//                            (no lost wake-up) and is never polled twice at once.
//   (5) transition_to_idle (poll returned Pending): if CANCELLED, cancel (7);
//                            clear RUNNING; (5a) not NOTIFIED: drop (N);
//                            (5b) NOTIFIED: keep (N) and reschedule the task
//                            (`schedule(task, kYield)`: to the back of a queue).
//   (6) complete:            `unbind` from the owned list; then, if no
//                            JoinHandle waker is registered, one CAS sets
//                            COMPLETE | output kind and drops the completer's
//                            references ((N) and (O), as held). With no handle
//                            the output is dropped just before that CAS, so
//                            its destructor runs while the task is still
//                            RUNNING (a wake from it only sets NOTIFIED). If
//                            the handle waits: fetch_xor(RUNNING | COMPLETE |
//                            output kind), wake the JoinHandle (rules below),
//                            then drop the references in the CAS that clears
//                            JOIN_WAKER.
//   (7) abort (JoinHandle):  not RUNNING/COMPLETE/CANCELLED: set CANCELLED and
//                            NOTIFIED (+ an (N) ref and a schedule if it was not
//                            notified); RUNNING: set CANCELLED|NOTIFIED and the
//                            poller cancels at (5). "Cancels at the next pending
//                            point": a poll already in progress that returns
//                            Ready wins, and the handle gets the value.
//   (8) transition_to_shutdown: set CANCELLED; if idle (not RUNNING, not
//                            COMPLETE) also set RUNNING and cancel right here on
//                            the calling thread; if RUNNING, the poller cancels
//                            at (5).
//
// JoinHandle rules (tokio's rules 1-7 in `task/mod.rs`, same bits):
//   - The join waker field is written only by the JoinHandle, and only while
//     JOIN_WAKER is clear; setting JOIN_WAKER (a CAS that fails if COMPLETE)
//     hands it to the runtime, which then only reads it.
//   - To replace its waker, the handle first clears JOIN_WAKER by CAS (fails if
//     COMPLETE: then the output is ready instead).
//   - At (6), if JOIN_INTEREST and JOIN_WAKER: wake it by reference, then clear
//     JOIN_WAKER by CAS, dropping the completer's references in the same CAS
//     while JOIN_INTEREST is still set; if the handle was dropped meanwhile,
//     the completer clears the bit, drops the waker, then its references. If
//     there is no JOIN_INTEREST at (6) the completer drops the output.
//   - Dropping the handle: if JOIN_WAKER is clear the field is the handle's
//     and it empties it first; then one CAS clears JOIN_INTEREST (and
//     JOIN_WAKER if not COMPLETE, taking the field back) and, when nothing is
//     left to drop, the (J) reference too; if COMPLETE, the handle drops the
//     output (unless it took it) before its reference. If it finds COMPLETE,
//     JOIN_WAKER clear and one reference left (its own), nobody else can
//     reach the task: it frees it with no atomic step (its acquire load read
//     the last holder's release).
//
// Memory ordering: every read-modify-write of the state is `acq_rel` and every
// load `acquire`, except a waker clone's increment (`relaxed`, as `Arc::clone`:
// the cloner already holds a reference) and the FROM_OUTSIDE hint's
// accesses (`relaxed`: setting it precedes the task's publication, and it is
// cleared inside (3)). So: the output written before (6)'s
// release is visible to a JoinHandle that observes COMPLETE; the future's
// writes by one poller are visible to the next (each poll starts with (3)'s
// acquire, each ends with (5)/(6)'s release); the join waker written before the
// CAS that sets JOIN_WAKER is visible to the completer that observed it; and
// the thread that drops the last reference sees every other thread's writes.
//
// Invariants of the other fields:
//   - `queue_next_` belongs to whoever holds the (N) reference (intrusive run
//     queues link through it).
//   - `OwnedLink::{prev, next}` belong to the executor's owned list (guarded by
//     whatever guards the list: nothing on a single-thread executor, a mutex on
//     a pool).
//   - `vtable_`, `scheduler_`, `id_`, `spawn_file_`, `spawn_line_` are
//     immutable after construction.
//   - `Scheduler` outlives every task bound to it: each task holds one count of
//     the scheduler's lifetime (`retain` at spawn, `release` when the task's
//     memory is freed), so a wake from another thread racing with the
//     executor's destruction calls into live memory.
//
// Costs: `sizeof(TaskHeader)` = 80 bytes on 64-bit targets (static_asserted),
// so a task is one allocation of 80 + max(sizeof(future), sizeof(output),
// sizeof(std::exception_ptr)) bytes. A wake is one CAS (+ a `schedule` call if
// the task was idle); a waker clone/drop is one atomic add/sub; a poll is two
// CASes (3) and (5). Spawn, one poll to Ready, and a JoinHandle that waited
// for it take four atomic RMWs on the task: (3), the handle's CAS setting
// JOIN_WAKER, (6)'s fetch_xor and (6)'s merged CAS; the handle's drop finds
// its reference the last and frees the task with none. A handle that finds
// the task complete: two, (3) and (6)'s single CAS. A detached task: two.
// Hosted (uses `std::exception_ptr`, heap allocation and virtual calls).
#ifndef WEFT_EXECUTOR_INTERNAL_TASK_HEADER_H_
#define WEFT_EXECUTOR_INTERNAL_TASK_HEADER_H_

#include <cstddef>
#include <cstdint>

#include "executor/internal/sync.h"
#include "executor/task_info.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

class TaskHeader;

// ScheduleHint
//
// Why a task is being scheduled. `kWake`: a waker fired (a pool may put the
// task in its LIFO slot, for message-passing locality). `kYield`: the task was
// woken during its own poll (it yielded); put it at the back so others run.
enum class ScheduleHint : std::uint8_t { kWake, kYield };

// Scheduler
//
// What a task calls back into. One per executor (LocalExecutor, each
// ThreadPool, each thread-per-core executor), heap-allocated and reference
// counted (the executor holds one count, every task bound to it another).
class Scheduler {
 public:
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Scheduler::schedule()
  //
  // The task became runnable; the scheduler now owns one (N) reference to it
  // and must eventually `run()` it, or drop the reference (`drop_ref()`) if it
  // is shutting down. May be called from any thread that holds a waker, and
  // re-entrantly from inside a poll.
  virtual void schedule(TaskHeader* task, ScheduleHint hint) noexcept = 0;

  // Scheduler::unbind()
  //
  // The task is completing (its future is gone, its output stored, its
  // completion not yet published): take it off the owned list if it is still
  // there and return true (the caller then drops the (O) reference); false if
  // shutdown already took it off. Called once per task, by the thread that
  // completes it, so a task whose JoinHandle saw it complete is never listed.
  virtual bool unbind(TaskHeader* task) noexcept = 0;

  // Lifetime count (see the header comment): `new_task` retains, a task's
  // dealloc releases, the executor holds the initial count. Atomic by
  // default; a single-thread scheduler may override both to count its own
  // thread's references without atomic operations (LocalScheduler does, with
  // a bias on `refs_` so that releases from other threads never reach zero
  // while the executor lives).
  virtual void retain() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  virtual void release() noexcept {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

 protected:
  Scheduler() = default;
  virtual ~Scheduler() = default;

  // On its own cache line: a thread spawning onto a pool from outside takes
  // one count per task here, while every worker reads the vtable pointer on
  // the object's first line for each wake; sharing that line made each count
  // a cross-core miss (perf: 7% of a batch spawned from outside). The pad
  // keeps the derived class's members (read by workers) off it too.
  alignas(64) Atomic<std::size_t> refs_{1};
  char refs_pad_[64 - sizeof(Atomic<std::size_t>)] = {};
};

// OwnedLink
//
// The owned-list links, first in every TaskHeader (and the list's sentinel).
struct OwnedLink {
  OwnedLink* prev = nullptr;
  OwnedLink* next = nullptr;  // nullptr: not on a list
};

// TaskVTable
//
// The typed operations of a `TaskCell<F>` (task.h). All are called with the
// right to touch the stage they name (see the rules above).
struct TaskVTable {
  // Polls the future once (the caller holds RUNNING) and finishes the poll:
  // `poll_pending()` or `complete()`.
  void (*poll)(TaskHeader*) noexcept;
  // Destroys the future (the caller holds RUNNING).
  void (*cancel)(TaskHeader*) noexcept;
  // Destroys the stored output described by the state's OUT_* bits.
  void (*drop_output)(TaskHeader*, std::uint64_t state) noexcept;
  // Moves the stored output into `*static_cast<std::optional<JoinResult<T>>*>(dst)`.
  void (*take_output)(TaskHeader*, void* dst, std::uint64_t state) noexcept;
  // Frees the task's memory (refcount reached zero).
  void (*dealloc)(TaskHeader*) noexcept;
};

// Task ids: each thread takes blocks of 1024 from a global counter, so an id
// costs no atomic operation on the spawn path.
inline TaskId next_task_id() noexcept {
  static Atomic<TaskId> global{1};
  thread_local TaskId next = 0;
  thread_local TaskId end = 0;
  if (next == end) {
    next = global.fetch_add(1024, std::memory_order_relaxed);
    end = next + 1024;
    if (next == 0) next = 1;  // 0 is never an id
  }
  TaskId id = next;
  next += 1;
  return id;
}

// TaskHeader
//
// See the header comment. Executors use: `run()`, `shutdown()`, `drop_ref()`,
// `queue_next()`, `info()`; JoinHandles use the `join_*` functions, `abort()`,
// `cancel_now()`.
class TaskHeader : public OwnedLink {
 public:
  // State bits.
  static constexpr std::uint64_t kRunning = 1u << 0;
  static constexpr std::uint64_t kComplete = 1u << 1;
  static constexpr std::uint64_t kNotified = 1u << 2;
  static constexpr std::uint64_t kCancelled = 1u << 3;
  static constexpr std::uint64_t kJoinInterest = 1u << 4;
  static constexpr std::uint64_t kJoinWaker = 1u << 5;
  static constexpr std::uint64_t kOutError = 1u << 6;
  static constexpr std::uint64_t kOutNone = 1u << 7;
  static constexpr std::uint64_t kFromOutside = 1u << 8;
  static constexpr int kRefShift = 9;
  static constexpr std::uint64_t kRefOne = std::uint64_t{1} << kRefShift;
  static constexpr std::uint64_t kOutValue = 0;

  static constexpr std::uint64_t refs_of(std::uint64_t s) noexcept { return s >> kRefShift; }

  TaskHeader(const TaskVTable* vtable, Scheduler* scheduler, SpawnSite site, bool join_interest) noexcept
      : state_(kNotified | (join_interest ? kJoinInterest | 3 * kRefOne : 2 * kRefOne)),
        vtable_(vtable),
        scheduler_(scheduler),
        spawn_file_(site.file),
        spawn_line_(site.line),
        id_(next_task_id()) {}
  TaskHeader(const TaskHeader&) = delete;
  TaskHeader& operator=(const TaskHeader&) = delete;

  // ---- introspection -------------------------------------------------------

  TaskId id() const noexcept { return id_; }
  SpawnSite spawn_site() const noexcept { return SpawnSite{spawn_file_, spawn_line_}; }
  TaskRunState run_state() const noexcept {
    const std::uint64_t s = state_.load(std::memory_order_acquire);
    if (s & kComplete) return TaskRunState::kComplete;
    if (s & kRunning) return TaskRunState::kRunning;
    if (s & kNotified) return TaskRunState::kScheduled;
    return TaskRunState::kIdle;
  }
  TaskInfo info() const noexcept { return TaskInfo{id_, spawn_site(), run_state()}; }
  bool is_complete() const noexcept { return (state_.load(std::memory_order_acquire) & kComplete) != 0; }
  // FROM_OUTSIDE (see the state word): set by the spawner before it
  // publishes the task; read by whoever got the task through a queue.
  void mark_from_outside() noexcept {
    state_.store(state_.load(std::memory_order_relaxed) | kFromOutside, std::memory_order_relaxed);
  }
  bool from_outside() const noexcept { return (state_.load(std::memory_order_relaxed) & kFromOutside) != 0; }
  Scheduler* scheduler() const noexcept { return scheduler_; }
  // For tests and assertions only (racy by nature).
  std::uint64_t state_for_testing() const noexcept { return state_.load(std::memory_order_acquire); }

  // ---- executors -----------------------------------------------------------

  // Intrusive run-queue link (belongs to the holder of the (N) reference).
  TaskHeader*& queue_next() noexcept { return queue_next_; }

  // TaskHeader::run()
  //
  // Polls the task once with a fresh `Budget`, consuming the caller's (N)
  // reference: (3), then (5) or (6). If the task was woken during the poll it
  // is handed back through `schedule(this, kYield)`.
  void run() noexcept {
    switch (transition_to_running()) {
      case ToRunning::kSuccess:
        vtable_->poll(this);
        return;
      case ToRunning::kCancelled:
        vtable_->cancel(this);
        complete(kOutNone, 1);
        return;
      case ToRunning::kFailed:
        return;
      case ToRunning::kDealloc:
        vtable_->dealloc(this);
        return;
    }
  }

  // TaskHeader::shutdown()
  //
  // (8) for executors shutting down: the task has been taken off the owned
  // list and the caller passes its (O) reference in. Cancels the task here if
  // it is idle or scheduled (the future's destructor runs on this thread);
  // if it is running elsewhere, the poller cancels it when its poll ends.
  void shutdown() noexcept {
    if (transition_to_shutdown()) {
      vtable_->cancel(this);
      complete(kOutNone, 1);  // unbind() returns false: drops just the (O) ref
    } else {
      drop_ref();
    }
  }

  // Takes one more reference (an `AbortHandle`'s, say); drop it with
  // `drop_ref()`.
  void add_ref() noexcept { ref_inc(); }

  // Drops one reference (e.g. an (N) reference drained from a queue at
  // shutdown); frees the task when it was the last.
  void drop_ref() noexcept {
    const std::uint64_t prev = state_.fetch_sub(kRefOne, std::memory_order_acq_rel);
    WEFT_ASSERT(refs_of(prev) >= 1, "task reference count underflow");
    if (refs_of(prev) == 1) vtable_->dealloc(this);
  }

  // ---- the typed poll (task.h) calls these to finish a poll ----------------

  // (5) after the future returned Pending. Inline into the typed poll: its
  // common case is one CAS (GCC called it out of line, once per poll).
  [[gnu::always_inline]] void poll_pending() noexcept {
    switch (transition_to_idle()) {
      case ToIdle::kOk:
        return;
      case ToIdle::kNotified:
        scheduler_->schedule(this, ScheduleHint::kYield);
        return;
      case ToIdle::kDealloc:
        vtable_->dealloc(this);
        return;
      case ToIdle::kCancelled:
        vtable_->cancel(this);
        complete(kOutNone, 1);
        return;
    }
  }

  // (6) The future is gone and the output of kind `out` (kOutValue,
  // kOutError, kOutNone) is stored; the caller holds RUNNING. `held` is the
  // number of references the caller passes in (1 for a poll's (N) ref, 0 for
  // `cancel_now`).
  void complete(std::uint64_t out, std::uint64_t held) noexcept {
    const std::uint64_t delta = kRunning | kComplete | out;
    // Off the owned list first: after the state step below this thread may
    // no longer own the task.
    const std::uint64_t n = held + (scheduler_->unbind(this) ? 1 : 0);
    std::uint64_t s = state_.load(std::memory_order_acquire);
    bool output_dropped = false;
    for (;;) {
      WEFT_ASSERT((s & (kRunning | kComplete)) == kRunning, "task completed twice or while not running");
      if ((s & (kJoinInterest | kJoinWaker)) == (kJoinInterest | kJoinWaker)) break;  // must wake it
      // Nothing to wake: COMPLETE and our references in one step. With no
      // JoinHandle (it cannot come back) the output is ours to drop first;
      // with one, the handle may free the task as soon as the step is made.
      if ((s & kJoinInterest) == 0 && !output_dropped) {
        vtable_->drop_output(this, s ^ delta);
        output_dropped = true;
      }
      const std::uint64_t next = (s ^ delta) - n * kRefOne;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (refs_of(next) == 0) vtable_->dealloc(this);
        return;
      }
    }
    // The handle waits: publish COMPLETE (and the output), wake it, then
    // give the field back. (The handle may have taken the field back or
    // gone since the load above: `now` says.)
    const std::uint64_t prev = state_.fetch_xor(delta, std::memory_order_acq_rel);
    WEFT_ASSERT((prev & (kRunning | kComplete)) == kRunning, "task completed twice or while not running");
    const std::uint64_t now = prev ^ delta;
    if ((now & kJoinInterest) == 0) {
      vtable_->drop_output(this, now);
    } else if (now & kJoinWaker) {
      join_waker_.wake_by_ref();
      // Clear JOIN_WAKER. While the handle exists, our references go in the
      // same step; if it was dropped meanwhile, the waker is ours to drop
      // first.
      s = state_.load(std::memory_order_acquire);
      for (;;) {
        if (s & kJoinInterest) {
          const std::uint64_t next = (s & ~kJoinWaker) - n * kRefOne;
          if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
            return;  // the handle still holds a reference: no dealloc here
          }
        } else if (state_.compare_exchange_weak(s, s & ~kJoinWaker, std::memory_order_acq_rel,
                                                std::memory_order_acquire)) {
          join_waker_ = Waker();
          break;
        }
      }
    }
    if (n != 0) {
      const std::uint64_t before = state_.fetch_sub(n * kRefOne, std::memory_order_acq_rel);
      if (refs_of(before) == n) vtable_->dealloc(this);
    }
  }

  // ---- JoinHandle side -----------------------------------------------------

  // Returns true if the task is complete (the output can be taken); otherwise
  // makes sure `waker` will be woken at completion and returns false.
  bool join_poll(const Waker& waker) noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    WEFT_ASSERT(s & kJoinInterest, "JoinHandle polled without join interest");
    if (s & kComplete) return true;
    if (s & kJoinWaker) {
      if (join_waker_.will_wake(waker)) return false;  // read-only access: allowed
      // Take the field back: clear JOIN_WAKER unless the task completed.
      for (;;) {
        if (s & kComplete) return true;
        if (state_.compare_exchange_weak(s, s & ~kJoinWaker, std::memory_order_acq_rel,
                                         std::memory_order_acquire)) {
          break;
        }
      }
    }
    join_waker_ = waker;  // we own the field now
    s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & kComplete) {
        join_waker_ = Waker();
        return true;
      }
      if (state_.compare_exchange_weak(s, s | kJoinWaker, std::memory_order_acq_rel,
                                       std::memory_order_acquire)) {
        return false;
      }
    }
  }

  // After `join_poll` returned true: moves the output into
  // `*static_cast<std::optional<JoinResult<T>>*>(dst)`.
  void join_take_output(void* dst) noexcept {
    vtable_->take_output(this, dst, state_.load(std::memory_order_acquire));
  }

  // The JoinHandle goes away (`output_taken`: it already took the output).
  // Drops the output if the task completed, the join waker if the handle
  // owns it, then the (J) reference (in the same CAS when nothing is left to
  // drop, which is the case after the output was taken; with no atomic step
  // at all when the task is complete and (J) is its last reference).
  void join_drop(bool output_taken) noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    // JOIN_WAKER clear: the field is the handle's (empty or stale); only the
    // handle sets JOIN_WAKER, so it stays clear and the field stays ours.
    if ((s & kJoinWaker) == 0) join_waker_ = Waker();
    // Complete and ours is the last reference: nobody else can reach the
    // task (a reference is only ever copied from another one), so no atomic
    // step is needed; the acquire load saw every other holder's last step.
    if ((s & (kComplete | kJoinWaker)) == kComplete && refs_of(s) == 1) {
      if (!output_taken) vtable_->drop_output(this, s);
      vtable_->dealloc(this);
      return;
    }
    bool drop_output = false;
    bool drop_waker = false;
    bool merged = false;
    std::uint64_t next;
    for (;;) {
      WEFT_ASSERT(s & kJoinInterest, "JoinHandle dropped twice");
      next = s & ~kJoinInterest;
      drop_output = (s & kComplete) != 0 && !output_taken;
      drop_waker = false;
      if ((s & kJoinWaker) != 0 && (s & kComplete) == 0) {
        next &= ~kJoinWaker;  // take it back before the task can read it
        drop_waker = true;
      }  // COMPLETE with JOIN_WAKER: the completer drops it (see complete()).
      merged = !drop_output && !drop_waker;
      if (merged) next -= kRefOne;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        break;
      }
    }
    if (merged) {
      if (refs_of(next) == 0) vtable_->dealloc(this);
      return;
    }
    if (drop_output) vtable_->drop_output(this, s);
    if (drop_waker) join_waker_ = Waker();
    drop_ref();
  }

  // (7) Requests cancellation at the next pending point.
  void abort() noexcept {
    if (transition_to_notified_and_cancel()) scheduler_->schedule(this, ScheduleHint::kWake);
  }

  // TaskHeader::cancel_now()
  //
  // Synchronous cancellation for structured concurrency (TaskScope): if the
  // task is idle or scheduled, takes RUNNING, destroys the future on the
  // calling thread and completes the task as cancelled; returns true. Returns
  // true also if it already completed. Returns false if another thread is
  // polling it right now: CANCELLED is set and that poller cancels it when its
  // poll ends (the caller waits for `is_complete()`). The caller holds a
  // reference (its JoinHandle's).
  bool cancel_now() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & kComplete) return true;
      std::uint64_t next = s | kCancelled;
      const bool idle = (s & kRunning) == 0;
      if (idle) next |= kRunning;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        if (!idle) return false;
        break;
      }
    }
    vtable_->cancel(this);
    complete(kOutNone, 0);
    return true;
  }

  // ---- the task's Waker ----------------------------------------------------

  // A new (W) reference as a Waker.
  Waker make_waker() noexcept {
    ref_inc();
    return Waker::from_raw(RawWaker{this, &kWakerVTable});
  }
  // A Waker for the poll in progress that owns no reference: the typed poll
  // makes one, lends it through the Context, and gives it up with `into_raw`
  // (tokio's `WakerRef`). Clones of it are ordinary (W) references.
  RawWaker borrowed_raw_waker() noexcept { return RawWaker{this, &kWakerVTable}; }

  static const RawWakerVTable kWakerVTable;

 protected:
  ~TaskHeader() = default;

 private:
  enum class ToRunning : std::uint8_t { kSuccess, kCancelled, kFailed, kDealloc };
  enum class ToIdle : std::uint8_t { kOk, kNotified, kDealloc, kCancelled };
  enum class ByVal : std::uint8_t { kNothing, kSubmit, kDealloc };

  void ref_inc() noexcept { state_.fetch_add(kRefOne, std::memory_order_relaxed); }

  // (3)
  ToRunning transition_to_running() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      WEFT_ASSERT(s & kNotified, "a task was run without being notified");
      std::uint64_t next;
      ToRunning action;
      if (s & (kRunning | kComplete)) {
        next = s - kRefOne;
        action = refs_of(next) == 0 ? ToRunning::kDealloc : ToRunning::kFailed;
      } else {
        next = (s & ~(kNotified | kFromOutside)) | kRunning;  // FROM_OUTSIDE: bound by now
        action = (s & kCancelled) ? ToRunning::kCancelled : ToRunning::kSuccess;
      }
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return action;
      }
    }
  }

  // (5)
  // Inline into poll_pending (so into every typed poll): one CAS in the
  // common case, which GCC otherwise called out of line.
  [[gnu::always_inline]] ToIdle transition_to_idle() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      WEFT_ASSERT(s & kRunning, "transition_to_idle on a task that is not running");
      if (s & kCancelled) return ToIdle::kCancelled;
      std::uint64_t next = s & ~kRunning;
      ToIdle action;
      if (s & kNotified) {
        action = ToIdle::kNotified;  // the poll's (N) ref stays, for the new schedule
      } else {
        next -= kRefOne;
        action = refs_of(next) == 0 ? ToIdle::kDealloc : ToIdle::kOk;
      }
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return action;
      }
    }
  }

  // (2)/(4), consuming a (W) reference.
  ByVal transition_to_notified_by_val() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      std::uint64_t next;
      ByVal action;
      if (s & kRunning) {
        next = (s | kNotified) - kRefOne;
        action = ByVal::kNothing;
      } else if (s & (kComplete | kNotified)) {
        next = s - kRefOne;
        action = refs_of(next) == 0 ? ByVal::kDealloc : ByVal::kNothing;
      } else {
        next = s | kNotified;  // the (W) ref becomes the (N) ref
        action = ByVal::kSubmit;
      }
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return action;
      }
    }
  }

  // (2)/(4), keeping the (W) reference. True: schedule a new (N) ref.
  bool transition_to_notified_by_ref() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & (kComplete | kNotified)) return false;
      std::uint64_t next = s | kNotified;
      const bool submit = (s & kRunning) == 0;
      if (submit) next += kRefOne;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return submit;
      }
    }
  }

  // (7). True: schedule a new (N) ref.
  bool transition_to_notified_and_cancel() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      if (s & (kCancelled | kComplete)) return false;
      std::uint64_t next = s | kCancelled | kNotified;
      const bool submit = (s & (kRunning | kNotified)) == 0;
      if (submit) next += kRefOne;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return submit;
      }
    }
  }

  // (8). True: the caller took RUNNING and must cancel.
  bool transition_to_shutdown() noexcept {
    std::uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      const bool idle = (s & (kRunning | kComplete)) == 0;
      std::uint64_t next = s | kCancelled;
      if (idle) next |= kRunning;
      if (state_.compare_exchange_weak(s, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        return idle;
      }
    }
  }

  static TaskHeader* self(const void* p) noexcept { return static_cast<TaskHeader*>(const_cast<void*>(p)); }
  static RawWaker waker_clone(const void* p) noexcept {
    self(p)->ref_inc();
    return RawWaker{p, &kWakerVTable};
  }
  static void waker_wake(const void* p) noexcept {
    TaskHeader* t = self(p);
    switch (t->transition_to_notified_by_val()) {
      case ByVal::kNothing:
        return;
      case ByVal::kSubmit:
        t->scheduler_->schedule(t, ScheduleHint::kWake);
        return;
      case ByVal::kDealloc:
        t->vtable_->dealloc(t);
        return;
    }
  }
  static void waker_wake_by_ref(const void* p) noexcept {
    TaskHeader* t = self(p);
    if (t->transition_to_notified_by_ref()) t->scheduler_->schedule(t, ScheduleHint::kWake);
  }
  static void waker_drop(const void* p) noexcept { self(p)->drop_ref(); }

  Atomic<std::uint64_t> state_;
  TaskHeader* queue_next_ = nullptr;
  const TaskVTable* const vtable_;
  Scheduler* const scheduler_;
  Waker join_waker_;
  const char* const spawn_file_;
  const std::uint32_t spawn_line_;
  const TaskId id_;
};

inline constexpr RawWakerVTable TaskHeader::kWakerVTable = {&TaskHeader::waker_clone, &TaskHeader::waker_wake,
                                                            &TaskHeader::waker_wake_by_ref,
                                                            &TaskHeader::waker_drop};

static_assert(sizeof(void*) != 8 || sizeof(TaskHeader) == 80,
              "TaskHeader must stay 80 bytes on 64-bit targets (the issue's budget: <= 96 bytes per "
              "parked task beyond its future, allocator overhead included)");

// OwnedTaskList
//
// Every live task of one executor, in spawn order: an intrusive circular list
// through `OwnedLink` with a sentinel. Not thread-safe: a single-thread
// executor uses it as is, a pool guards it with a mutex. Immovable (the
// sentinel's address is in the list).
class OwnedTaskList {
 public:
  OwnedTaskList() noexcept { head_.prev = head_.next = &head_; }
  OwnedTaskList(const OwnedTaskList&) = delete;
  OwnedTaskList& operator=(const OwnedTaskList&) = delete;
  ~OwnedTaskList() { WEFT_ASSERT(empty(), "OwnedTaskList destroyed with tasks on it"); }

  bool empty() const noexcept { return head_.next == &head_; }
  std::size_t size() const noexcept { return size_; }

  void push_back(TaskHeader* t) noexcept {
    OwnedLink* n = t;
    WEFT_ASSERT(n->next == nullptr, "task is already on an owned list");
    n->prev = head_.prev;
    n->next = &head_;
    head_.prev->next = n;
    head_.prev = n;
    size_ += 1;
  }

  // Unlinks `t` if it is on the list; false if it was not.
  bool remove(TaskHeader* t) noexcept {
    OwnedLink* n = t;
    if (n->next == nullptr) return false;
    n->prev->next = n->next;
    n->next->prev = n->prev;
    n->prev = n->next = nullptr;
    size_ -= 1;
    return true;
  }

  // Unlinks and returns the oldest task, or nullptr.
  TaskHeader* pop_front() noexcept {
    if (empty()) return nullptr;
    TaskHeader* t = static_cast<TaskHeader*>(head_.next);
    remove(t);
    return t;
  }

  template <class Fn>
  void for_each(Fn&& fn) const {
    for (const OwnedLink* n = head_.next; n != &head_; n = n->next) {
      fn(*static_cast<const TaskHeader*>(n));
    }
  }

 private:
  OwnedLink head_;
  std::size_t size_ = 0;
};

// TaskQueue
//
// An intrusive FIFO of (N) references through `queue_next()`. Not
// thread-safe.
class TaskQueue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  void push_back(TaskHeader* t) noexcept {
    t->queue_next() = nullptr;
    if (tail_ == nullptr) {
      head_ = t;
    } else {
      tail_->queue_next() = t;
    }
    tail_ = t;
    size_ += 1;
  }
  TaskHeader* pop_front() noexcept {
    TaskHeader* t = head_;
    if (t == nullptr) return nullptr;
    head_ = t->queue_next();
    if (head_ == nullptr) tail_ = nullptr;
    t->queue_next() = nullptr;
    size_ -= 1;
    return t;
  }
  // Appends all of `o` (which becomes empty).
  void splice_back(TaskQueue& o) noexcept {
    if (o.head_ == nullptr) return;
    if (tail_ == nullptr) {
      head_ = o.head_;
    } else {
      tail_->queue_next() = o.head_;
    }
    tail_ = o.tail_;
    size_ += o.size_;
    o.head_ = o.tail_ = nullptr;
    o.size_ = 0;
  }

 private:
  TaskHeader* head_ = nullptr;
  TaskHeader* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_TASK_HEADER_H_
