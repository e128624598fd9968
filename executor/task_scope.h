// -----------------------------------------------------------------------------
// File: executor/task_scope.h
// -----------------------------------------------------------------------------
//
// Structured concurrency: `JoinSet<T, S>` and `TaskScope<T, S>`, sets of
// tasks spawned on a spawner `S` (LocalExecutor by default; any executor with
// `spawn(f, site)` or `spawn_local(f, site)` returning a `JoinHandle<T>`).
// Rust: `tokio::task::JoinSet`; TaskScope is what `async-scoped` and
// `moro` try to be, made sound.
//
//   set.spawn(f)        spawns `f` (Output T) into the set.
//   set.spawn_blocking(fn)  JoinSet: runs `fn()` on the blocking pool
//                       (executor/spawn_blocking.h) as a member.
//   set.join_next()     a cancel-safe future of the next finished task's
//                       `JoinResult<T>`, in completion order; `std::nullopt`
//                       when the set is empty.
//   set.join_next_with_id()  the same with the task's id (JoinedTask<T>).
//   set.try_join_next() a result that is ready now, or nullopt (no waiting).
//   set.join_all()      a future of every remaining result (completion order).
//   set.abort(id)       asks the task spawned with `id` to cancel (O(len)).
//   set.abort_all()     asks every task to cancel (they stay in the set until
//                       joined: their results are "cancelled", or the value
//                       if they finished first).
//   set.len()           tasks in the set (spawned and not yet joined).
//
//   JoinSet:   movable; its destructor aborts every task it still owns and
//              detaches it (tokio's behaviour): it does not wait.
//   TaskScope: immovable; its destructor cancels every task it still owns
//              *and joins it* before returning: an idle or queued child's
//              future is destroyed right there, on the calling thread; a child
//              being polled on another thread (pool) is waited for (a spin with
//              yields: a poll is short) and cancels at the end of that poll.
//              Because the scope is immovable and outlives its children, they
//              may borrow from the frame that holds the scope: that frame's
//              locals outlive every access. (Rust cannot offer this soundly:
//              a future may be leaked, skipping the destructor; in C++ the
//              scope's owner is either destroyed or lives forever, and both
//              are fine.)
//
// Costs: per spawned task one extra allocation (the set's entry: the handle,
// two links, a refcount) plus the task itself. A finished child costs one
// mutex lock/unlock (its wake into the set's ready list) and one poll of its
// handle; join_next only polls children that were woken. No per-wake
// allocation.
// Contract: a set's member functions are called from one thread (the owner:
// for a LocalExecutor, its thread); children's completions may come from any
// thread. A TaskScope must not be destroyed from inside one of its own
// children (it would wait for itself). Children of a TaskScope must not
// outlive it: they are cancelled, never detached.
// Cancellation: `join_next()` is cancel-safe (a result is taken from the set
// only in the poll that returns it). Dropping the set: see above.
//
// Example:
//
//   weft::Task<int> sum_of_squares(weft::LocalExecutor& ex) {
//     std::vector<int> inputs = {1, 2, 3};            // borrowed by the children
//     weft::TaskScope<int> scope(ex);
//     for (const int& x : inputs) scope.spawn(weft::lazy([&x] { return x * x; }));
//     int sum = 0;
//     while (auto r = co_await scope.join_next()) sum += r->value();
//     co_return sum;                                   // 14
//   }
//
#ifndef WEFT_EXECUTOR_TASK_SCOPE_H_
#define WEFT_EXECUTOR_TASK_SCOPE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor/internal/sync.h"
#include "executor/internal/task_header.h"
#include "executor/join_handle.h"
#include "executor/join_result.h"
#include "executor/spawn_blocking.h"
#include "executor/task_info.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

class LocalExecutor;

// JoinedTask<T>: a finished member's task id and result
// (`join_next_with_id()`; tokio's `(Id, T)` / `JoinError::id()`).
template <class T>
struct JoinedTask {
  TaskId id;
  JoinResult<T> result;
};

namespace executor_internal {

// Spawns through `s.spawn(f, site)` if `S` has it, else `s.spawn_local`.
template <class S, class F>
auto spawn_on(S& s, F&& f, SpawnSite site) {
  if constexpr (requires { s.spawn(std::forward<F>(f), site); }) {
    return s.spawn(std::forward<F>(f), site);
  } else {
    return s.spawn_local(std::forward<F>(f), site);
  }
}

// JoinSetCore<T>: the entries and the ready list shared by JoinSet and
// TaskScope.
//
// Invariants: `Shared::mu` guards `ready_head/tail`, `waiter`, and every
// entry's `in_set`, `notified`, `ready_next`. The membership list
// (`prev`/`next`, `head_`, `len_`) and each entry's `handle` belong to the
// owner thread. An entry is on the ready list iff `notified`; a woken entry
// that is no longer `in_set` is ignored. References: an entry is owned by the
// set (one count) and by each clone of its waker (stored in its task's join
// waker slot); the shared block by the set and by every entry.
template <class T>
class JoinSetCore {
  struct Shared;

  struct Entry {
    JoinHandle<T> handle;
    Shared* shared;
    Atomic<std::uint32_t> refs{1};
    // Guarded by shared->mu.
    bool in_set = true;
    bool notified = true;
    Entry* ready_next = nullptr;
    // Owner only.
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };

  struct Shared {
    Mutex mu;
    Entry* ready_head = nullptr;
    Entry* ready_tail = nullptr;
    Waker waiter;
    Atomic<std::size_t> refs{1};

    void push_ready(Entry* e) noexcept {
      e->ready_next = nullptr;
      if (ready_tail == nullptr) {
        ready_head = e;
      } else {
        ready_tail->ready_next = e;
      }
      ready_tail = e;
    }
    void release() noexcept {
      if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }
  };

 public:
  JoinSetCore() : shared_(new Shared) {}
  JoinSetCore(JoinSetCore&& o) noexcept
      : shared_(std::exchange(o.shared_, nullptr)), head_(std::exchange(o.head_, nullptr)),
        len_(std::exchange(o.len_, 0)) {}
  JoinSetCore& operator=(JoinSetCore&&) = delete;
  JoinSetCore(const JoinSetCore&) = delete;
  JoinSetCore& operator=(const JoinSetCore&) = delete;
  ~JoinSetCore() {
    WEFT_ASSERT(head_ == nullptr, "JoinSetCore destroyed with members (the owner must clear it)");
    if (shared_ != nullptr) shared_->release();
  }

  std::size_t len() const noexcept { return len_; }

  void add(JoinHandle<T> h) {
    Entry* e = new Entry{std::move(h), shared_};
    shared_->refs.fetch_add(1, std::memory_order_relaxed);
    e->next = head_;
    if (head_ != nullptr) head_->prev = e;
    head_ = e;
    len_ += 1;
    Lock lock(shared_->mu);
    shared_->push_ready(e);  // polled once by the next join_next, to register
  }

  void abort_all() const noexcept {
    for (Entry* e = head_; e != nullptr; e = e->next) e->handle.abort();
  }

  // Synchronous cancellation of every member (TaskScope): on return, every
  // member's task is complete.
  void cancel_all_now() noexcept {
    for (Entry* e = head_; e != nullptr; e = e->next) {
      TaskHeader* t = e->handle.raw();
      if (t == nullptr) continue;
      if (!t->cancel_now()) {
        while (!t->is_complete()) yield_thread();
      }
    }
  }

  // Detaches every member and empties the set.
  void clear() noexcept {
    while (head_ != nullptr) {
      Entry* e = head_;
      unlink(e);
      e->handle.detach();
      release_entry(e);
    }
  }

  // Drops the registered waiter (a join_next future that returned Ready or
  // was dropped leaves no waker behind).
  void forget_waiter() noexcept {
    if (shared_ == nullptr) return;
    Waker w;
    {
      Lock lock(shared_->mu);
      w = std::move(shared_->waiter);
    }
  }

  Poll<std::optional<JoinResult<T>>> poll_join_next(Context& cx) {
    Poll<std::optional<JoinedTask<T>>> p = poll_next(cx, /*register_waiter=*/true);
    if (p.is_pending()) return Pending{};
    std::optional<JoinedTask<T>> j = std::move(p).value();
    if (!j.has_value()) return std::optional<JoinResult<T>>();
    return std::optional<JoinResult<T>>(std::move(j->result));
  }
  Poll<std::optional<JoinedTask<T>>> poll_join_next_with_id(Context& cx) {
    return poll_next(cx, /*register_waiter=*/true);
  }
  // A finished member's result if one is ready now; never registers a
  // waiter (a pending join_next keeps its own), nullopt if none is ready.
  std::optional<JoinResult<T>> try_join_next() {
    Context cx(noop_waker());
    Poll<std::optional<JoinedTask<T>>> p = poll_next(cx, /*register_waiter=*/false);
    if (p.is_pending() || !p.value().has_value()) return std::nullopt;
    return std::optional<JoinResult<T>>(std::move(p.value()->result));
  }

  // Asks the member with id `id` to cancel (O(len)); false if no member has it.
  bool abort(TaskId id) const noexcept {
    for (Entry* e = head_; e != nullptr; e = e->next) {
      if (e->handle.id() == id) {
        e->handle.abort();
        return true;
      }
    }
    return false;
  }

 private:
  Poll<std::optional<JoinedTask<T>>> poll_next(Context& cx, bool register_waiter) {
    if (len_ == 0) {
      if (register_waiter) forget_waiter();
      return std::optional<JoinedTask<T>>();
    }
    Entry* list;
    {
      Lock lock(shared_->mu);
      if (register_waiter) register_waker(shared_->waiter, cx.waker());
      list = shared_->ready_head;
      shared_->ready_head = shared_->ready_tail = nullptr;
    }
    while (list != nullptr) {
      if (cx.budget() != nullptr && cx.budget()->exhausted()) {
        put_back(list);
        cx.waker().wake_by_ref();
        return Pending{};
      }
      Entry* e = list;
      list = e->ready_next;
      e->ready_next = nullptr;
      {
        Lock lock(shared_->mu);
        e->notified = false;
      }
      Waker w = Waker::from_raw(RawWaker{e, &kEntryVTable});  // borrowed: owns no count
      Context ecx(w, cx.budget());
      const TaskId id = e->handle.id();  // the handle forgets it once Ready
      Poll<JoinResult<T>> p = e->handle.poll(ecx);
      (void)std::move(w).into_raw();
      if (p.is_ready()) {
        put_back(list);
        unlink(e);
        release_entry(e);
        if (register_waiter) forget_waiter();
        return std::optional<JoinedTask<T>>(JoinedTask<T>{id, std::move(p).value()});
      }
    }
    return Pending{};
  }

  // Re-queues, in front and in order, entries taken but not polled.
  void put_back(Entry* list) noexcept {
    if (list == nullptr) return;
    Entry* last = list;
    while (last->ready_next != nullptr) last = last->ready_next;
    Lock lock(shared_->mu);
    last->ready_next = shared_->ready_head;
    if (shared_->ready_head == nullptr) shared_->ready_tail = last;
    shared_->ready_head = list;
  }

  void unlink(Entry* e) noexcept {
    if (e->prev != nullptr) {
      e->prev->next = e->next;
    } else {
      head_ = e->next;
    }
    if (e->next != nullptr) e->next->prev = e->prev;
    e->prev = e->next = nullptr;
    len_ -= 1;
    Lock lock(shared_->mu);
    e->in_set = false;
    if (e->notified) {  // still on the ready list: take it off
      Entry** p = &shared_->ready_head;
      Entry* before = nullptr;
      while (*p != nullptr && *p != e) {
        before = *p;
        p = &(*p)->ready_next;
      }
      if (*p == e) {
        *p = e->ready_next;
        if (shared_->ready_tail == e) shared_->ready_tail = before;
      }
      e->notified = false;
      e->ready_next = nullptr;
    }
  }

  static void release_entry(Entry* e) noexcept {
    if (e->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      Shared* s = e->shared;
      delete e;
      s->release();
    }
  }

  static void notify(Entry* e) noexcept {
    Shared* s = e->shared;
    Waker waiter;
    {
      Lock lock(s->mu);
      if (!e->in_set || e->notified) return;
      e->notified = true;
      s->push_ready(e);
      waiter = std::move(s->waiter);
    }
    std::move(waiter).wake();
  }

  static Entry* self(const void* p) noexcept { return static_cast<Entry*>(const_cast<void*>(p)); }
  static RawWaker entry_clone(const void* p) noexcept {
    self(p)->refs.fetch_add(1, std::memory_order_relaxed);
    return RawWaker{p, &kEntryVTable};
  }
  static void entry_wake(const void* p) noexcept {
    notify(self(p));
    release_entry(self(p));
  }
  static void entry_wake_by_ref(const void* p) noexcept { notify(self(p)); }
  static void entry_drop(const void* p) noexcept { release_entry(self(p)); }
  static constexpr RawWakerVTable kEntryVTable = {&entry_clone, &entry_wake, &entry_wake_by_ref, &entry_drop};

  Shared* shared_;
  Entry* head_ = nullptr;
  std::size_t len_ = 0;
};

}  // namespace executor_internal

// JoinNext<Set> / JoinNextWithId<Set>: the futures returned by
// `join_next()` (the next finished task's result) and `join_next_with_id()`
// (its id and result). Cancel-safe: a result leaves the set only in the poll
// that returns it; dropped while pending, it unregisters its waker.
template <class Set, bool kWithId>
class [[nodiscard("futures do nothing unless polled")]] JoinNextFuture {
  using T = typename Set::value_type;

 public:
  using Output = std::optional<std::conditional_t<kWithId, JoinedTask<T>, JoinResult<T>>>;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  explicit JoinNextFuture(Set& set) noexcept : set_(&set) {}
  JoinNextFuture(JoinNextFuture&& o) noexcept : set_(std::exchange(o.set_, nullptr)), pending_(o.pending_) {}
  JoinNextFuture& operator=(JoinNextFuture&&) = delete;
  ~JoinNextFuture() {
    if (set_ != nullptr && pending_) set_->forget_waiter();
  }

  Poll<Output> poll(Context& cx) {
    Poll<Output> p = [&] {
      if constexpr (kWithId) {
        return set_->poll_join_next_with_id(cx);
      } else {
        return set_->poll_join_next(cx);
      }
    }();
    pending_ = p.is_pending();
    return p;
  }

 private:
  Set* set_;
  bool pending_ = false;
};
template <class Set>
using JoinNext = JoinNextFuture<Set, false>;
template <class Set>
using JoinNextWithId = JoinNextFuture<Set, true>;

// JoinAll<Set>: the future returned by `join_all()`: every remaining result,
// in completion order. Not cancel-safe (results gathered so far are lost).
template <class Set>
class [[nodiscard("futures do nothing unless polled")]] JoinAll {
 public:
  using Output = std::vector<JoinResult<typename Set::value_type>>;
  static constexpr bool kUnpin = true;

  explicit JoinAll(Set& set) noexcept : set_(&set) {}
  JoinAll(JoinAll&& o) noexcept
      : set_(std::exchange(o.set_, nullptr)), out_(std::move(o.out_)), pending_(o.pending_) {}
  JoinAll& operator=(JoinAll&&) = delete;
  ~JoinAll() {
    if (set_ != nullptr && pending_) set_->forget_waiter();
  }

  Poll<Output> poll(Context& cx) {
    for (;;) {
      Poll<std::optional<JoinResult<typename Set::value_type>>> p = set_->poll_join_next(cx);
      pending_ = p.is_pending();
      if (pending_) return Pending{};
      if (!p.value().has_value()) return std::move(out_);
      out_.push_back(std::move(*p.value()));
    }
  }

 private:
  Set* set_;
  Output out_;
  bool pending_ = false;
};

// JoinSet<T, S>
template <class T, class S = LocalExecutor>
class JoinSet {
 public:
  using value_type = T;

  explicit JoinSet(S& spawner) noexcept : spawner_(&spawner) {}
  JoinSet(JoinSet&&) noexcept = default;
  JoinSet& operator=(JoinSet&&) = delete;
  ~JoinSet() {
    core_.abort_all();
    core_.clear();
  }

  // JoinSet::spawn()
  //
  // Spawns `f` on the spawner and adds it to the set; returns its id.
  template <class F>
    requires Future<std::remove_cvref_t<F>> && std::is_same_v<OutputOf<F>, T>
  TaskId spawn(F&& f, SpawnSite site = SpawnSite::current()) {
    JoinHandle<T> h = executor_internal::spawn_on(*spawner_, std::forward<F>(f), site);
    const TaskId id = h.id();
    core_.add(std::move(h));
    return id;
  }

  // JoinSet::spawn_blocking()
  //
  // Runs the blocking `fn()` (returning T; or void for T = Unit) on the
  // process-wide blocking pool, or on `pool`, and adds it to the set
  // (tokio's JoinSet::spawn_blocking). Aborting it cancels it only before
  // it started (see executor/spawn_blocking.h).
  template <class Fn>
  TaskId spawn_blocking(Fn&& fn, SpawnSite site = SpawnSite::current()) {
    return spawn_blocking(default_blocking_pool(), std::forward<Fn>(fn), site);
  }
  template <class Fn>
  TaskId spawn_blocking(BlockingPool& pool, Fn&& fn, SpawnSite site = SpawnSite::current()) {
    auto h = pool.spawn_blocking(std::forward<Fn>(fn), site);
    static_assert(std::is_same_v<decltype(h), JoinHandle<T>>,
                  "JoinSet<T>::spawn_blocking: fn must return T (or void for T = Unit)");
    const TaskId id = h.id();
    core_.add(std::move(h));
    return id;
  }

  JoinNext<JoinSet> join_next() noexcept { return JoinNext<JoinSet>(*this); }
  JoinNextWithId<JoinSet> join_next_with_id() noexcept { return JoinNextWithId<JoinSet>(*this); }
  JoinAll<JoinSet> join_all() noexcept { return JoinAll<JoinSet>(*this); }
  // A result that is ready now, without waiting or registering a waker
  // (nullopt: none is ready, or the set is empty).
  std::optional<JoinResult<T>> try_join_next() { return core_.try_join_next(); }
  // The polls behind join_next() / join_next_with_id(); `forget_waiter()`
  // unregisters their waker.
  Poll<std::optional<JoinResult<T>>> poll_join_next(Context& cx) { return core_.poll_join_next(cx); }
  Poll<std::optional<JoinedTask<T>>> poll_join_next_with_id(Context& cx) {
    return core_.poll_join_next_with_id(cx);
  }
  void forget_waiter() noexcept { core_.forget_waiter(); }

  // Asks the member spawned with id `id` to cancel (as JoinHandle::abort;
  // it stays in the set until joined). O(len); false if no member has it.
  bool abort(TaskId id) noexcept { return core_.abort(id); }
  void abort_all() noexcept { core_.abort_all(); }
  // Detaches every task (they run on; their results are dropped).
  void detach_all() noexcept { core_.clear(); }

  std::size_t len() const noexcept { return core_.len(); }
  bool is_empty() const noexcept { return core_.len() == 0; }

 private:
  S* spawner_;
  executor_internal::JoinSetCore<T> core_;
};

// TaskScope<T, S>
template <class T = Unit, class S = LocalExecutor>
class TaskScope {
 public:
  using value_type = T;

  explicit TaskScope(S& spawner) noexcept : spawner_(&spawner) {}
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;
  ~TaskScope() {
    core_.cancel_all_now();
    core_.clear();
  }

  // TaskScope::spawn()
  //
  // Spawns `f` (which may borrow from the scope owner's frame) and adds it to
  // the scope; returns its id.
  template <class F>
    requires Future<std::remove_cvref_t<F>> && std::is_same_v<OutputOf<F>, T>
  TaskId spawn(F&& f, SpawnSite site = SpawnSite::current()) {
    JoinHandle<T> h = executor_internal::spawn_on(*spawner_, std::forward<F>(f), site);
    const TaskId id = h.id();
    core_.add(std::move(h));
    return id;
  }

  JoinNext<TaskScope> join_next() noexcept { return JoinNext<TaskScope>(*this); }
  JoinNextWithId<TaskScope> join_next_with_id() noexcept { return JoinNextWithId<TaskScope>(*this); }
  JoinAll<TaskScope> join_all() noexcept { return JoinAll<TaskScope>(*this); }
  // A result that is ready now, without waiting or registering a waker
  // (nullopt: none is ready, or the set is empty).
  std::optional<JoinResult<T>> try_join_next() { return core_.try_join_next(); }
  // The polls behind join_next() / join_next_with_id(); `forget_waiter()`
  // unregisters their waker.
  Poll<std::optional<JoinResult<T>>> poll_join_next(Context& cx) { return core_.poll_join_next(cx); }
  Poll<std::optional<JoinedTask<T>>> poll_join_next_with_id(Context& cx) {
    return core_.poll_join_next_with_id(cx);
  }
  void forget_waiter() noexcept { core_.forget_waiter(); }

  // Asks the member spawned with id `id` to cancel (as JoinHandle::abort;
  // it stays in the set until joined). O(len); false if no member has it.
  bool abort(TaskId id) noexcept { return core_.abort(id); }
  void abort_all() noexcept { core_.abort_all(); }
  // Cancels every child now (see the header comment); they leave the scope.
  void cancel_all() noexcept {
    core_.cancel_all_now();
    core_.clear();
  }

  std::size_t len() const noexcept { return core_.len(); }
  bool is_empty() const noexcept { return core_.len() == 0; }

 private:
  S* spawner_;
  executor_internal::JoinSetCore<T> core_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_TASK_SCOPE_H_
