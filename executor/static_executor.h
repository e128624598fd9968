// -----------------------------------------------------------------------------
// File: executor/static_executor.h
// -----------------------------------------------------------------------------
//
// `StaticExecutor<N>`: an executor for bare metal. It runs up to `N` tasks
// whose futures live in user-declared `TaskStorage<F>` (or `TaskPool<F, K>`)
// objects, typically `constinit` globals; a full table is an error value
// (`SpawnError::kBusy`), never a crash. Waking a task sets one bit in an
// atomic ready mask, so it is safe from an interrupt handler. No heap, no
// OS, no exceptions. Rust: `embassy_executor` (`Executor`, `TaskStorage`,
// `TaskPool`, `SpawnError::Busy`).
//
//   TaskStorage<F>        room for one task whose future is `F` (the future
//                         and, once it finished, its output share the room).
//   TaskPool<F, K>        `K` such storages; a spawn takes the first free one.
//   StaticExecutor<N, Lock, Idle>
//     spawn(storage, make)  builds the future in place with `make()` (which
//                           returns an `F` by value: guaranteed elision, so
//                           `F` may be immovable) in a free slot; returns a
//                           `SpawnResult<StaticTaskHandle<F>>`.
//     poll_once()           polls every task that is ready, once each.
//     run_until_idle()      `poll_once()` until no task is ready.
//     run_until(done)       polls, sleeping through `Idle` when nothing is
//                           ready, until `done()` is true; `run()`: for ever.
//     abort(handle)         cancels a task (destroys its future).
//     wake(slot), waker(slot)   wake a slot directly (an interrupt handler
//                           that knows its task's slot needs no Waker).
//   StaticTaskHandle<F>   `is_finished()`, `take_output()`, `slot()`.
//
// Lock policy (`Lock`), picked by capability like embassy's run queue:
//   AtomicPolicy           (default where `int` atomics are lock-free, e.g.
//                          Cortex-M3/M4/M7, hosted): a wake is one
//                          `fetch_or`; any thread or interrupt may wake.
//   CriticalSectionPolicy  (default elsewhere, e.g. Cortex-M0 without
//                          LDREX/STREX): the mask is changed with interrupts
//                          masked (`cpsid i`). Single core only; on hosted
//                          builds the critical section is a no-op, so there
//                          it is for single-threaded use (tests).
// Idle policy (`Idle`, what `run` does when no task is ready):
//   WaitForInterrupt  (default, Cortex-M) checks the mask with interrupts
//                     masked, then `wfi`: an interrupt that arrives after the
//                     check still ends the `wfi` (no lost wake-up).
//   WaitForEvent      (Cortex-M) `wfe`; every wake does `sev`, so wakes from
//                     another core or with interrupts masked also end it.
//   ParkIdle          (hosted, executor/static_park.h, target
//                     //executor:static_park) parks the thread on a futex;
//                     wakes from other threads unpark it.
//   On a hosted build `WaitForInterrupt` does not exist: `run`/`run_until`
//   then fail to compile with a message; use `run_until_idle()` or ParkIdle.
//   An `Idle` type has `template <class P> void wait(P has_work) noexcept`
//   (sleep unless `has_work()`; may return spuriously; must not miss a
//   `notify` that follows a `has_work()` that returned false) and
//   `void notify() noexcept` (called by every wake, from any context).
//
// Scheduling: a pass takes the whole ready mask at once (one atomic exchange
// per 32 slots) and polls each task that was set in it once, in round-robin
// order starting after the last task polled. A task woken while it runs
// (itself, or by another) is polled again in the next pass, never twice in
// one, so a task that always wakes itself cannot starve the others; each
// poll gets a fresh cooperative `Budget` (future/context.h), so one poll of a
// task that loops over always-ready futures is bounded too.
//
// Costs:
//   - no allocation, ever; no locks (AtomicPolicy) or interrupts masked for a
//     few instructions (CriticalSectionPolicy).
//   - sizeof(StaticExecutor<N>): N pointers + 8 bytes per 32 slots + 7,
//     rounded up to its alignment, which is `bit_ceil(N)` bytes (at least a
//     pointer's): a waker's data pointer is the executor's address plus the
//     slot index, so a waker is just (data, vtable) and clone/drop are
//     no-ops. E.g. 288 bytes for N = 32 on x86-64, 160 on Cortex-M; 24
//     and 20 for N = 1.
//   - per task: sizeof(TaskStorage<F>) = a 16-byte header (12 on 32-bit)
//     + max(sizeof(F), sizeof(output)), plus its executor slot (a pointer)
//     and one bit.
//   - a wake: one `fetch_or` (+ `Idle::notify`); a pass: one `exchange` per
//     32 slots + an indirect call per polled task.
//
// Contract:
//   - Owner: `spawn`, `abort`, `poll_once`, `run*`, `take_output` and the
//     destructor are called from one thread (or, on bare metal, from thread
//     mode, not from an interrupt handler), one at a time. A task may spawn
//     and abort (also itself: it is cancelled when its poll returns) while
//     it is polled; it must not call `poll_once`/`run*`. Wakers (and
//     `wake(slot)`, `StaticTaskHandle::is_finished`) may be used from any
//     thread or interrupt handler (AtomicPolicy), or from interrupt handlers
//     of the same core (CriticalSectionPolicy).
//   - Lifetime: the executor must outlive every waker made for it, and every
//     storage must outlive the executor it runs on (declare storages before
//     the executor; for `constinit` globals that is also the right
//     destruction order). Destroying a storage whose task runs is a
//     hardening assert; the executor must not move (it cannot: not copyable,
//     not movable).
//   - Stale wakers are harmless: a waker whose task finished (or was
//     aborted) sets the bit of its old slot; if the slot is free the pass
//     skips it, and if a new task took the slot that task is polled once
//     more than it needed, which every future must tolerate (a spurious
//     poll). A stale `StaticTaskHandle` is told apart by a generation number
//     (30 bits) in the storage: `abort` and `take_output` ignore it.
//   - `make()` only builds the future; it must not call into the executor.
//     A `Task` whose frame could not be allocated (arena full) is destroyed
//     again and the spawn returns `SpawnError::kNoMemory`.
//   - `poll` of the futures is called inside `noexcept` functions: on a
//     hosted build an exception escaping a task terminates.
//   - Constant initialisation: `StaticExecutor`, `TaskStorage` and
//     `TaskPool` have constexpr constructors, so they can be `constinit`
//     globals; their initial object representation is all zero bytes (they
//     go in .bss, no constructor runs at start-up).
// Memory ordering: a wake is `fetch_or(release)` and a pass takes the mask
// with `exchange(acquire)`, so what a waker wrote before waking is visible to
// the poll the wake causes. Task states: see executor/internal/static_task.h.
// Cancellation: `abort(handle)` and the executor's destructor destroy the
// future in place (at its last Pending point), running its destructors; a
// finished task's output stays in its storage until `take_output()`, a
// respawn of the storage (which drops it) or the storage's destruction.
//
// Example (firmware: a producer and a consumer task, and an interrupt handler
// that wakes the producer once per SysTick; `Signal` is user code):
//
//   struct Signal {                         // a flag and the task waiting for it
//     bool raised = false;
//     weft::Waker waiter;
//     void raise() noexcept {               // from a task or an interrupt handler
//       weft::CriticalSection cs;
//       raised = true;
//       waiter.wake_by_ref();               // StaticExecutor: sets a ready bit
//     }
//     auto wait() noexcept {                // a future: Ready once raised
//       return weft::poll_fn([this](weft::Context& cx) -> weft::Poll<weft::Unit> {
//         weft::CriticalSection cs;
//         if (std::exchange(raised, false)) return weft::Unit{};
//         weft::register_waker(waiter, cx.waker());
//         return weft::Pending{};
//       });
//     }
//   };
//
//   struct ArenaTag;
//   using Job = weft::Task<int, weft::TaskArena<1024, ArenaTag>>;  // frames in .bss
//   constinit Signal tick, full, empty{.raised = true, .waiter = {}};
//   int mailbox = 0;
//
//   Job producer() {                        // one value per tick
//     for (int i = 1; i <= 3; ++i) {
//       co_await tick.wait();
//       co_await empty.wait();
//       mailbox = i;
//       full.raise();
//     }
//     co_return 0;
//   }
//   Job consumer() {                        // sums what the producer sends
//     int sum = 0;
//     for (int i = 0; i < 3; ++i) {
//       co_await full.wait();
//       sum += mailbox;
//       empty.raise();
//     }
//     co_return sum;
//   }
//
//   constinit weft::TaskStorage<Job> producer_task, consumer_task;
//   constinit weft::StaticExecutor<4> executor;          // after the storages
//
//   extern "C" void SysTick_Handler() { tick.raise(); }  // an interrupt
//
//   int main() {
//     auto p = executor.spawn(producer_task, [] { return producer(); });
//     auto c = executor.spawn(consumer_task, [] { return consumer(); });
//     if (!p || !c) return 1;                            // kBusy or kNoMemory
//     executor.run_until([&] { return c->is_finished(); });  // wfi while idle
//     return *c->take_output() == 6 ? 0 : 1;
//   }
//
#ifndef WEFT_EXECUTOR_STATIC_EXECUTOR_H_
#define WEFT_EXECUTOR_STATIC_EXECUTOR_H_

#include <atomic>
#include <bit>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "executor/error.h"
#include "executor/internal/static_task.h"
#include "executor/internal/sync.h"
#include "tools/base/sync.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"


namespace weft {

// CriticalSection, AtomicPolicy, CriticalSectionPolicy and DefaultLockPolicy
// live in tools/base/sync.h (shared with the static channels).

// -----------------------------------------------------------------------------
// Idle policies (what `run` does while no task is ready)
// -----------------------------------------------------------------------------

namespace executor_internal {
template <class T>
inline constexpr bool kNoHostedIdle = sizeof(T) == 0;
}  // namespace executor_internal

// WaitForInterrupt
//
// Cortex-M: checks `has_work()` with interrupts masked and executes `wfi`
// unless there is work; a pending interrupt ends `wfi` even while masked,
// and runs once PRIMASK is restored. `notify` does nothing (an interrupt
// that wakes a task has already woken the core). The default `Idle`.
struct WaitForInterrupt {
  template <class HasWork>
  void wait(HasWork&& has_work) noexcept {
#if WEFT_CORTEX_M
    CriticalSection cs;
    if (!has_work()) __asm__ volatile("dsb\n\twfi" : : : "memory");
#else
    static_assert(executor_internal::kNoHostedIdle<HasWork>,
                  "StaticExecutor::run()/run_until() sleep through the Idle policy, and "
                  "WaitForInterrupt/WaitForEvent exist only on Cortex-M. On a hosted build use "
                  "run_until_idle(), or StaticExecutor<N, AtomicPolicy, ParkIdle> "
                  "(executor/static_park.h, //executor:static_park).");
    (void)has_work;
#endif
  }
  void notify() noexcept {}
};

// WaitForEvent
//
// Cortex-M: `wfe` unless `has_work()`; every wake executes `sev`, so a wake
// from another core, or from code running with interrupts masked, ends it
// too (the event register is sticky: a `sev` before the `wfe` is not lost).
struct WaitForEvent {
  template <class HasWork>
  void wait(HasWork&& has_work) noexcept {
#if WEFT_CORTEX_M
    if (!has_work()) __asm__ volatile("wfe" : : : "memory");
#else
    static_assert(executor_internal::kNoHostedIdle<HasWork>,
                  "WaitForEvent exists only on Cortex-M; on a hosted build use ParkIdle "
                  "(executor/static_park.h) or run_until_idle().");
    (void)has_work;
#endif
  }
  void notify() noexcept {
#if WEFT_CORTEX_M
    __asm__ volatile("dsb\n\tsev" : : : "memory");
#endif
  }
};

// PlatformIdle: the default `Idle` (WaitForInterrupt).
using PlatformIdle = WaitForInterrupt;

// -----------------------------------------------------------------------------
// Task storage
// -----------------------------------------------------------------------------

// StaticTaskState: what a `TaskStorage` holds.
enum class StaticTaskState : std::uint8_t {
  kVacant = executor_internal::StaticTaskHeader::kVacant,        // nothing
  kRunning = executor_internal::StaticTaskHeader::kRunning,      // a future, in a slot
  kFinished = executor_internal::StaticTaskHeader::kFinished,    // an output, not yet taken
  kCancelled = executor_internal::StaticTaskHeader::kCancelled,  // nothing: aborted
};

template <std::size_t N, class Lock = DefaultLockPolicy, class Idle = PlatformIdle>
class StaticExecutor;
template <class F>
class StaticTaskHandle;

// TaskStorage<F>
//
// Room for one task whose future is `F`; its output (`OutputOf<F>`) takes
// the future's place when it finishes. Reusable once the task finished or
// was cancelled. Constant-initialised to zero bytes (see the header
// comment); not copyable or movable (the executor points into it).
template <class F>
class TaskStorage : private executor_internal::StaticTaskHeader {
  static_assert(Future<F>, "TaskStorage<F>: F must be a weft Future (Output + poll(Context&))");

 public:
  using FutureType = F;
  using Output = OutputOf<F>;

  constexpr TaskStorage() noexcept = default;
  TaskStorage(const TaskStorage&) = delete;
  TaskStorage& operator=(const TaskStorage&) = delete;
  ~TaskStorage() {
    const std::uint32_t state = state_of(load_owner());
    WEFT_HARDENING_ASSERT(state != kRunning,
                          "TaskStorage destroyed while its task runs: destroy the executor (or "
                          "abort the task) first");
    if (state == kFinished) cell_.out.~Output();
  }

  // Any thread.
  StaticTaskState state() const noexcept { return static_cast<StaticTaskState>(state_of(load())); }
  bool is_running() const noexcept { return state_of(load()) == kRunning; }

 private:
  template <std::size_t, class, class>
  friend class StaticExecutor;
  friend class StaticTaskHandle<F>;
  using Header = executor_internal::StaticTaskHeader;

  union Cell {
    struct Empty {};
    constexpr Cell() noexcept : empty() {}
    Cell(const Cell&) = delete;
    Cell& operator=(const Cell&) = delete;
    ~Cell() {}

    Empty empty;
    F fut;
    Output out;
  };

  Header& header() noexcept { return *this; }

  static bool poll_task(Header& h, Context& cx) noexcept {
    TaskStorage& self = static_cast<TaskStorage&>(h);
    Poll<Output> p = self.cell_.fut.poll(cx);
    if (p.is_pending()) return false;
    self.cell_.fut.~F();
    ::new (static_cast<void*>(std::addressof(self.cell_.out))) Output(std::move(p).value());
    self.publish(generation_of(self.load_owner()), kFinished);
    return true;
  }
  static void cancel_task(Header& h) noexcept {
    TaskStorage& self = static_cast<TaskStorage&>(h);
    self.cell_.fut.~F();
    self.publish(generation_of(self.load_owner()), kCancelled);
  }
  static constexpr executor_internal::StaticTaskVTable kVTable = {&poll_task, &cancel_task};

  // Owner: drops a finished task's untaken output; returns the next
  // generation number.
  std::uint32_t clear_for_spawn() noexcept {
    const std::uint32_t word = load_owner();
    if (state_of(word) == kFinished) cell_.out.~Output();
    return (generation_of(word) + 1) & kGenerationMask;
  }

  // Owner: the output of generation `gen`, once.
  std::optional<Output> take_output(std::uint32_t gen) noexcept {
    const std::uint32_t word = load_owner();
    if (generation_of(word) != gen || state_of(word) != kFinished) return std::nullopt;
    std::optional<Output> out(std::move(cell_.out));
    cell_.out.~Output();
    publish(gen, kVacant);
    return out;
  }

  Cell cell_;
};

// TaskPool<F, K>
//
// `K` storages for tasks of the same future type; `spawn(pool, make)` takes
// the first one that is not running. Constant-initialised to zero bytes.
template <class F, std::size_t K>
class TaskPool {
  static_assert(K >= 1, "TaskPool<F, K>: K must be at least 1");

 public:
  constexpr TaskPool() noexcept = default;
  TaskPool(const TaskPool&) = delete;
  TaskPool& operator=(const TaskPool&) = delete;

  static constexpr std::size_t size() noexcept { return K; }
  TaskStorage<F>& operator[](std::size_t i) noexcept {
    WEFT_HARDENING_ASSERT(i < K, "TaskPool index out of range");
    return storages_[i];
  }
  // Any thread: how many storages run a task.
  std::size_t running() const noexcept {
    std::size_t n = 0;
    for (const TaskStorage<F>& s : storages_) n += s.is_running() ? 1 : 0;
    return n;
  }

 private:
  template <std::size_t, class, class>
  friend class StaticExecutor;

  TaskStorage<F> storages_[K];
};

// StaticTaskHandle<F>
//
// What a successful spawn returns: names one run of a task (storage +
// generation). Copyable, two words; never owns anything, so dropping it does
// not cancel the task (Rust: a detached `JoinHandle`).
template <class F>
class StaticTaskHandle {
 public:
  using Output = OutputOf<F>;

  // Any thread: true once this run completed or was cancelled (also when the
  // storage has since been reused by a later spawn).
  bool is_finished() const noexcept {
    const std::uint32_t word = storage_->load();
    return Header::generation_of(word) != gen_ || Header::state_of(word) != Header::kRunning;
  }
  // Any thread: true if this run was aborted (and the storage not reused).
  bool is_cancelled() const noexcept {
    const std::uint32_t word = storage_->load();
    return Header::generation_of(word) == gen_ && Header::state_of(word) == Header::kCancelled;
  }
  // Owner: this run's output, if it finished and it was not taken yet (then
  // the storage is vacant); `std::nullopt` otherwise.
  std::optional<Output> take_output() noexcept { return storage_->take_output(gen_); }

  // The executor slot the task ran in (its wakers set this slot's bit).
  std::size_t slot() const noexcept { return slot_; }
  TaskStorage<F>& storage() const noexcept { return *storage_; }

 private:
  template <std::size_t, class, class>
  friend class StaticExecutor;
  using Header = executor_internal::StaticTaskHeader;

  StaticTaskHandle(TaskStorage<F>* storage, std::uint32_t gen, std::uint16_t slot) noexcept
      : storage_(storage), gen_(gen), slot_(slot) {}

  TaskStorage<F>* storage_;
  std::uint32_t gen_;
  std::uint16_t slot_;
};

// -----------------------------------------------------------------------------
// The executor
// -----------------------------------------------------------------------------

namespace executor_internal {

inline constexpr std::size_t kMaxStaticSlots = 256;

// The executor's alignment: a power of two above every slot index, so that
// `this + slot` encodes both in a waker's data pointer; at least the
// alignment of its members (`member_align`).
constexpr std::size_t static_executor_align(std::size_t n, std::size_t member_align) noexcept {
  const std::size_t a = (n == 0 || n > kMaxStaticSlots) ? 1 : std::bit_ceil(n);
  return a < member_align ? member_align : a;
}
constexpr std::size_t max_align_of(std::size_t a, std::size_t b, std::size_t c) noexcept {
  const std::size_t ab = a < b ? b : a;
  return ab < c ? c : ab;
}

}  // namespace executor_internal

// StaticExecutor<N, Lock, Idle>
//
// See the header comment. 1 <= N <= 256. Not copyable or movable (wakers
// hold its address).
template <std::size_t N, class Lock, class Idle>
class alignas(executor_internal::static_executor_align(
    N, executor_internal::max_align_of(alignof(void*), alignof(Idle),
                                       alignof(typename Lock::ReadyWord)))) StaticExecutor {
  static_assert(N >= 1 && N <= executor_internal::kMaxStaticSlots,
                "StaticExecutor<N>: N must be in [1, 256]");
  static_assert(!std::is_same_v<Lock, AtomicPolicy> || ATOMIC_INT_LOCK_FREE == 2,
                "StaticExecutor: AtomicPolicy needs lock-free atomic read-modify-write, which "
                "this target lacks (e.g. Cortex-M0): use CriticalSectionPolicy");

 public:
  constexpr StaticExecutor() = default;
  StaticExecutor(const StaticExecutor&) = delete;
  StaticExecutor& operator=(const StaticExecutor&) = delete;

  // Cancels every task still running (destroys its future in place).
  ~StaticExecutor() {
    WEFT_ASSERT(running_ == 0, "StaticExecutor destroyed from inside one of its tasks");
    for (std::size_t i = 0; i < N; ++i) {
      if (Header* task = slots_[i]) {
        task->vtable->cancel(*task);
        release(i);
      }
    }
  }

  static constexpr std::size_t capacity() noexcept { return N; }
  // Owner: slots taken by running tasks.
  std::size_t live() const noexcept { return live_; }
  // Owner: whether `slot` holds no task.
  bool is_free(std::size_t slot) const noexcept { return slot < N && slots_[slot] == nullptr; }
  // Any thread: whether some slot's ready bit is set (a hint).
  bool has_ready() const noexcept {
    for (const ReadyWord& w : ready_) {
      if (w.peek() != 0) return true;
    }
    return false;
  }

  // StaticExecutor::spawn(storage, make)
  //
  // Owner. Builds `make()` (which must return `F` by value) in `storage` and
  // schedules its first poll. `kBusy` if `storage` runs a task or every slot
  // is taken (`make` is then not called); `kNoMemory` if `make()` built a
  // `Task` whose frame could not be allocated. A finished task's untaken
  // output in `storage` is dropped.
  template <class F, class Make>
  SpawnResult<StaticTaskHandle<F>> spawn(TaskStorage<F>& storage, Make&& make) noexcept {
    static_assert(std::is_same_v<std::invoke_result_t<Make&&>, F>,
                  "StaticExecutor::spawn(storage, make): make() must return the storage's future "
                  "type F by value");
    if (storage.is_running()) return SpawnError::kBusy;
    const std::size_t slot = find_free();
    if (slot == N) return SpawnError::kBusy;
    return spawn_at(storage, slot, std::forward<Make>(make));
  }

  // StaticExecutor::spawn(pool, make)
  //
  // Owner. As above, in the first storage of `pool` that runs no task.
  template <class F, std::size_t K, class Make>
  SpawnResult<StaticTaskHandle<F>> spawn(TaskPool<F, K>& pool, Make&& make) noexcept {
    for (TaskStorage<F>& storage : pool.storages_) {
      if (!storage.is_running()) return spawn(storage, std::forward<Make>(make));
    }
    return SpawnError::kBusy;
  }

  // StaticExecutor::abort(handle)
  //
  // Owner. Cancels the run `handle` names if it is still running on this
  // executor: destroys its future now, or, if the task is the one being
  // polled (it aborts itself), right after its poll returns Pending (if that
  // poll completes it, the output is kept). Returns false for a finished,
  // cancelled, stale or foreign handle.
  template <class F>
  bool abort(const StaticTaskHandle<F>& handle) noexcept {
    Header& task = handle.storage_->header();
    const std::size_t slot = handle.slot_;
    if (slot >= N || slots_[slot] != &task) return false;
    const std::uint32_t word = task.load_owner();
    if (Header::generation_of(word) != handle.gen_ || Header::state_of(word) != Header::kRunning) {
      return false;
    }
    if (running_ == slot + 1) {
      abort_running_ = true;
      return true;
    }
    task.vtable->cancel(task);
    release(slot);
    return true;
  }

  // StaticExecutor::poll_once()
  //
  // Owner. One pass: takes the ready mask and polls each task that was
  // ready, once, round robin. Returns how many tasks it polled.
  std::size_t poll_once() noexcept {
    WEFT_ASSERT(running_ == 0,
                "StaticExecutor::poll_once must not be called from inside one of "
                "its tasks");
    std::uint32_t snapshot[kWords];
    bool any = false;
    for (std::size_t w = 0; w < kWords; ++w) {
      snapshot[w] = ready_[w].take();
      any = any || snapshot[w] != 0;
    }
    if (!any) return 0;
    const std::size_t start = cursor_;
    return poll_range(snapshot, start, N) + poll_range(snapshot, 0, start);
  }

  // StaticExecutor::run_until_idle()
  //
  // Owner. Passes until no task is ready (also when every task is finished,
  // or pending on something outside). Returns how many polls it made. Does
  // not return while some task keeps waking itself.
  std::size_t run_until_idle() noexcept {
    std::size_t polled = 0;
    while (has_ready()) polled += poll_once();
    return polled;
  }

  // StaticExecutor::run_until(done)
  //
  // Owner. Passes until `done()` (checked before each pass) is true,
  // sleeping through `Idle` whenever no task is ready. `done()` should
  // become true through the tasks' progress (it is not re-checked while
  // asleep).
  template <class Done>
  void run_until(Done&& done) noexcept {
    while (!done()) {
      if (has_ready()) {
        poll_once();
      } else {
        idle_.wait([this]() noexcept { return has_ready(); });
      }
    }
  }

  // StaticExecutor::run()
  //
  // Owner. Runs the tasks for ever.
  [[noreturn]] void run() noexcept {
    run_until([]() noexcept { return false; });
    __builtin_unreachable();
  }

  // StaticExecutor::wake(slot)
  //
  // Any thread or interrupt handler: marks `slot` ready (what its wakers do).
  void wake(std::size_t slot) noexcept {
    WEFT_ASSERT(slot < N, "StaticExecutor::wake: slot out of range");
    ready_[slot / 32].set(std::uint32_t{1} << (slot % 32));
    idle_.notify();
  }

  // StaticExecutor::waker(slot)
  //
  // A waker for `slot` (the one its task's Context carries).
  Waker waker(std::size_t slot) const noexcept {
    WEFT_ASSERT(slot < N, "StaticExecutor::waker: slot out of range");
    return Waker::from_raw(raw_waker(slot));
  }

  Idle& idle() noexcept { return idle_; }

 private:
  using Header = executor_internal::StaticTaskHeader;
  using ReadyWord = typename Lock::ReadyWord;
  static constexpr std::size_t kWords = (N + 31) / 32;

  // Waker encoding: data = (const unsigned char*)this + slot.
  RawWaker raw_waker(std::size_t slot) const noexcept {
    return RawWaker{reinterpret_cast<const unsigned char*>(this) + slot, &kWakerVTable};
  }
  static StaticExecutor* owner_of(const void* data) noexcept {
    const auto bits = reinterpret_cast<std::uintptr_t>(data);
    return reinterpret_cast<StaticExecutor*>(bits & ~(std::uintptr_t{alignof(StaticExecutor)} - 1));
  }
  static std::size_t slot_of(const void* data) noexcept {
    return reinterpret_cast<std::uintptr_t>(data) & (std::uintptr_t{alignof(StaticExecutor)} - 1);
  }
  static RawWaker waker_clone(const void* data) noexcept { return RawWaker{data, &kWakerVTable}; }
  static void waker_wake(const void* data) noexcept { owner_of(data)->wake(slot_of(data)); }
  static void waker_drop(const void*) noexcept {}
  static constexpr RawWakerVTable kWakerVTable = {&waker_clone, &waker_wake, &waker_wake,
                                                  &waker_drop};

  template <class F, class Make>
  SpawnResult<StaticTaskHandle<F>> spawn_at(TaskStorage<F>& storage, std::size_t slot,
                                            Make&& make) noexcept {
    Header& task = storage.header();
    const std::uint32_t gen = storage.clear_for_spawn();
    // Claim first (so that nothing else takes the slot or the storage), then
    // build the future in place: `make()` is a prvalue of type F, so it is
    // constructed directly in the cell (no move).
    task.vtable = &TaskStorage<F>::kVTable;
    task.slot = static_cast<std::uint16_t>(slot);
    task.publish(gen, Header::kRunning);
    claim(slot, &task);
    ::new (static_cast<void*>(std::addressof(storage.cell_.fut))) F(std::forward<Make>(make)());
    if constexpr (requires(const F& f) {
                    { f.allocation_failed() } -> std::convertible_to<bool>;
                  }) {
      if (storage.cell_.fut.allocation_failed()) {
        storage.cell_.fut.~F();
        task.publish(gen, Header::kVacant);
        release(slot);
        return SpawnError::kNoMemory;
      }
    }
    ready_[slot / 32].set(std::uint32_t{1} << (slot % 32));
    return StaticTaskHandle<F>(&storage, gen, static_cast<std::uint16_t>(slot));
  }

  // Polls the tasks of `snapshot` in [from, to).
  std::size_t poll_range(const std::uint32_t (&snapshot)[kWords], std::size_t from,
                         std::size_t to) noexcept {
    std::size_t polled = 0;
    for (std::size_t w = from / 32; w * 32 < to; ++w) {
      const std::size_t base = w * 32;
      std::uint32_t bits = snapshot[w];
      if (from > base) bits &= ~std::uint32_t{0} << (from - base);
      if (to < base + 32) bits &= (std::uint32_t{1} << (to - base)) - 1;
      while (bits != 0) {
        const std::size_t slot = base + static_cast<std::size_t>(std::countr_zero(bits));
        bits &= bits - 1;
        if (poll_slot(slot)) {
          polled += 1;
          cursor_ = static_cast<std::uint16_t>(slot + 1 == N ? 0 : slot + 1);
        }
      }
    }
    return polled;
  }

  // Polls the task in `slot`, if any (a stale wake may name a free slot).
  bool poll_slot(std::size_t slot) noexcept {
    Header* task = slots_[slot];
    if (task == nullptr) return false;
    running_ = static_cast<std::uint16_t>(slot + 1);
    Budget budget;
    Waker waker = Waker::from_raw(raw_waker(slot));
    Context cx(waker, &budget);
    bool done = task->vtable->poll(*task, cx);
    (void)std::move(waker).into_raw();  // its drop is a no-op: skip the call
    running_ = 0;
    if (abort_running_) {
      abort_running_ = false;
      if (!done) {
        task->vtable->cancel(*task);
        done = true;
      }
    }
    if (done) release(slot);
    return true;
  }

  std::size_t find_free() const noexcept {
    for (std::size_t w = 0; w < kWords; ++w) {
      std::uint32_t free = ~occupied_[w];
      if (w == kWords - 1 && N % 32 != 0) free &= (std::uint32_t{1} << (N % 32)) - 1;
      if (free != 0) return w * 32 + static_cast<std::size_t>(std::countr_zero(free));
    }
    return N;
  }
  void claim(std::size_t slot, Header* task) noexcept {
    slots_[slot] = task;
    occupied_[slot / 32] |= std::uint32_t{1} << (slot % 32);
    live_ += 1;
  }
  void release(std::size_t slot) noexcept {
    slots_[slot] = nullptr;
    occupied_[slot / 32] &= ~(std::uint32_t{1} << (slot % 32));
    live_ -= 1;
  }

  Header* slots_[N] = {};                // owner: the task in each slot
  ReadyWord ready_[kWords]{};            // any thread: the wake bits
  std::uint32_t occupied_[kWords] = {};  // owner: slots_[i] != nullptr
  std::uint16_t live_ = 0;               // owner: popcount(occupied_)
  std::uint16_t cursor_ = 0;             // owner: first slot of the next pass
  std::uint16_t running_ = 0;            // owner: slot being polled + 1, or 0
  bool abort_running_ = false;           // owner: that task aborted during its poll
  [[no_unique_address]] Idle idle_{};
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_STATIC_EXECUTOR_H_
