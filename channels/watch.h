// -----------------------------------------------------------------------------
// File: channels/watch.h
// -----------------------------------------------------------------------------
//
// `watch<T>(initial)`: senders publish the latest value of something
// (a configuration, a state); any number of receivers read it and can wait
// for it to change. Intermediate values may be skipped: only the newest is
// kept. Rust: `tokio::sync::watch`.
//
//   auto [tx, rx] = weft::watch<Config>(load_config());
//   tx.send(new_config);                  // Result<void, SendError<Config>>
//   if (co_await rx.changed()) use(*rx.borrow_and_update());
//
//   WatchSender<T>    send(v) (fails with the value back when no receiver is
//                     left), send_replace(v) -> old (always stores),
//                     send_modify(f), send_if_modified(f) -> bool, borrow(),
//                     subscribe(), receiver_count(), sender_count(),
//                     is_closed(), closed() (future: every receiver is
//                     gone). Copyable: copies publish to the same value;
//                     dropping the last one closes the channel.
//   WatchReceiver<T>  borrow() (read guard, does not mark seen),
//                     borrow_and_update() (marks the value seen),
//                     has_changed() -> Result<bool, Closed>,
//                     mark_changed() / mark_unchanged(), changed()
//                     (future of Result<void, Closed>), wait_for(pred)
//                     (future of Result<WatchRef<T>, Closed>: the first
//                     value, current or later, with pred(value) true).
//                     Copyable: a copy starts at the same seen version.
//   WatchRef<T>       the guard: `*r`, `r->`, `r.has_changed()`; holds the
//                     read lock while alive.
//   WatchStream<T>    the receiver as a Stream of copies of T: the current
//                     value, then one per change (latest wins); ends when
//                     every sender is gone (tokio-stream's WatchStream;
//                     `from_changes(rx)` skips the current value).
//
// Versions: every send/send_replace/send_modify (and send_if_modified that
// returns true) makes a new version. The receivers made by `watch()` have
// seen the initial value; `subscribe()`'s receiver has seen the current one.
// `changed()` is Ready(Ok) as soon as the version is newer than the one this
// receiver saw (and marks it seen), Ready(Err(Closed)) when the sender is
// gone and there is nothing newer. `has_changed()` answers the same
// question without waiting: true, false, or Err(Closed) (tokio answers Err
// as soon as the sender is gone; weft reports a last unseen value first).
// `wait_for(pred)` calls `pred` on the current value (seen or not), then on
// each newer version it observes, marking each one seen; Ready(Ok) with a
// guard of the first value it accepts, Ready(Err(Closed)) when the sender is
// gone and it rejected the last value. Rust: `watch::Receiver::wait_for`.
//
// Costs: one allocation per channel (`new`: the value, a std::shared_mutex,
// the version word, the waiter lists; intrusive counts, not a shared_ptr).
// Receiver copy/drop: two atomic steps. send: the write lock, an atomic add,
// and the waiter mutex only when a `changed()` future waits (then its wakers
// are woken outside the lock, 32 at a time). borrow: the read lock (readers
// do not block each other). changed(): no allocation (its list node lives in
// the future); the waiter mutex only when it has to wait. wait_for: the
// same, plus the read lock and one `pred` call per version it checks
// (spurious polls with no newer version do not call it again); `F` is
// stored in the future.
//
// Contract:
//   - Handles may live on different threads; each handle is used by one
//     thread at a time (copy a receiver per thread).
//   - Do not send, nor borrow again, on a thread that holds a `WatchRef` of
//     the same channel (the write lock would wait forever; a second read
//     lock on one thread is undefined for std::shared_mutex). Keep guards
//     short.
//   - `changed()`, `wait_for()` and `closed()` borrow their handle (it must
//     outlive them and not move meanwhile); they are immovable after their
//     first poll (moving one that is queued is a hardening assert).
//   - `wait_for`'s `pred` runs under the read lock: it must not send or
//     borrow on the same channel; the guard it returns holds the read lock
//     (the rule above applies).
//   - A moved-from handle may only be destroyed or assigned to.
//
// Cancellation: `changed()`, `wait_for()` and `closed()` only observe: all
// cancel-safe (`kCancelSafe`). Destroying one while it is queued unlinks it
// (under the waiter mutex) and drops its waker; nothing else is affected.
// A dropped `wait_for` has marked seen only versions its `pred` rejected
// (as tokio's does); a new `wait_for` still checks the current value first.
//
// Memory ordering:
//   - `state` (version * 2 | closed bit): seq_cst. The version is bumped
//     under the write lock (so a reader under the read lock sees the version
//     that matches the value), then the sender reads `changed_waiting`
//     (seq_cst); a waiting `changed()` increments `changed_waiting` (seq_cst,
//     under the waiter mutex) and then re-reads `state`. One of the two sees
//     the other's write (Dekker), so the sender may skip the mutex when
//     nobody waits without losing a wake-up.
//   - `receivers` acq_rel: the decrement to 0 is followed by a drain of the
//     closed() waiters under the waiter mutex; a closed() future re-checks
//     `receivers` under the same mutex after queueing, so none is missed.
//   - `refs` (sender + receivers) acq_rel: the last release deletes.
//   - The value is read under the read lock, written under the write lock.
//
// Example:
//
//   auto [tx, rx] = weft::watch<int>(1);
//   auto changed = rx.changed();
//   EXPECT_TRUE(weft::testing::poll_once(changed).is_pending());
//   EXPECT_TRUE(tx.send(2).is_ok());
//   EXPECT_TRUE(weft::testing::poll_once(changed).value().is_ok());
//   EXPECT_EQ(*rx.borrow(), 2);
//
#ifndef WEFT_CHANNELS_WATCH_H_
#define WEFT_CHANNELS_WATCH_H_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/internal/waiter_list.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

namespace channels_internal {

// A queued changed() or closed() future. `waker` is guarded by the owner's
// `wait_mu` while the node is linked.
struct WatchWaiter : ListLink<WatchWaiter> {
  Waker waker;
};

// The part of the shared state that does not depend on T.
struct WatchCore {
  static constexpr std::uint64_t kClosed = 1;       // the sender is gone
  static constexpr std::uint64_t kVersionStep = 2;  // versions live above the closed bit

  static constexpr std::uint64_t version(std::uint64_t s) noexcept { return s & ~kClosed; }
  static constexpr bool closed(std::uint64_t s) noexcept { return (s & kClosed) != 0; }

  sync::Atomic<std::uint64_t> state{0};           // seq_cst; see the header comment
  sync::Atomic<std::size_t> receivers{1};         // acq_rel
  sync::Atomic<std::size_t> senders{1};           // acq_rel: the last one closes
  sync::Atomic<std::size_t> refs{2};              // sender + receivers; acq_rel
  sync::Atomic<std::size_t> changed_waiting{0};   // changed_waiters.size(); seq_cst
  sync::Mutex wait_mu;
  IntrusiveList<WatchWaiter> changed_waiters;  // guarded by wait_mu
  IntrusiveList<WatchWaiter> closed_waiters;   // guarded by wait_mu

  // Wakes every waiter queued in `list` when called (not those that queue
  // meanwhile, at most once each), 32 at a time outside the mutex.
  void wake_all(IntrusiveList<WatchWaiter>& list) {
    constexpr std::size_t kBatch = 32;
    RawWaker batch[kBatch];  // owned references, taken out of the nodes
    std::size_t left = 0;
    bool first = true;
    for (;;) {
      std::size_t n = 0;
      {
        sync::Lock lock(wait_mu);
        if (first) {
          left = list.size();
          first = false;
        }
        while (n < kBatch && left > 0) {
          WatchWaiter* w = list.pop_front();
          if (w == nullptr) {
            left = 0;
            break;
          }
          left -= 1;
          if (&list == &changed_waiters) changed_waiting.fetch_sub(1, sync::kSeqCst);
          batch[n++] = std::move(w->waker).into_raw();
        }
      }
      for (std::size_t i = 0; i < n; ++i) Waker::from_raw(batch[i]).wake();
      if (left == 0) return;
    }
  }

  // After a version bump or closing (both seq_cst): wake the changed()
  // futures, skipping the mutex when none waits.
  void notify_changed() {
    if (changed_waiting.load(sync::kSeqCst) != 0) wake_all(changed_waiters);
  }
};

// The waiting half of changed() and wait_for(): a node on `changed_waiters`
// and whether it may still be linked (a sender's wake_all unlinks it without
// telling the owner).
struct WatchChangedSlot {
  WatchWaiter node;
  bool queued = false;  // node may be linked (it was, and we have not seen it leave)

  // Under `c.wait_mu`: (re)registers `w` and queues the node if it is not.
  void enqueue_locked(WatchCore& c, const Waker& w) {
    register_waker(node.waker, w);
    if (!node.linked()) {
      c.changed_waiters.push_back(&node);
      c.changed_waiting.fetch_add(1, sync::kSeqCst);  // then re-read state: see the header
      queued = true;
    }
  }
  // Under `c.wait_mu`: leaves the list if still there.
  void unlink_locked(WatchCore& c) noexcept {
    if (node.linked()) {
      c.changed_waiters.remove(&node);
      c.changed_waiting.fetch_sub(1, sync::kSeqCst);
    }
    queued = false;
  }
  // Leaves the list if still there; drops the waker (no one else touches
  // the node once it is unlinked).
  void unlink(WatchCore& c) noexcept {
    if (queued) {
      sync::Lock lock(c.wait_mu);
      unlink_locked(c);
    }
    node.waker = Waker();
  }
  // The state word once `ready(state)` holds (the node left the list), or
  // nullopt after queueing the node with `w` (Pending): a load, then the
  // queue-and-reload under `c.wait_mu` (see the header's ordering).
  template <class Ready>
  std::optional<std::uint64_t> wait_until(WatchCore& c, const Waker& w, Ready ready) {
    std::uint64_t s = c.state.load(sync::kSeqCst);
    if (!ready(s)) {
      sync::Lock lock(c.wait_mu);
      enqueue_locked(c, w);
      s = c.state.load(sync::kSeqCst);
      if (!ready(s)) return std::nullopt;
      unlink_locked(c);
    }
    unlink(c);
    return s;
  }
};

template <class T>
struct WatchState : WatchCore {
  explicit WatchState(T v) : value(std::move(v)) {}

  std::shared_mutex value_mu;
  T value;  // guarded by value_mu

  static void release(WatchState* s) noexcept {
    if (s->refs.fetch_sub(1, sync::kAcqRel) == 1) delete s;
  }
};

}  // namespace channels_internal

template <class T>
class WatchSender;
template <class T>
class WatchReceiver;
template <class T>
class WatchChanged;
template <class T>
class WatchClosed;
template <class T, class F>
class WatchWaitFor;
template <class T>
class WatchStream;

// watch<T>(initial)
//
// A new channel holding `initial`: `auto [tx, rx] = watch<T>(v);`.
template <class T>
std::pair<WatchSender<T>, WatchReceiver<T>> watch(T initial);

// WatchRef<T>
//
// A borrowed view of the current value; holds the read lock while alive.
template <class T>
class WatchRef {
 public:
  const T& operator*() const noexcept { return *value_; }
  const T* operator->() const noexcept { return value_; }
  const T& get() const noexcept { return *value_; }
  // Whether this value was new to the receiver that borrowed it (false for
  // the sender's borrow).
  bool has_changed() const noexcept { return has_changed_; }

 private:
  friend class WatchSender<T>;
  friend class WatchReceiver<T>;
  template <class, class>
  friend class WatchWaitFor;
  WatchRef(std::shared_lock<std::shared_mutex> lock, const T* value, bool changed) noexcept
      : lock_(std::move(lock)), value_(value), has_changed_(changed) {}

  std::shared_lock<std::shared_mutex> lock_;
  const T* value_;
  bool has_changed_;
};

// WatchSender<T>
//
// Copyable (tokio 1.37's `Sender: Clone`): copies publish to the same value.
// Dropping the last copy closes the channel: every changed() waiter is woken
// (with Closed unless a newer value is unseen).
template <class T>
class WatchSender {
  using State = channels_internal::WatchState<T>;
  using Core = channels_internal::WatchCore;

 public:
  WatchSender(const WatchSender& o) noexcept : s_(o.s_) { acquire(); }
  WatchSender(WatchSender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  WatchSender& operator=(const WatchSender& o) noexcept {
    if (this != &o) {
      reset();
      s_ = o.s_;
      acquire();
    }
    return *this;
  }
  WatchSender& operator=(WatchSender&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~WatchSender() { reset(); }

  // WatchSender::send()
  //
  // Stores `v` as the new version and wakes the changed() waiters; fails
  // (storing nothing, handing `v` back) when no receiver is left.
  Result<void, SendError<T>> send(T v) {
    if (state().receivers.load(sync::kAcquire) == 0) return Err{SendError<T>{std::move(v)}};
    store([&](T& cur) { cur = std::move(v); });
    return {};
  }

  // Stores `v` even without receivers (a later subscribe() sees it);
  // returns the previous value.
  T send_replace(T v) {
    store([&](T& cur) { std::swap(cur, v); });
    return v;
  }

  // Calls `f(T&)` under the write lock, then publishes a new version.
  template <class F>
  void send_modify(F&& f) {
    store([&](T& cur) { std::forward<F>(f)(cur); });
  }

  // Calls `f(T&) -> bool` under the write lock; publishes a new version only
  // if it returned true (and returns that).
  template <class F>
  bool send_if_modified(F&& f) {
    State& s = state();
    {
      std::unique_lock<std::shared_mutex> lock(s.value_mu);
      if (!std::forward<F>(f)(s.value)) return false;
      s.state.fetch_add(Core::kVersionStep, sync::kSeqCst);
    }
    s.notify_changed();
    return true;
  }

  // The current value (read lock).
  WatchRef<T> borrow() const {
    State& s = state();
    std::shared_lock<std::shared_mutex> lock(s.value_mu);
    return WatchRef<T>(std::move(lock), &s.value, false);
  }

  // A new receiver that has seen the current value.
  WatchReceiver<T> subscribe() const {
    State& s = state();
    s.refs.fetch_add(1, sync::kRelaxed);
    s.receivers.fetch_add(1, sync::kAcqRel);
    std::shared_lock<std::shared_mutex> lock(s.value_mu);
    return WatchReceiver<T>(s_, Core::version(s.state.load(sync::kSeqCst)));
  }

  std::size_t receiver_count() const noexcept { return state().receivers.load(sync::kAcquire); }
  // Senders (copies of this one, itself included) now.
  std::size_t sender_count() const noexcept { return state().senders.load(sync::kAcquire); }
  // True when no receiver is left (send would fail).
  bool is_closed() const noexcept { return receiver_count() == 0; }

  // A future that is Ready (Unit) once every receiver is gone.
  WatchClosed<T> closed() noexcept { return WatchClosed<T>(*this); }

 private:
  template <class U>
  friend std::pair<WatchSender<U>, WatchReceiver<U>> watch(U initial);
  friend class WatchClosed<T>;

  explicit WatchSender(State* s) noexcept : s_(s) {}

  State& state() const noexcept {
    WEFT_HARDENING_ASSERT(s_ != nullptr, "WatchSender used after it was moved from");
    return *s_;
  }

  template <class F>
  void store(F&& write) {
    State& s = state();
    {
      std::unique_lock<std::shared_mutex> lock(s.value_mu);
      write(s.value);
      s.state.fetch_add(Core::kVersionStep, sync::kSeqCst);
    }
    s.notify_changed();
  }

  void acquire() noexcept {
    if (s_ == nullptr) return;
    s_->senders.fetch_add(1, sync::kRelaxed);
    s_->refs.fetch_add(1, sync::kRelaxed);
  }
  void reset() noexcept {
    if (s_ == nullptr) return;
    State* s = std::exchange(s_, nullptr);
    if (s->senders.fetch_sub(1, sync::kAcqRel) == 1) {  // the last sender closes
      s->state.fetch_or(Core::kClosed, sync::kSeqCst);
      s->notify_changed();
    }
    State::release(s);
  }

  State* s_;
};

// WatchReceiver<T>
//
// Copyable (each copy has its own seen version, starting at the original's).
template <class T>
class WatchReceiver {
  using State = channels_internal::WatchState<T>;
  using Core = channels_internal::WatchCore;

 public:
  WatchReceiver(const WatchReceiver& o) noexcept : s_(o.s_), seen_(o.seen_) { acquire(); }
  WatchReceiver(WatchReceiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)), seen_(o.seen_) {}
  WatchReceiver& operator=(const WatchReceiver& o) noexcept {
    if (this != &o) {
      reset();
      s_ = o.s_;
      seen_ = o.seen_;
      acquire();
    }
    return *this;
  }
  WatchReceiver& operator=(WatchReceiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
      seen_ = o.seen_;
    }
    return *this;
  }
  ~WatchReceiver() { reset(); }

  // The current value, without marking it seen.
  WatchRef<T> borrow() const {
    State& s = state();
    std::shared_lock<std::shared_mutex> lock(s.value_mu);
    const bool changed = Core::version(s.state.load(sync::kSeqCst)) != seen_;
    return WatchRef<T>(std::move(lock), &s.value, changed);
  }

  // The current value, marked seen.
  WatchRef<T> borrow_and_update() {
    State& s = state();
    std::shared_lock<std::shared_mutex> lock(s.value_mu);
    const std::uint64_t v = Core::version(s.state.load(sync::kSeqCst));
    const bool changed = v != seen_;
    seen_ = v;
    return WatchRef<T>(std::move(lock), &s.value, changed);
  }

  // True if a value newer than the last one seen is there; else Err(Closed)
  // when the sender is gone; else false.
  Result<bool, Closed> has_changed() const {
    const std::uint64_t s = state().state.load(sync::kSeqCst);
    if (Core::version(s) != seen_) return true;
    if (Core::closed(s)) return Err{Closed{}};
    return false;
  }

  // Marks the current value seen (without borrowing it).
  void mark_unchanged() { seen_ = Core::version(state().state.load(sync::kSeqCst)); }
  // Marks the current value unseen: has_changed() is then true and
  // changed() Ready at once, as if it had just been sent (tokio's
  // `mark_changed`). (Any version but the current one is "unseen"; versions
  // only grow.)
  void mark_changed() { seen_ = Core::version(state().state.load(sync::kSeqCst)) - Core::kVersionStep; }
  // Senders alive now (0 once the channel is closed).
  std::size_t sender_count() const noexcept { return state().senders.load(sync::kAcquire); }

  // A future: Ready(Ok) once a newer value is there (marking it seen),
  // Ready(Err(Closed)) if the sender is gone and nothing newer is. Borrows
  // this receiver. Cancel-safe.
  WatchChanged<T> changed() noexcept { return WatchChanged<T>(*this); }

  // WatchReceiver::wait_for()
  //
  // A future of `Result<WatchRef<T>, Closed>`: Ready(Ok(guard of the
  // current value)) once `pred(const T&)` returns true for it. `pred` is
  // called on the current value first (even if already seen), then once per
  // new version (intermediate values may be skipped, as always); each value
  // it is called on is marked seen. Ready(Err(Closed)) when the sender is
  // gone and `pred` returned false for the last value. `pred` runs under the
  // read lock: it must not send or borrow on this channel. Borrows this
  // receiver. Cancel-safe.
  template <class F>
    requires std::is_invocable_r_v<bool, F&, const T&>
  WatchWaitFor<T, std::decay_t<F>> wait_for(F&& pred) {
    return WatchWaitFor<T, std::decay_t<F>>(*this, std::forward<F>(pred));
  }

  // Whether both receive from the same channel.
  bool same_channel(const WatchReceiver& o) const noexcept { return s_ == o.s_; }

 private:
  template <class U>
  friend std::pair<WatchSender<U>, WatchReceiver<U>> watch(U initial);
  friend class WatchSender<T>;
  friend class WatchChanged<T>;
  friend class WatchStream<T>;
  template <class, class>
  friend class WatchWaitFor;

  WatchReceiver(State* s, std::uint64_t seen) noexcept : s_(s), seen_(seen) {}

  State& state() const noexcept {
    WEFT_HARDENING_ASSERT(s_ != nullptr, "WatchReceiver used after it was moved from");
    return *s_;
  }
  void acquire() noexcept {
    if (s_ == nullptr) return;
    s_->refs.fetch_add(1, sync::kRelaxed);  // we hold a reference already: relaxed, as shared_ptr
    s_->receivers.fetch_add(1, sync::kAcqRel);
  }
  void reset() noexcept {
    if (s_ == nullptr) return;
    State* s = std::exchange(s_, nullptr);
    if (s->receivers.fetch_sub(1, sync::kAcqRel) == 1) s->wake_all(s->closed_waiters);
    State::release(s);
  }

  State* s_;
  std::uint64_t seen_;  // the version this receiver has seen (closed bit clear)
};

// WatchChanged<T>
//
// The future returned by `WatchReceiver::changed()`; Output =
// Result<void, Closed>. Cancel-safe; immovable once queued.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] WatchChanged {
  using Core = channels_internal::WatchCore;

 public:
  using Output = Result<void, Closed>;
  // It only observes the version; a dropped changed() loses nothing.
  static constexpr bool kCancelSafe = true;

  explicit WatchChanged(WatchReceiver<T>& rx) noexcept : rx_(&rx) {}
  WatchChanged(WatchChanged&& o) noexcept : rx_(o.rx_) {
    WEFT_HARDENING_ASSERT(!o.slot_.queued, "WatchChanged moved while it waits (after its first poll)");
  }
  WatchChanged& operator=(WatchChanged&&) = delete;
  ~WatchChanged() { unlink(); }

  Poll<Output> poll(Context& cx) {
    const std::optional<std::uint64_t> got =
        slot_.wait_until(rx_->state(), cx.waker(), [this](std::uint64_t s) { return ready(s); });
    if (!got.has_value()) return Pending{};
    const std::uint64_t s = *got;
    if (!cx.poll_proceed()) return Pending{};  // budget spent: the change stays unseen
    if (Core::version(s) != rx_->seen_) {
      rx_->seen_ = Core::version(s);
      return Output();
    }
    return Output(Err{Closed{}});
  }

 private:
  bool ready(std::uint64_t s) const noexcept {
    return Core::version(s) != rx_->seen_ || Core::closed(s);
  }

  void unlink() noexcept { slot_.unlink(rx_->state()); }

  WatchReceiver<T>* rx_;
  channels_internal::WatchChangedSlot slot_;
};

// WatchStream<T>
//
// A receiver as a `Stream` (future/stream.h) of `T`: a copy of the value
// each time it changes, and, when made with the constructor, first the
// value current at the first poll (tokio-stream's `WatchStream::new`;
// `WatchStream::from_changes` starts with the next change). Changes that
// come faster than the stream is polled are coalesced: it yields the latest
// value. It ends (nullopt) once every sender is gone. It owns the receiver
// and allocates nothing (tokio-stream's boxes a future): its waiter slot
// lives inside it, so it must not move after its first `poll_next` (not
// Unpin). Cancellation: dropping it unlinks the slot; it only observes.
template <class T>
class WatchStream {
  using Core = channels_internal::WatchCore;

 public:
  using Item = T;
  static constexpr bool kUnpin = false;

  explicit WatchStream(WatchReceiver<T> rx) : rx_(std::move(rx)) { rx_.mark_changed(); }
  static WatchStream from_changes(WatchReceiver<T> rx) { return WatchStream(std::move(rx), FromChanges{}); }

  WatchStream(WatchStream&& o) noexcept : rx_(std::move(o.rx_)) {
    WEFT_HARDENING_ASSERT(!o.slot_.queued, "WatchStream moved while it waits (after its first poll)");
  }
  WatchStream& operator=(WatchStream&&) = delete;
  ~WatchStream() {
    if (rx_.s_ != nullptr) slot_.unlink(rx_.state());
  }

  Poll<std::optional<T>> poll_next(Context& cx) {
    const std::optional<std::uint64_t> got =
        slot_.wait_until(rx_.state(), cx.waker(), [this](std::uint64_t s) { return ready(s); });
    if (!got.has_value()) return Pending{};
    const std::uint64_t s = *got;
    if (!cx.poll_proceed()) return Pending{};  // budget spent: the change stays unseen
    if (Core::version(s) != rx_.seen_) {
      WatchRef<T> ref = rx_.borrow_and_update();  // the latest value (it may be newer than `s`)
      return std::optional<T>(*ref);
    }
    return std::optional<T>();  // closed, and nothing unseen
  }

  // The receiver back (not while the stream waits).
  WatchReceiver<T> into_inner() && {
    WEFT_HARDENING_ASSERT(!slot_.queued, "WatchStream::into_inner while it waits");
    return std::move(rx_);
  }

 private:
  struct FromChanges {};
  WatchStream(WatchReceiver<T> rx, FromChanges) : rx_(std::move(rx)) { rx_.mark_unchanged(); }

  bool ready(std::uint64_t s) const noexcept { return Core::version(s) != rx_.seen_ || Core::closed(s); }

  WatchReceiver<T> rx_;
  channels_internal::WatchChangedSlot slot_;
};

// WatchWaitFor<T, F>
//
// The future returned by `WatchReceiver::wait_for(pred)`; Output =
// Result<WatchRef<T>, Closed>. Waits like `changed()` (same waiter list and
// wake-ups); each poll that finds a version it has not checked yet calls
// `pred` on it under the read lock. Cancel-safe; immovable once queued.
template <class T, class F>
class [[nodiscard("futures do nothing unless polled")]] WatchWaitFor {
  using Core = channels_internal::WatchCore;
  using State = channels_internal::WatchState<T>;

 public:
  using Output = Result<WatchRef<T>, Closed>;
  // It only observes: no value is taken, and the versions it marked seen
  // are ones `pred` already rejected (what tokio's `wait_for` does too), so
  // a dropped wait_for loses nothing a new one would find.
  static constexpr bool kCancelSafe = true;

  WatchWaitFor(WatchReceiver<T>& rx, F pred) : rx_(&rx), pred_(std::move(pred)) {}
  WatchWaitFor(WatchWaitFor&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : rx_(o.rx_), pred_(std::move(o.pred_)), checked_(o.checked_) {
    WEFT_HARDENING_ASSERT(!o.slot_.queued, "WatchWaitFor moved while it waits (after its first poll)");
  }
  WatchWaitFor& operator=(WatchWaitFor&&) = delete;
  ~WatchWaitFor() { unlink(); }

  Poll<Output> poll(Context& cx) {
    State& st = rx_->state();
    bool budgeted = false;  // a budget unit was spent in this poll
    for (;;) {
      std::uint64_t s = st.state.load(sync::kSeqCst);
      if (!checked_ || Core::version(s) != rx_->seen_) {
        if (!cx.poll_proceed()) return Pending{};  // budget spent: nothing checked
        budgeted = true;
        std::shared_lock<std::shared_mutex> lock(st.value_mu);
        s = st.state.load(sync::kSeqCst);  // under the read lock: the value's version
        const std::uint64_t v = Core::version(s);
        const bool changed = v != rx_->seen_;
        rx_->seen_ = v;
        checked_ = true;
        if (pred_(static_cast<const T&>(st.value))) {
          unlink();
          return Output(WatchRef<T>(std::move(lock), &st.value, changed));
        }
      }
      if (Core::closed(s)) {
        unlink();
        if (!budgeted && !cx.poll_proceed()) return Pending{};
        return Output(Err{Closed{}});
      }
      // Wait for a newer version or the close, as changed() does.
      {
        sync::Lock lock(st.wait_mu);
        slot_.enqueue_locked(st, cx.waker());
        s = st.state.load(sync::kSeqCst);
        if (Core::version(s) == rx_->seen_ && !Core::closed(s)) return Pending{};
        slot_.unlink_locked(st);
      }
      // Something happened meanwhile: check it now.
    }
  }

 private:
  void unlink() noexcept { slot_.unlink(rx_->state()); }

  WatchReceiver<T>* rx_;
  F pred_;
  channels_internal::WatchChangedSlot slot_;
  bool checked_ = false;  // pred_ has seen the version rx_->seen_
};

// WatchClosed<T>
//
// The future returned by `WatchSender::closed()`: Ready (Unit) once every
// receiver is gone. Cancel-safe; immovable once queued.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] WatchClosed {
 public:
  using Output = Unit;
  static constexpr bool kCancelSafe = true;

  explicit WatchClosed(WatchSender<T>& tx) noexcept : tx_(&tx) {}
  WatchClosed(WatchClosed&& o) noexcept : tx_(o.tx_) {
    WEFT_HARDENING_ASSERT(!o.queued_, "WatchClosed moved while it waits (after its first poll)");
  }
  WatchClosed& operator=(WatchClosed&&) = delete;
  ~WatchClosed() { unlink(); }

  Poll<Unit> poll(Context& cx) {
    channels_internal::WatchCore& c = tx_->state();
    if (c.receivers.load(sync::kAcquire) != 0) {
      sync::Lock lock(c.wait_mu);
      if (!node_.linked()) {
        register_waker(node_.waker, cx.waker());
        c.closed_waiters.push_back(&node_);
        queued_ = true;
      } else {
        register_waker(node_.waker, cx.waker());
      }
      if (c.receivers.load(sync::kAcquire) != 0) return Pending{};
      c.closed_waiters.remove(&node_);
      queued_ = false;
    }
    unlink();
    if (!cx.poll_proceed()) return Pending{};
    return Unit{};
  }

 private:
  void unlink() noexcept {
    if (queued_) {
      channels_internal::WatchCore& c = tx_->state();
      sync::Lock lock(c.wait_mu);
      if (node_.linked()) c.closed_waiters.remove(&node_);
      queued_ = false;
    }
    node_.waker = Waker();
  }

  WatchSender<T>* tx_;
  channels_internal::WatchWaiter node_;
  bool queued_ = false;
};

template <class T>
std::pair<WatchSender<T>, WatchReceiver<T>> watch(T initial) {
  auto* s = new channels_internal::WatchState<T>(std::move(initial));
  return {WatchSender<T>(s), WatchReceiver<T>(s, 0)};
}

}  // namespace weft

#endif  // WEFT_CHANNELS_WATCH_H_
