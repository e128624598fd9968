// -----------------------------------------------------------------------------
// File: channels/notify.h
// -----------------------------------------------------------------------------
//
// `Notify`: wakes tasks waiting for an event, with a single stored permit.
// Rust: `tokio::sync::Notify` (same permit semantics).
//
//   notify.notified()        a future (`Notified`, Output = Unit) that
//                            completes on a notification
//   notify.notify_one()      wakes the first waiter (FIFO); with nobody
//                            waiting, stores ONE permit (not cumulative) that
//                            the next `notified()` consumes at once
//   notify.notify_last()     the same, waking the most recent waiter (LIFO)
//   notify.notify_waiters()  wakes every waiter registered at that moment and
//                            every `Notified` created before the call (even
//                            if not yet polled); stores no permit
//   notified.enable()        registers a `Notified` without polling it (so a
//                            later notify_one() can pick it); true if it is
//                            already notified
//
// A `Notified` is registered at its first poll (or `enable()`). It also
// remembers how many `notify_waiters()` calls had happened when it was
// created, so a `notify_waiters()` issued between `notified()` and the first
// poll is not lost (tokio's rule). The usual pattern, free of lost wake-ups:
//
//   auto n = notify.notified();       // before checking the condition
//   if (!ready.load()) co_await n;
//
// Costs: `Notify` is a mutex, an intrusive list head and one atomic word; no
// allocation ever. `notified()` costs one atomic load; a first poll that
// finds a stored permit, or a `notify_one()` that finds no waiter, is one CAS
// on the state word (no lock). Registering, waking a waiter and
// `notify_waiters()` take the mutex; wakers are woken after it is released
// (`notify_waiters` in batches of 32). sizeof(Notify) is 72 bytes and
// sizeof(Notified) 80 (x86-64): the waiter node lives inside it. `Notify`
// has a constexpr constructor (it may be a constant-initialised static).
//
// State (`state_`, one 64-bit atomic): bits 0-1 are EMPTY / WAITING /
// NOTIFIED (a stored permit); bits 2-63 count `notify_waiters()` calls.
// WAITING <=> the waiter list is non-empty; it is entered and left only under
// the mutex. Without the mutex only EMPTY->NOTIFIED (notify_one with no
// waiter) and NOTIFIED->EMPTY (a first poll taking the permit) happen, each
// a CAS; the call counter changes only under the mutex.
// Memory ordering:
//   - every CAS/RMW on `state_` is acq_rel and every load acquire: a
//     notifier's writes before `notify_one()` are visible to the task whose
//     `Notified` completes by taking the permit, and the counter increment of
//     `notify_waiters()` (release) publishes the notifier's earlier writes to
//     a `notified()` that reads the new count (acquire);
//   - a waiter's `notification` byte is stored (release) under the mutex as
//     the notifier's last access to the node, after it unlinked it and took
//     its waker; the owner reads it without the lock (acquire), and once it
//     is set the node belongs to the owner again (it may be destroyed);
//   - everything else (list, nodes, wakers) is guarded by the mutex.
//
// Contract: `Notify` is thread-safe, immovable, and must outlive every
// `Notified` made from it (share it through a `std::shared_ptr` or a
// static). A `Notified` is polled by one task at a time; it may move only
// before its first poll / `enable()`. Polling after Ready is a contract
// violation.
// Cancellation: destroying a `Notified` unlinks its node and drops its
// waker. If it had received a `notify_one()`/`notify_last()` (or taken the
// permit) and not yet returned Ready, it passes the notification on: to the
// next waiter, or back into the permit. Nothing is lost, so `Notified` is
// cancel-safe (a `notify_waiters()` it received is not passed on: the other
// waiters received it too).
//
// Example:
//
//   weft::Notify notify;
//   notify.notify_one();                       // nobody waits: stores a permit
//   weft::LocalExecutor ex;
//   ex.block_on(notify.notified());            // takes it at once
//   auto n = notify.notified();
//   EXPECT_TRUE(testing::poll_once(n).is_pending());
//   notify.notify_waiters();
//   EXPECT_TRUE(testing::poll_once(n).is_ready());
//
#ifndef WEFT_CHANNELS_NOTIFY_H_
#define WEFT_CHANNELS_NOTIFY_H_

#include <cstdint>
#include <utility>

#include "channels/internal/waiter_list.h"
#include "channels/internal/waker_batch.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

class Notify;
class Notified;

namespace channels_internal {

// What a waiter received (its `notification` byte).
enum class Notification : std::uint8_t { kNone = 0, kOne = 1, kAll = 2 };

// The node a `Notified` keeps inside itself. `waker` and `owner` (and the
// links) are guarded by the Notify's mutex; `notification` is described in
// notify.h's "Memory ordering".
struct NotifyWaiter : ListLink<NotifyWaiter> {
  Waker waker;
  IntrusiveList<NotifyWaiter>* owner = nullptr;  // the list the node is in
  sync::Atomic<std::uint8_t> notification{0};
};

}  // namespace channels_internal

// Notify
//
// See the top of this file. Not copyable or movable (waiters point to it).
class Notify {
 public:
  constexpr Notify() noexcept = default;
  Notify(const Notify&) = delete;
  Notify& operator=(const Notify&) = delete;

  // Notify::notified()
  //
  // A future that completes when this Notify is notified (see the top).
  Notified notified() noexcept;

  // Notify::notify_one()
  //
  // Wakes the longest-waiting `Notified`, or stores the permit (at most one)
  // if none is waiting.
  void notify_one() { notify(Pick::kFront); }

  // Notify::notify_last()
  //
  // As `notify_one()`, but wakes the most recently registered waiter.
  void notify_last() { notify(Pick::kBack); }

  // Notify::notify_waiters()
  //
  // Wakes every waiter registered now, and completes every `Notified`
  // created before this call at its first poll. Stores no permit (a stored
  // one stays).
  void notify_waiters();

 private:
  friend class Notified;
  using Waiter = channels_internal::NotifyWaiter;
  using Notification = channels_internal::Notification;
  enum class Pick : std::uint8_t { kFront, kBack };

  static constexpr std::uint64_t kStateMask = 3;
  static constexpr std::uint64_t kEmpty = 0;
  static constexpr std::uint64_t kWaiting = 1;
  static constexpr std::uint64_t kNotified = 2;
  static constexpr std::uint64_t kCallUnit = 4;  // one notify_waiters() call

  static constexpr std::uint64_t state_of(std::uint64_t s) noexcept { return s & kStateMask; }
  static constexpr std::uint64_t calls_of(std::uint64_t s) noexcept { return s >> 2; }
  static constexpr std::uint64_t with_state(std::uint64_t s, std::uint64_t st) noexcept {
    return (s & ~kStateMask) | st;
  }

  void notify(Pick pick);
  // With `mu_` held: hands one notification to a waiter (returns its waker,
  // to wake after unlocking) or stores the permit (returns a noop waker).
  Waker notify_locked(Pick pick);

  sync::Atomic<std::uint64_t> state_{0};
  sync::Mutex mu_;
  channels_internal::IntrusiveList<Waiter> waiters_;  // guarded by mu_
};

// Notified
//
// The future returned by `Notify::notified()`. Name it only to store it.
class [[nodiscard("futures do nothing unless polled")]] Notified {
 public:
  using Output = Unit;
  // Dropping it passes a received notify_one() on (see the top).
  static constexpr bool kCancelSafe = true;

  // Moving is allowed only before the first poll / enable().
  Notified(Notified && o) noexcept : notify_(o.notify_), calls_(o.calls_), state_(o.state_) {
    WEFT_HARDENING_ASSERT(o.state_ == State::kInit,
                          "Notified must not move after its first poll or enable()");
    o.state_ = State::kDone;
  }
  Notified& operator=(Notified&&) = delete;
  Notified(const Notified&) = delete;
  Notified& operator=(const Notified&) = delete;
  ~Notified() { release(); }

  // Notified::enable()
  //
  // Registers this future as a waiter without polling it (tokio's
  // `Notified::enable`): from now on notify_one() may pick it. Returns true
  // if it is already notified (the next poll is Ready). Idempotent.
  bool enable() {
    switch (state_) {
      case State::kInit:
        return arm(nullptr);
      case State::kWaiting:
        return node_.notification.load(sync::kAcquire) !=
               static_cast<std::uint8_t>(Notification::kNone);
      case State::kNotified:
      case State::kDone:
        break;
    }
    return true;
  }

  Poll<Unit> poll(Context & cx) {
    switch (state_) {
      case State::kInit:
        if (!cx.poll_proceed()) return Pending{};
        if (!arm(&cx.waker())) return Pending{};
        state_ = State::kDone;
        return Unit{};
      case State::kWaiting: {
        std::uint8_t n = node_.notification.load(sync::kAcquire);
        if (n == kNoneByte) {
          sync::Lock lock(notify_->mu_);
          n = node_.notification.load(sync::kRelaxed);
          if (n == kNoneByte) {
            register_waker(node_.waker, cx.waker());
            return Pending{};
          }
        }
        // Notified: the notifier unlinked the node and took its waker.
        state_ = State::kNotified;
        received_ = static_cast<Notification>(n);
      }
        [[fallthrough]];
      case State::kNotified:
        if (!cx.poll_proceed()) return Pending{};  // keeps what it received
        state_ = State::kDone;
        return Unit{};
      case State::kDone:
        break;
    }
    WEFT_ASSERT(false, "Notified polled after it completed");
    return Pending{};
  }

 private:
  friend class Notify;
  using Notification = channels_internal::Notification;
  static constexpr std::uint8_t kNoneByte = static_cast<std::uint8_t>(Notification::kNone);

  // kInit: not registered. kWaiting: `node_` is (or was, if notified) in a
  // list. kNotified: received `received_`, not yet returned Ready.
  enum class State : std::uint8_t { kInit, kWaiting, kNotified, kDone };

  Notified(Notify * n, std::uint64_t calls) noexcept : notify_(n), calls_(calls) {}

  bool arm(const Waker* w);
  void release();

  Notify* notify_;
  std::uint64_t calls_;  // notify_waiters() calls seen at creation
  State state_ = State::kInit;
  Notification received_ = Notification::kNone;
  channels_internal::NotifyWaiter node_;
};

// ---- Implementation ---------------------------------------------------------

inline Notified Notify::notified() noexcept {
  // Acquire: pairs with notify_waiters()'s release increment (see the top).
  return Notified(this, calls_of(state_.load(sync::kAcquire)));
}

inline void Notify::notify(Pick pick) {
  std::uint64_t s = state_.load(sync::kAcquire);
  // Fast path: no waiter, so store the permit with one CAS, no lock.
  while (state_of(s) != kWaiting) {
    if (state_.compare_exchange_weak(s, with_state(s, kNotified), sync::kAcqRel, sync::kAcquire))
      return;
  }
  Waker w;
  {
    sync::Lock lock(mu_);
    w = notify_locked(pick);
  }
  std::move(w).wake();
}

inline Waker Notify::notify_locked(Pick pick) {
  std::uint64_t s = state_.load(sync::kAcquire);
  for (;;) {
    if (state_of(s) != kWaiting) {
      if (state_.compare_exchange_weak(s, with_state(s, kNotified), sync::kAcqRel, sync::kAcquire))
        return Waker();
      continue;
    }
    Waiter* w = pick == Pick::kFront ? waiters_.front() : waiters_.back();
    waiters_.remove(w);
    // WAITING is changed only under mu_, so a plain store cannot lose an update.
    if (waiters_.empty()) state_.store(with_state(s, kEmpty), sync::kRelease);
    w->owner = nullptr;
    Waker waker = std::move(w->waker);
    w->notification.store(static_cast<std::uint8_t>(Notification::kOne),
                          sync::kRelease);  // last touch
    return waker;
  }
}

inline void Notify::notify_waiters() {
  sync::UniqueLock lock(mu_);
  const std::uint64_t s = state_.load(sync::kAcquire);
  if (state_of(s) != kWaiting) {
    state_.fetch_add(kCallUnit, sync::kAcqRel);  // keeps a stored permit
    return;
  }
  // The waiters of this call move to a list of its own, so that waiters
  // registering while it wakes (between batches) are not part of it, and a
  // node dropped meanwhile can still unlink itself (through `owner`).
  channels_internal::IntrusiveList<Waiter> mine;
  mine.splice_back(waiters_);
  mine.for_each([&](Waiter* w) { w->owner = &mine; });
  state_.store(with_state(s + kCallUnit, kEmpty), sync::kRelease);
  channels_internal::WakerBatch batch;
  for (;;) {
    while (!batch.full()) {
      Waiter* w = mine.pop_front();
      if (w == nullptr) break;
      w->owner = nullptr;
      batch.push(std::move(w->waker));
      w->notification.store(static_cast<std::uint8_t>(Notification::kAll),
                            sync::kRelease);  // last touch
    }
    const bool done = mine.empty();
    lock.unlock();
    batch.wake_all();
    if (done) return;
    lock.lock();
  }
}

inline bool Notified::arm(const Waker* w) {
  Notify& n = *notify_;
  std::uint64_t s = n.state_.load(sync::kAcquire);
  auto got = [&](Notification what) {
    state_ = State::kNotified;
    received_ = what;
    return true;
  };
  // Lock-free: a notify_waiters() since creation, or take the permit.
  if (Notify::calls_of(s) != calls_) return got(Notification::kAll);
  while (Notify::state_of(s) == Notify::kNotified) {
    if (n.state_.compare_exchange_weak(s, Notify::with_state(s, Notify::kEmpty), sync::kAcqRel,
                                       sync::kAcquire)) {
      return got(Notification::kOne);
    }
  }
  sync::Lock lock(n.mu_);
  s = n.state_.load(sync::kAcquire);
  if (Notify::calls_of(s) != calls_) return got(Notification::kAll);
  for (;;) {
    const std::uint64_t st = Notify::state_of(s);
    if (st == Notify::kWaiting) break;
    if (st == Notify::kEmpty) {
      if (n.state_.compare_exchange_weak(s, Notify::with_state(s, Notify::kWaiting), sync::kAcqRel,
                                         sync::kAcquire)) {
        break;
      }
    } else if (n.state_.compare_exchange_weak(s, Notify::with_state(s, Notify::kEmpty),
                                              sync::kAcqRel, sync::kAcquire)) {
      return got(Notification::kOne);
    }
  }
  if (w != nullptr) node_.waker = *w;
  node_.owner = &n.waiters_;
  n.waiters_.push_back(&node_);
  state_ = State::kWaiting;
  return false;
}

inline void Notified::release() {
  Notify& n = *notify_;
  std::uint8_t what = kNoneByte;
  switch (state_) {
    case State::kInit:
    case State::kDone:
      return;
    case State::kNotified:
      what = static_cast<std::uint8_t>(received_);
      break;
    case State::kWaiting: {
      what = node_.notification.load(sync::kAcquire);
      if (what != kNoneByte) break;
      Waker forward;
      {
        sync::Lock lock(n.mu_);
        what = node_.notification.load(sync::kRelaxed);
        if (what == kNoneByte) {
          channels_internal::IntrusiveList<channels_internal::NotifyWaiter>* owner = node_.owner;
          owner->remove(&node_);
          node_.owner = nullptr;
          if (owner == &n.waiters_ && owner->empty()) {
            const std::uint64_t s = n.state_.load(sync::kAcquire);
            n.state_.store(Notify::with_state(s, Notify::kEmpty), sync::kRelease);
          }
          state_ = State::kDone;
          return;
        }
        if (what == static_cast<std::uint8_t>(Notification::kOne)) {
          forward = n.notify_locked(Notify::Pick::kFront);
          what = kNoneByte;  // passed on already
        }
      }
      state_ = State::kDone;
      std::move(forward).wake();
      return;
    }
  }
  state_ = State::kDone;
  // A notify_one() received but never returned as Ready goes to the next.
  if (what == static_cast<std::uint8_t>(Notification::kOne)) n.notify_one();
}

}  // namespace weft

#endif  // WEFT_CHANNELS_NOTIFY_H_
