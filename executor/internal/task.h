// -----------------------------------------------------------------------------
// File: executor/internal/task.h
// -----------------------------------------------------------------------------
//
// The task core every weft executor (LocalExecutor, DeterministicExecutor,
// ThreadPool, thread-per-core) is built on: "the task's header, future and
// output live in one allocation". Rust: tokio's `runtime/task/` (`core.rs`,
// `harness.rs`), embassy's `TaskStorage`.
//
//   TaskCell<F>      = TaskHeader (80 bytes, task_header.h)
//                      + union { F future; Output value; std::exception_ptr error; }
//   new_task(f, scheduler, site[, join_interest])  -> TaskHeader*
//   reject_task(t)   cancels a task that a closed executor refuses
//
// The header (state machine, reference rules, memory orderings, the
// `Scheduler` interface, `OwnedTaskList`, `TaskQueue`) is documented in
// executor/internal/task_header.h; this file adds the typed part.
//
// Building an executor on it (the interface is stable; LocalExecutor in
// executor/local_executor.h is the worked example):
//
//   class MyScheduler final : public Scheduler {
//     void schedule(TaskHeader* t, ScheduleHint h) noexcept override;  // queue t (any thread)
//     bool unbind(TaskHeader* t) noexcept override { return owned_.remove(t); }  // (under lock)
//   };
//   // spawn (the scheduler is heap-allocated; the executor holds one count):
//   TaskHeader* t = new_task(std::move(fut), sched, site);  // refs: owned, notified, join
//   if (closed) { reject_task(t); } else { owned_.push_back(t); queue(t); }
//   return JoinHandle<T>::from_raw(t);                  // executor/join_handle.h
//   // worker loop:
//   if (TaskHeader* t = pop()) t->run();                // one poll, fresh Budget
//   // shutdown: refuse spawns, then
//   while (TaskHeader* t = owned_.pop_front()) t->shutdown();   // cancels, frees
//   while (TaskHeader* t = pop()) t->drop_ref();        // queued notifications
//   sched->release();                                   // the executor's count
//   // task dump:
//   owned_.for_each([&](const TaskHeader& t) { dump.push_back(t.info()); });
//
// Poll: every poll gets a fresh `Budget` (future/context.h, 128 units) and a
// Context whose waker is the task itself (clone = ref+1, wake = schedule if
// not already notified/running, drop = ref-1). A task woken during its own
// poll is rescheduled with `ScheduleHint::kYield` after the poll: no lost
// wake-up, never two polls at once. Hosted builds catch an exception that
// escapes `poll` and store it as the task's output (the JoinHandle yields it;
// the worker survives).
//
// Task-locals: a spawn made while inheritable `TaskLocal` bindings are
// visible runs the future inside `WithInheritedLocals<F>` (task_locals.h);
// every poll starts with an empty binding stack.
//
// Costs: one allocation per task (80 + max(sizeof(F), sizeof(Output), 8)
// bytes, rounded to the future's alignment), from `TaskMemory` (a per-thread
// cache of freed cells in front of operator new); nothing else is allocated
// per task or per poll. Thread-safety: everything here is safe for tasks that move
// between threads; whether `F` may move is the executor's contract.
#ifndef WEFT_EXECUTOR_INTERNAL_TASK_H_
#define WEFT_EXECUTOR_INTERNAL_TASK_H_

#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "executor/internal/task_header.h"
#include "executor/internal/task_locals.h"
#include "executor/join_result.h"
#include "executor/task_info.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"

#if defined(__SANITIZE_ADDRESS__)
#define WEFT_TASK_MEMORY_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_TASK_MEMORY_CACHE 0
#endif
#endif
#ifndef WEFT_TASK_MEMORY_CACHE
#define WEFT_TASK_MEMORY_CACHE 1
#endif

namespace weft::executor_internal {

// Per-thread free lists of TaskMemory (below). The lists are trivially
// destructible and constant-initialised, so the fast path has no TLS guard;
// a separate reaper, registered by the first free on a thread, empties them
// when the thread exits (frame_allocator.h's pattern).
struct TaskMemoryCache {
  static constexpr std::size_t kClasses = 64;
  struct Node {
    Node* next;
  };
  Node* heads[kClasses];
  std::uint16_t counts[kClasses];
  bool armed;  // the reaper is registered
  bool dead;   // the thread is exiting: free to the heap, cache nothing

  void trim() noexcept {
    for (Node*& head : heads) {
      while (head != nullptr) ::operator delete(std::exchange(head, head->next));
    }
    for (std::uint16_t& c : counts) c = 0;
  }
};
#if WEFT_TASK_MEMORY_CACHE
inline constinit thread_local TaskMemoryCache tl_task_memory{};
struct TaskMemoryReaper {
  bool armed;  // zero-initialised (thread storage)
  ~TaskMemoryReaper() {
    tl_task_memory.trim();
    tl_task_memory.dead = true;
  }
};
inline thread_local TaskMemoryReaper tl_task_memory_reaper;
#endif

// TaskMemory
//
// Where task cells come from: a per-thread cache of freed cells, one list per
// 8-byte size class up to 512 bytes, at most 128 KiB (and 4096 cells) per
// class, in front of
// the global operator new (8-byte classes: a class's blocks are all
// allocated with its full size, so any cell of the class fits; for 64-bit
// glibc that costs no extra memory). A spawn/free pair on one thread costs a list pop
// and push instead of malloc and free; a cell freed on another thread goes to
// that thread's cache (cells are plain memory). Each thread's cache is freed
// when it exits. Disabled under AddressSanitizer, so that a use after free
// stays detectable. Cells aligned beyond 16 bytes bypass it (operator new
// returns 16-byte aligned blocks).
class TaskMemory {
 public:
  static constexpr std::size_t kGranule = 8;  // glibc's usable sizes are 8 mod 16: no waste
  static constexpr std::size_t kClasses = TaskMemoryCache::kClasses;
  // A class keeps up to 128 KiB of free cells (a batch of ~1400 small tasks
  // of 88 bytes alive at once recycles without malloc), at most 4096. A
  // thread thus keeps at most 128 KiB per size class it freed cells of.
  static constexpr std::size_t kMaxBytesPerClass = 128 * 1024;
  static constexpr std::size_t kMaxCellsPerClass = 4096;

  static void* allocate(std::size_t n) {
#if WEFT_TASK_MEMORY_CACHE
    const std::size_t c = class_of(n);
    if (c < kClasses) {
      TaskMemoryCache& cache = tl_task_memory;
      if (Node* node = cache.heads[c]) {
        cache.heads[c] = node->next;
        cache.counts[c] -= 1;
        return node;
      }
      return ::operator new((c + 1) * kGranule);
    }
#endif
    return ::operator new(n);
  }

  static void deallocate(void* p, std::size_t n) noexcept {
#if WEFT_TASK_MEMORY_CACHE
    const std::size_t c = class_of(n);
    if (c < kClasses) {
      TaskMemoryCache& cache = tl_task_memory;
      if (!cache.armed) [[unlikely]] {
        if (cache.dead) {
          ::operator delete(p);
          return;
        }
        tl_task_memory_reaper.armed = true;  // an odr-use: registers the reaper for this thread
        cache.armed = true;
      }
      if (cache.counts[c] < kMaxCellsPerClass &&
          (std::size_t{cache.counts[c]} + 1) * ((c + 1) * kGranule) <= kMaxBytesPerClass) {
        Node* node = static_cast<Node*>(p);
        node->next = cache.heads[c];
        cache.heads[c] = node;
        cache.counts[c] += 1;
        return;
      }
    }
#else
    (void)n;
#endif
    ::operator delete(p);
  }

 private:
  using Node = TaskMemoryCache::Node;
  static constexpr std::size_t class_of(std::size_t n) noexcept { return (n + kGranule - 1) / kGranule - 1; }
};

// TaskCell<F>
//
// One task: the header, then the stage (future while running; output after).
// Which member of the stage is alive follows from the header's state: not
// COMPLETE: `future` (until a cancel destroys it under RUNNING); COMPLETE:
// `value` / `error` / nothing, per the OUT_* bits, until taken or dropped.
template <Future F>
class TaskCell final : public TaskHeader {
 public:
  using Output = OutputOf<F>;

  template <class G>
  TaskCell(G&& g, Scheduler* scheduler, SpawnSite site, bool join_interest)
      : TaskHeader(&kVTable, scheduler, site, join_interest) {
    ::new (static_cast<void*>(&stage_.future)) F(std::forward<G>(g));
  }

  static const TaskVTable kVTable;

  // Cells come from TaskMemory (16-byte alignment at most; over-aligned
  // futures use the global aligned operator new).
  static void* operator new(std::size_t n) { return TaskMemory::allocate(n); }
  static void operator delete(void* p, std::size_t n) noexcept { TaskMemory::deallocate(p, n); }
  static void* operator new(std::size_t n, std::align_val_t al) { return ::operator new(n, al); }
  static void operator delete(void* p, std::size_t n, std::align_val_t al) noexcept {
    (void)n;
    ::operator delete(p, al);
  }

 private:
  union Stage {
    Stage() noexcept {}
    ~Stage() {}
    F future;
    Output value;
    std::exception_ptr error;
  };

  static TaskCell* cell(TaskHeader* h) noexcept { return static_cast<TaskCell*>(h); }

  // Lends the task's own waker to one poll and clears the task-local stack;
  // `finish()` gives both back before the header's transitions run (which may
  // free the task).
  class PollScope {
   public:
    explicit PollScope(TaskHeader* h) noexcept
        : waker_(Waker::from_raw(h->borrowed_raw_waker())), saved_(tl_bindings) {
      tl_bindings = nullptr;
    }
    PollScope(const PollScope&) = delete;
    PollScope& operator=(const PollScope&) = delete;
    ~PollScope() { finish(); }
    const Waker& waker() const noexcept { return waker_; }
    void finish() noexcept {
      (void)std::move(waker_).into_raw();  // borrowed: owns no reference
      tl_bindings = saved_;
    }

   private:
    Waker waker_;
    LocalBinding* saved_;
  };

  static void poll(TaskHeader* h) noexcept {
    TaskCell* c = cell(h);
    PollScope scope(h);
    Budget budget;
    Context cx(scope.waker(), &budget);
#if defined(__cpp_exceptions)
    bool future_alive = true;
    try {
      Poll<Output> p = c->stage_.future.poll(cx);
      if (p.is_pending()) {
        scope.finish();
        h->poll_pending();
        return;
      }
      c->stage_.future.~F();
      future_alive = false;
      ::new (static_cast<void*>(&c->stage_.value)) Output(std::move(p).value());
    } catch (...) {
      if (future_alive) c->stage_.future.~F();
      ::new (static_cast<void*>(&c->stage_.error)) std::exception_ptr(std::current_exception());
      scope.finish();
      h->complete(kOutError, 1);
      return;
    }
#else
    Poll<Output> p = c->stage_.future.poll(cx);
    if (p.is_pending()) {
      scope.finish();
      h->poll_pending();
      return;
    }
    c->stage_.future.~F();
    ::new (static_cast<void*>(&c->stage_.value)) Output(std::move(p).value());
#endif
    scope.finish();
    h->complete(kOutValue, 1);
  }

  static void cancel(TaskHeader* h) noexcept {
    // Destructors run with an empty task-local stack, like polls.
    BindingScope clear(nullptr);
    cell(h)->stage_.future.~F();
  }

  static void drop_output(TaskHeader* h, std::uint64_t state) noexcept {
    TaskCell* c = cell(h);
    if (state & kOutNone) return;
    if (state & kOutError) {
      c->stage_.error.~exception_ptr();
    } else {
      c->stage_.value.~Output();
    }
  }

  static void take_output(TaskHeader* h, void* dst, std::uint64_t state) noexcept {
    TaskCell* c = cell(h);
    auto* out = static_cast<std::optional<JoinResult<Output>>*>(dst);
    if (state & kOutNone) {
      out->emplace(JoinResult<Output>::cancelled());
    } else if (state & kOutError) {
      out->emplace(JoinResult<Output>::from_exception(std::move(c->stage_.error)));
      c->stage_.error.~exception_ptr();
    } else {
      out->emplace(std::move(c->stage_.value));
      c->stage_.value.~Output();
    }
  }

  static void dealloc(TaskHeader* h) noexcept {
    Scheduler* s = h->scheduler();
    delete cell(h);
    s->release();
  }

  Stage stage_;
};

template <Future F>
inline constexpr TaskVTable TaskCell<F>::kVTable = {&TaskCell::poll, &TaskCell::cancel, &TaskCell::drop_output,
                                                    &TaskCell::take_output, &TaskCell::dealloc};

// new_task(f, scheduler, site, join_interest = true)
//
// Allocates a task running `f`, bound to `scheduler` (whose lifetime count it
// takes). Returns it with NOTIFIED set and these references, which the caller
// now owns: (O) for its owned list, (N) to queue or run it, and (J) for a
// JoinHandle unless `join_interest` is false (a detached spawn). Inheritable
// task-local bindings visible here are copied into the task.
template <class F>
  requires Future<std::remove_cvref_t<F>>
TaskHeader* new_task(F&& f, Scheduler* scheduler, SpawnSite site, bool join_interest = true) {
  using G = std::remove_cvref_t<F>;
  TaskHeader* t = nullptr;
  if (tl_bindings != nullptr) [[unlikely]] {
    if (std::unique_ptr<InheritedLocals> locals = capture_inherited_locals()) {
      t = new TaskCell<WithInheritedLocals<G>>(WithInheritedLocals<G>(std::forward<F>(f), std::move(locals)),
                                              scheduler, site, join_interest);
    }
  }
  if (t == nullptr) t = new TaskCell<G>(std::forward<F>(f), scheduler, site, join_interest);
  scheduler->retain();
  return t;
}

// reject_task(t)
//
// For an executor that is closed when a spawn arrives: cancels the fresh task
// `t` (its future is destroyed here) and drops the (O) and (N) references;
// its JoinHandle, if any, yields a cancelled result.
inline void reject_task(TaskHeader* t) noexcept {
  t->shutdown();  // consumes (O): not on any list, so unbind() returns false
  t->drop_ref();  // (N)
}

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_TASK_H_
