// -----------------------------------------------------------------------------
// File: channels/internal/static_waiter.h
// -----------------------------------------------------------------------------
//
// The waiter node and the lock discipline shared by the static-capacity
// primitives (StaticChannel, StaticSignal, StaticMutex). Not API.
//
// Each primitive guards its state with one `Policy::RawLock`, held for a few
// instructions only: never across a waker call (clone, wake, drop) and never
// across a poll of user code. So:
//   - a waiting future's `StaticWaiter` lives inside the future; the
//     primitive links it into an `IntrusiveList` under the lock;
//   - whoever grants the waiter something (a slot, an item, the lock) pops
//     it under the lock, sets `notified`, MOVES its waker out, and wakes that
//     waker after unlocking (the node may be destroyed in between: the waker
//     is no longer in it);
//   - a poll that must (re)register a waker checks under the lock whether the
//     node's waker already wakes the current task (`install_waker`); if not,
//     and no fresh clone is at hand, it unlocks, clones `cx.waker()`, and
//     retries from the start (the state may have changed meanwhile). The
//     waker it replaces is dropped after unlocking.
//
// Invariants (every field under the owner's lock):
//   linked()  -> the future waits; its `waker` is the task's (or noop);
//   notified  -> popped and granted, not yet consumed by its poll; its
//                `waker` was moved out (noop). A future destroyed while
//                notified hands the grant on (each primitive says how).
//   never both.
//
// Costs: sizeof(StaticWaiter) = 2 pointers (links) + a Waker (2 pointers) +
// 2 flags: 24 bytes on Cortex-M, 48 on x86-64. Freestanding.
#ifndef WEFT_CHANNELS_INTERNAL_STATIC_WAITER_H_
#define WEFT_CHANNELS_INTERNAL_STATIC_WAITER_H_

#include <optional>
#include <utility>

#include "channels/internal/waiter_list.h"
#include "future/context.h"
#include "future/waker.h"

namespace weft::channels_internal {

// StaticWaiter: the node a waiting future keeps inside itself.
struct StaticWaiter : ListLink<StaticWaiter> {
  constexpr StaticWaiter() noexcept = default;
  StaticWaiter(const StaticWaiter&) = delete;
  StaticWaiter& operator=(const StaticWaiter&) = delete;

  Waker waker;            // the waiting task; noop once moved out to wake
  bool notified = false;  // popped and granted; see the header comment
};

using StaticWaiterList = IntrusiveList<StaticWaiter>;

// Under the lock: pops the first waiter, marks it notified and returns its
// waker (to wake after unlocking); the noop waker if the list is empty.
inline Waker notify_first(StaticWaiterList& list) noexcept {
  StaticWaiter* w = list.pop_front();
  if (w == nullptr) return Waker();
  w->notified = true;
  return std::move(w->waker);
}

// After unlocking: wakes `w` (consuming it) unless it is the noop waker.
inline void wake_unless_noop(Waker& w) noexcept {
  if (!w.is_noop()) std::move(w).wake();
}

// Under the lock: makes `node`'s waker wake the task of `current` without
// calling into any waker. True when done (the replaced waker, if any, is
// moved to `old`, to drop after unlocking); false when a clone is needed:
// unlock, `fresh.emplace(current)`, and retry. (`fresh` is a clone of the
// same poll's waker; a clone need not compare `will_wake`-equal to the
// waker it was cloned from, so it is trusted rather than compared.)
inline bool install_waker(StaticWaiter& node, const Waker& current, std::optional<Waker>& fresh,
                          Waker& old) noexcept {
  if (node.waker.will_wake(current)) return true;
  if (!fresh.has_value()) return false;
  old = std::move(node.waker);
  node.waker = std::move(*fresh);
  fresh.reset();
  return true;
}

// Under the lock: the budget half of `cx.poll_proceed()` (takes one unit;
// false when spent). The caller must then, after unlocking, wake the task
// (`cx.waker().wake_by_ref()`) and return Pending, as poll_proceed would.
inline bool take_budget(Context& cx) noexcept {
  Budget* b = cx.budget();
  return b == nullptr || b->try_consume();
}

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_STATIC_WAITER_H_
