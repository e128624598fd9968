// -----------------------------------------------------------------------------
// File: channels/broadcast.h
// -----------------------------------------------------------------------------
//
// `broadcast<T>(capacity)`: a multi-producer, multi-consumer channel in which
// every receiver sees every value sent after it subscribed. Senders never
// block: a receiver that falls more than `capacity` values behind loses the
// oldest ones and is told how many. Rust: `tokio::sync::broadcast`.
//
//   auto [tx, rx] = broadcast<T>(capacity);   // capacity rounded up to 2^k
//   tx.send(v)          -> Result<size_t, SendError<T>>: Ok(receivers that
//                          will see it), Err(v back) when there are none
//   tx.subscribe()      a new receiver, starting after the last value sent
//   tx.receiver_count()
//   tx.is_closed(), co_await tx.closed()   no receiver left (tokio 1.44)
//   BroadcastSender copies are more senders.
//   co_await rx.recv()  -> Result<T, RecvError>: a copy of the next value;
//                          Err(lagged(n)): n values were overwritten before
//                          this receiver read them, the next recv continues
//                          with the oldest value still held; Err(closed()):
//                          every sender is gone and nothing is left to read
//   rx.try_recv()       -> Result<T, TryRecvError> (empty / closed / lagged)
//   rx.blocking_recv()  recv() for synchronous code (parks the OS thread)
//   rx.resubscribe()    a new receiver starting after the last value sent
//   rx.len()            values sent that `rx` has not received yet
//   BroadcastStream<T>(std::move(rx))   the receiver as a Stream of
//                       Result<T, RecvError> (tokio-stream's BroadcastStream)
//
// Design: a ring of `capacity` slots, each with its own mutex, the position
// of the value it holds, that value, and the number of receivers that still
// have to read it (`rem`). A send takes the tail mutex, writes slot
// `pos % capacity` (destroying the value it overwrites), then wakes the
// receivers waiting for that position. A receive locks only the slot it
// reads, in the common case: it copies the value (the last reader moves it
// out instead, and the slot is emptied). Receivers waiting for the next
// value are an intrusive list under the tail mutex, each node inside its
// `recv()` future.
//
// Costs: one allocation at `broadcast()` for the shared state and the ring
// together (on x86-64: 120 + capacity * (64 + sizeof(T), rounded) bytes;
// 72 per slot for an 8-byte T), reference-counted by hand (an intrusive
// count of senders + receivers); none afterwards (no allocation per send,
// receive or wait). A send takes the tail mutex and one slot mutex, and wakes
// every waiting receiver after releasing them (in batches of 32); a receive
// that finds its value takes one slot mutex and copies `T`; one that waits
// takes the tail mutex as well. `T` must be copyable (each receiver gets its
// own copy) and nothrow-movable. sizeof(BroadcastRecv<T>) is 64 bytes.
// Memory ordering: the ring, positions, counts and waiter list are guarded by
// the mutexes (lock order: tail, then a slot). Atomics: the handle counts
// (relaxed increments, acq_rel decrements; the last one frees the state) and
// a waiter's `queued` flag, which the waking sender clears (release) as its
// last access to the node after taking its waker; the owning future reads it
// (acquire) and locks the tail only while it is set.
// A live `T` is never destroyed under a channel mutex (overwritten and
// abandoned values are moved out and destroyed after unlocking; only the
// emptied, moved-from shell is destroyed under the slot lock), so a `T` may
// itself hold handles of the same channel.
//
// Contract: senders are thread-safe (`send`, `subscribe`, `receiver_count`
// may be called concurrently on one sender). A receiver is used by one task
// at a time, with at most one `recv()` future alive, which must not outlive
// it; the future may move only before its first poll. Values are destroyed
// when overwritten, or when the last receiver that still needed them read
// them or was dropped.
// Cancellation: `recv()` is cancel-safe: the receiver's position advances
// only when the future returns Ready, so destroying it loses no value; it
// unlinks its waiter node and drops its waker.
//
// Example:
//
//   auto [tx, rx] = weft::broadcast<int>(4);
//   auto rx2 = tx.subscribe();
//   EXPECT_EQ(tx.send(10).value(), 2u);             // two receivers
//   weft::LocalExecutor ex;
//   EXPECT_EQ(ex.block_on(rx.recv()).value(), 10);
//   EXPECT_EQ(rx2.try_recv().value(), 10);
//   for (int i = 0; i < 10; ++i) (void)tx.send(i);  // rx falls 10 behind
//   EXPECT_EQ(rx.try_recv().error(), weft::TryRecvError::lagged(6));
//   EXPECT_EQ(rx.try_recv().value(), 6);            // then 6, 7, 8, 9
//
#ifndef WEFT_CHANNELS_BROADCAST_H_
#define WEFT_CHANNELS_BROADCAST_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/internal/waiter_list.h"
#include "channels/internal/waker_batch.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

template <class T>
class BroadcastSender;
template <class T>
class BroadcastReceiver;
template <class T>
class BroadcastRecv;
template <class T>
class BroadcastClosed;
template <class T>
class BroadcastStream;

namespace channels_internal {

inline constexpr std::uint64_t kNeverWritten = ~std::uint64_t{0};

// One ring slot; every field guarded by `mu`.
template <class T>
struct BroadcastSlot {
  sync::Mutex mu;
  std::uint64_t pos = kNeverWritten;  // the position last written here
  std::size_t rem = 0;                // receivers that still have to read it
  std::optional<T> value;             // empty once every receiver read it
};

// A waiting `recv()` future's node. `waker`, `pos` and the links are guarded
// by the tail mutex; `queued` is described at the top of broadcast.h.
struct BroadcastWaiter : ListLink<BroadcastWaiter> {
  Waker waker;
  std::uint64_t pos = 0;  // the position the receiver waits for
  sync::Atomic<bool> queued{false};
};

// The state shared by every handle, followed in the same allocation by the
// ring. Fields under "tail mutex" are guarded by `tail_mu`.
template <class T>
class BroadcastShared {
 public:
  using Slot = BroadcastSlot<T>;

  // `capacity` is a power of two. Handle counts start at zero.
  static BroadcastShared* create(std::size_t capacity) {
    const std::size_t offset = slots_offset();
    void* mem = ::operator new (offset + capacity * sizeof(Slot), std::align_val_t{kAlign});
    Slot* slots = reinterpret_cast<Slot*>(static_cast<char*>(mem) + offset);
    for (std::size_t i = 0; i < capacity; ++i) ::new (static_cast<void*>(slots + i)) Slot();
    return ::new (mem) BroadcastShared(capacity, slots);
  }

  void retain() noexcept { refs_.fetch_add(1, sync::kRelaxed); }
  void release() noexcept {
    if (refs_.fetch_sub(1, sync::kAcqRel) != 1) return;
    const std::size_t capacity = mask_ + 1;
    Slot* slots = slots_;
    this->~BroadcastShared();
    for (std::size_t i = 0; i < capacity; ++i) slots[i].~Slot();
    ::operator delete (static_cast<void*>(this), std::align_val_t{kAlign});
  }

  std::size_t capacity() const noexcept { return mask_ + 1; }
  Slot& slot(std::uint64_t pos) noexcept { return slots_[pos & mask_]; }

  // With `lock` (on tail_mu) held: wakes the waiters waiting for a position
  // <= `upto` (they are a prefix: waiters register in position order).
  // Returns with the lock released; wakers run unlocked, 32 at a time.
  void wake_waiters(sync::UniqueLock& lock, std::uint64_t upto) { wake_list(lock, waiters, upto); }

  // With `lock` (on tail_mu) held and no receiver left: wakes every
  // `closed()` future (their nodes' `pos` is 0). Returns with the lock
  // released.
  void wake_closed_waiters(sync::UniqueLock& lock) { wake_list(lock, closed_waiters, kNeverWritten); }

  // Under the tail mutex: takes `w` off `list` if a waker has not already
  // (then `queued` is clear), and drops its waker after unlocking.
  void unqueue(IntrusiveList<BroadcastWaiter>& list, BroadcastWaiter* w) noexcept {
    if (!w->queued.load(sync::kAcquire)) return;  // never queued, or woken (last touch: release)
    Waker dropped;  // destroyed after the lock is released
    sync::Lock lock(tail_mu);
    if (w->linked()) list.remove(w);
    dropped = std::move(w->waker);
    w->queued.store(false, sync::kRelaxed);
  }

  sync::Atomic<std::size_t> senders{0};

  sync::Mutex tail_mu;
  std::uint64_t tail = 0;                  // tail mutex: the position of the next send
  std::size_t receivers = 0;               // tail mutex
  bool closed = false;                     // tail mutex: every sender is gone
  IntrusiveList<BroadcastWaiter> waiters;  // tail mutex: recv() futures and streams
  IntrusiveList<BroadcastWaiter> closed_waiters;  // tail mutex: BroadcastSender::closed()

 private:
  // Wakes the waiters of `list` waiting for a position <= `upto` (a prefix:
  // waiters register in position order), 32 wakers at a time, unlocked.
  void wake_list(sync::UniqueLock& lock, IntrusiveList<BroadcastWaiter>& list, std::uint64_t upto) {
    WakerBatch batch;
    for (;;) {
      BroadcastWaiter* w = list.front();
      while (w != nullptr && w->pos <= upto && !batch.full()) {
        list.remove(w);
        batch.push(std::move(w->waker));
        w->queued.store(false, sync::kRelease);  // last touch
        w = list.front();
      }
      const bool done = w == nullptr || w->pos > upto;
      lock.unlock();
      batch.wake_all();
      if (done) return;
      lock.lock();
    }
  }

  static constexpr std::size_t kAlign = alignof(Slot) > alignof(std::max_align_t)
                                            ? alignof(Slot)
                                            : alignof(std::max_align_t);
  static std::size_t slots_offset() noexcept {
    return (sizeof(BroadcastShared) + alignof(Slot) - 1) / alignof(Slot) * alignof(Slot);
  }

  BroadcastShared(std::size_t capacity, Slot* slots) noexcept
      : mask_(capacity - 1), slots_(slots) {}

  sync::Atomic<std::size_t> refs_{0};
  const std::size_t mask_;
  Slot* const slots_;
};

}  // namespace channels_internal

// broadcast<T>(capacity)
//
// A channel of `capacity` (rounded up to a power of two, at least 1) slots:
// a sender and a first receiver.
template <class T>
std::pair<BroadcastSender<T>, BroadcastReceiver<T>> broadcast(std::size_t capacity);

// BroadcastSender<T>
//
// Copyable (a copy is another sender) and movable. When the last sender is
// gone the channel is closed: receivers read what is left, then get
// `RecvError::closed()`.
template <class T>
class BroadcastSender {
  using Shared = channels_internal::BroadcastShared<T>;

 public:
  BroadcastSender(const BroadcastSender& o) noexcept : s_(o.s_) {
    if (s_ != nullptr) {
      s_->senders.fetch_add(1, sync::kRelaxed);
      s_->retain();
    }
  }
  BroadcastSender(BroadcastSender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  BroadcastSender& operator=(BroadcastSender o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~BroadcastSender() { drop(); }

  // BroadcastSender::send()
  //
  // Stores `value` for every current receiver (overwriting the oldest value
  // if the ring is full) and wakes the waiting ones. Returns how many
  // receivers will see it, or gives `value` back when there are none.
  Result<std::size_t, SendError<T>> send(T value) const {
    Shared& s = checked();
    std::optional<T> overwritten;  // destroyed after the locks are released
    sync::UniqueLock tail_lock(s.tail_mu);
    const std::size_t n = s.receivers;
    if (n == 0) {
      tail_lock.unlock();
      return Err{SendError<T>{std::move(value)}};
    }
    const std::uint64_t pos = s.tail;
    {
      channels_internal::BroadcastSlot<T>& slot = s.slot(pos);
      sync::Lock slot_lock(slot.mu);
      if (slot.value.has_value()) {
        overwritten.emplace(std::move(*slot.value));
        slot.value.reset();
      }
      slot.value.emplace(std::move(value));
      slot.pos = pos;
      slot.rem = n;
    }
    s.tail = pos + 1;
    s.wake_waiters(tail_lock, pos);
    return n;
  }

  // BroadcastSender::subscribe()
  //
  // A new receiver that sees the values sent from now on.
  BroadcastReceiver<T> subscribe() const { return BroadcastReceiver<T>::attach(&checked()); }

  // BroadcastSender::receiver_count()
  std::size_t receiver_count() const {
    Shared& s = checked();
    sync::Lock lock(s.tail_mu);
    return s.receivers;
  }

  // BroadcastSender::is_closed() / closed()
  //
  // No receiver is left (a later `subscribe()` opens it again); `closed()`
  // is a future of Unit, Ready once that is so (tokio 1.44's
  // `Sender::closed`). Cancel-safe; it borrows this sender, and must not
  // move after its first poll.
  bool is_closed() const { return receiver_count() == 0; }
  BroadcastClosed<T> closed() const { return BroadcastClosed<T>(&checked()); }

  // True if both send into the same channel.
  bool same_channel(const BroadcastSender& o) const noexcept { return s_ == o.s_; }

 private:
  template <class U>
  friend std::pair<BroadcastSender<U>, BroadcastReceiver<U>> broadcast(std::size_t capacity);

  explicit BroadcastSender(Shared* s) noexcept : s_(s) {
    s_->senders.fetch_add(1, sync::kRelaxed);
    s_->retain();
  }
  Shared& checked() const noexcept {
    WEFT_HARDENING_ASSERT(s_ != nullptr, "BroadcastSender used after it was moved from");
    return *s_;
  }
  void drop() {
    Shared* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    if (s->senders.fetch_sub(1, sync::kAcqRel) == 1) {  // the last sender: close
      sync::UniqueLock lock(s->tail_mu);
      s->closed = true;
      s->wake_waiters(lock, channels_internal::kNeverWritten);
    }
    s->release();
  }

  Shared* s_;
};

// BroadcastReceiver<T>
//
// Movable, not copyable (`resubscribe()` makes another receiver). Dropping
// it releases the values it had not read yet (the last receiver to need a
// value destroys it).
template <class T>
class BroadcastReceiver {
  using Shared = channels_internal::BroadcastShared<T>;

 public:
  BroadcastReceiver(BroadcastReceiver&& o) noexcept
      : s_(std::exchange(o.s_, nullptr)), next_(o.next_) {}
  BroadcastReceiver& operator=(BroadcastReceiver&& o) noexcept {
    BroadcastReceiver moved(std::move(o));
    std::swap(s_, moved.s_);
    std::swap(next_, moved.next_);
    return *this;
  }
  BroadcastReceiver(const BroadcastReceiver&) = delete;
  BroadcastReceiver& operator=(const BroadcastReceiver&) = delete;
  ~BroadcastReceiver() { drop(); }

  // BroadcastReceiver::recv()
  //
  // A future of the next value (`Result<T, RecvError>`); see the top.
  BroadcastRecv<T> recv() noexcept { return BroadcastRecv<T>(this); }

  // BroadcastReceiver::try_recv()
  //
  // The next value if there is one; else `empty()`, `closed()` (no sender
  // and nothing left) or `lagged(n)`.
  Result<T, TryRecvError> try_recv() { return step(nullptr, nullptr); }

  // BroadcastReceiver::blocking_recv()
  //
  // Synchronous code only: parks the calling OS thread until `recv()` is
  // Ready (`block_on`; tokio's `blocking_recv`). Never call it from a task
  // running on an executor: it blocks that worker (and deadlocks if the
  // sender needs that thread to run).
  Result<T, RecvError> blocking_recv() { return weft::block_on(recv()); }

  // BroadcastReceiver::resubscribe()
  //
  // A new receiver that sees the values sent from now on (not the ones
  // this receiver has yet to read).
  BroadcastReceiver resubscribe() const { return attach(&checked()); }

  // BroadcastReceiver::len()
  //
  // Values sent that this receiver has not received; above the capacity,
  // the next receive reports `lagged`.
  std::uint64_t len() const {
    Shared& s = checked();
    sync::Lock lock(s.tail_mu);
    return s.tail - next_;
  }
  bool is_empty() const { return len() == 0; }

  // True once every sender is gone (values may still be left to read).
  bool is_closed() const {
    Shared& s = checked();
    sync::Lock lock(s.tail_mu);
    return s.closed;
  }

 private:
  friend class BroadcastSender<T>;
  friend class BroadcastRecv<T>;
  friend class BroadcastStream<T>;
  template <class U>
  friend std::pair<BroadcastSender<U>, BroadcastReceiver<U>> broadcast(std::size_t capacity);

  BroadcastReceiver(Shared* s, std::uint64_t next) noexcept : s_(s), next_(next) {}

  // A receiver starting at the current tail.
  static BroadcastReceiver attach(Shared* s) {
    std::uint64_t next;
    {
      sync::Lock lock(s->tail_mu);
      s->receivers += 1;
      next = s->tail;
    }
    s->retain();
    return BroadcastReceiver(s, next);
  }

  Shared& checked() const noexcept {
    WEFT_HARDENING_ASSERT(s_ != nullptr, "BroadcastReceiver used after it was moved from");
    return *s_;
  }

  // Reads position `next_`. When there is nothing to read yet and `waiter`
  // is given, registers it (or refreshes its waker) before returning
  // `empty()`.
  Result<T, TryRecvError> step(channels_internal::BroadcastWaiter* waiter, const Waker* waker) {
    Shared& s = checked();
    for (;;) {
      bool overwritten = false;
      {
        channels_internal::BroadcastSlot<T>& slot = s.slot(next_);
        sync::Lock slot_lock(slot.mu);
        if (slot.pos == next_) {
          WEFT_ASSERT(slot.value.has_value() && slot.rem > 0,
                      "broadcast: a value was released before this receiver read it");
          if (slot.rem == 1) {  // the last reader: move it out
            T v(std::move(*slot.value));
            slot.value.reset();
            slot.rem = 0;
            next_ += 1;
            return v;
          }
          T v(*slot.value);  // may throw: nothing changed yet
          slot.rem -= 1;
          next_ += 1;
          return v;
        }
        overwritten = slot.pos != channels_internal::kNeverWritten && slot.pos > next_;
      }
      sync::Lock tail_lock(s.tail_mu);
      if (overwritten) {
        const std::uint64_t oldest = s.tail - s.capacity();
        WEFT_ASSERT(oldest > next_,
                    "broadcast: a slot was overwritten but the receiver is not behind");
        const std::uint64_t skipped = oldest - next_;
        next_ = oldest;
        return Err{TryRecvError::lagged(skipped)};
      }
      if (s.tail != next_) continue;  // written since the slot was looked at
      if (s.closed) return Err{TryRecvError::closed()};
      if (waiter != nullptr) {
        if (waiter->linked()) {
          register_waker(waiter->waker, *waker);
        } else {
          waiter->pos = next_;
          waiter->waker = *waker;
          waiter->queued.store(true, sync::kRelaxed);  // read by this thread only
          s.waiters.push_back(waiter);
        }
      }
      return Err{TryRecvError::empty()};
    }
  }

  // Unlinks `waiter` if a sender has not already taken it off the list.
  void unqueue(channels_internal::BroadcastWaiter* waiter) noexcept { checked().unqueue(checked().waiters, waiter); }

  // One receive with `waiter` as the node to wait with (recv() and
  // BroadcastStream): the value, lagged(n), closed, or Pending (queued).
  Poll<Result<T, RecvError>> poll_recv(channels_internal::BroadcastWaiter* waiter, Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    Result<T, TryRecvError> r = step(waiter, &cx.waker());
    if (r.is_ok()) {
      unqueue(waiter);
      return Result<T, RecvError>(std::move(r).value());
    }
    const TryRecvError e = r.error();
    if (e.is_empty()) return Pending{};
    unqueue(waiter);
    if (e.is_closed()) return Result<T, RecvError>(Err{RecvError::closed()});
    return Result<T, RecvError>(Err{RecvError::lagged(e.lagged_by())});
  }

  void drop() {
    Shared* s = std::exchange(s_, nullptr);
    if (s == nullptr) return;
    std::uint64_t tail;
    {
      sync::UniqueLock lock(s->tail_mu);
      s->receivers -= 1;
      tail = s->tail;
      if (s->receivers == 0 && !s->closed_waiters.empty()) s->wake_closed_waiters(lock);
    }
    // Every value in [next_, tail) still held counts this receiver in `rem`
    // (it was sent while this receiver was subscribed); later ones do not.
    std::uint64_t from = next_;
    if (tail - from > s->capacity()) from = tail - s->capacity();
    for (std::uint64_t p = from; p < tail; ++p) {
      std::optional<T> released;  // destroyed after the slot is unlocked
      channels_internal::BroadcastSlot<T>& slot = s->slot(p);
      sync::Lock lock(slot.mu);
      if (slot.pos != p) continue;  // overwritten meanwhile
      WEFT_ASSERT(slot.rem > 0, "broadcast: a value was released before a receiver that needed it");
      slot.rem -= 1;
      if (slot.rem == 0) {
        released.emplace(std::move(*slot.value));
        slot.value.reset();
      }
    }
    s->release();
  }

  Shared* s_;
  std::uint64_t next_;  // the position of the next value to receive
};

// BroadcastRecv<T>
//
// The future returned by `BroadcastReceiver::recv()`. Name it only to store
// it. Cancel-safe (see the top).
template <class T>
class [[nodiscard("futures do nothing unless polled")]] BroadcastRecv {
 public:
  using Output = Result<T, RecvError>;
  static constexpr bool kCancelSafe = true;

  BroadcastRecv(BroadcastRecv && o) noexcept : rx_(o.rx_) {
    WEFT_HARDENING_ASSERT(!o.waiter_.queued.load(sync::kRelaxed),
                          "BroadcastRecv must not move after its first poll");
  }
  BroadcastRecv& operator=(BroadcastRecv&&) = delete;
  ~BroadcastRecv() { rx_->unqueue(&waiter_); }

  Poll<Output> poll(Context & cx) { return rx_->poll_recv(&waiter_, cx); }

 private:
  friend class BroadcastReceiver<T>;
  explicit BroadcastRecv(BroadcastReceiver<T> * rx) noexcept : rx_(rx) {}

  BroadcastReceiver<T>* rx_;
  channels_internal::BroadcastWaiter waiter_;
};

// BroadcastClosed<T>
//
// The future returned by `BroadcastSender::closed()`: Ready (Unit) once the
// channel has no receiver. Its node lives inside it (no allocation); it is
// linked under the tail mutex while it waits, and a receiver drop that
// leaves none wakes it. Cancel-safe: dropping it unlinks the node.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] BroadcastClosed {
  using Shared = channels_internal::BroadcastShared<T>;

 public:
  using Output = Unit;
  static constexpr bool kCancelSafe = true;

  BroadcastClosed(BroadcastClosed&& o) noexcept : s_(o.s_) {
    WEFT_HARDENING_ASSERT(!o.node_.queued.load(sync::kRelaxed),
                          "BroadcastClosed must not move after its first poll");
  }
  BroadcastClosed& operator=(BroadcastClosed&&) = delete;
  ~BroadcastClosed() { s_->unqueue(s_->closed_waiters, &node_); }

  Poll<Unit> poll(Context& cx) {
    sync::Lock lock(s_->tail_mu);
    if (s_->receivers == 0) {
      if (node_.queued.load(sync::kRelaxed)) {
        s_->closed_waiters.remove(&node_);
        node_.queued.store(false, sync::kRelaxed);
      }
      // A waker left by an earlier wait is dropped with the future.
      return Unit{};
    }
    register_waker(node_.waker, cx.waker());
    if (!node_.queued.load(sync::kRelaxed)) {
      s_->closed_waiters.push_back(&node_);
      node_.queued.store(true, sync::kRelaxed);
    }
    return Pending{};
  }

 private:
  friend class BroadcastSender<T>;
  explicit BroadcastClosed(Shared* s) noexcept : s_(s) {}

  Shared* s_;
  channels_internal::BroadcastWaiter node_;  // `pos` unused (0)
};

// BroadcastStream<T>
//
// A receiver as a `Stream` (future/stream.h) of `Result<T, RecvError>`:
// each value, or `lagged(n)` as an item of its own (the stream goes on with
// the oldest value still held); it ends (nullopt) once every sender is gone
// and nothing is left. Rust: tokio-stream's `BroadcastStream`. It owns the
// receiver (`into_inner()` gives it back) and, unlike that one, allocates
// nothing: its waiter node lives inside it, so it must not move after its
// first `poll_next` (not Unpin). Cancellation: as `recv()` (dropping it
// while it waits unlinks the node; no value is lost: the receiver's
// position only advances when an item is returned).
template <class T>
class BroadcastStream {
 public:
  using Item = Result<T, RecvError>;
  static constexpr bool kUnpin = false;

  explicit BroadcastStream(BroadcastReceiver<T> rx) noexcept : rx_(std::move(rx)) {}
  BroadcastStream(BroadcastStream&& o) noexcept : rx_(std::move(o.rx_)), done_(o.done_) {
    WEFT_HARDENING_ASSERT(!o.waiter_.queued.load(sync::kRelaxed), "BroadcastStream must not move after its first poll");
  }
  BroadcastStream& operator=(BroadcastStream&&) = delete;
  ~BroadcastStream() {
    if (rx_.s_ != nullptr) rx_.unqueue(&waiter_);
  }

  Poll<std::optional<Item>> poll_next(Context& cx) {
    if (done_) return std::optional<Item>();
    Poll<Item> p = rx_.poll_recv(&waiter_, cx);
    if (p.is_pending()) return Pending{};
    Item item = std::move(p).value();
    if (item.is_err() && item.error().is_closed()) {
      done_ = true;
      return std::optional<Item>();
    }
    return std::optional<Item>(std::move(item));
  }

  // The receiver back (only while the stream is not waiting: not after a
  // poll_next that returned Pending, unless one returned Ready since).
  BroadcastReceiver<T> into_inner() && {
    WEFT_HARDENING_ASSERT(!waiter_.queued.load(sync::kRelaxed), "BroadcastStream::into_inner while it waits");
    return std::move(rx_);
  }

 private:
  BroadcastReceiver<T> rx_;
  channels_internal::BroadcastWaiter waiter_;
  bool done_ = false;
};

template <class T>
std::pair<BroadcastSender<T>, BroadcastReceiver<T>> broadcast(std::size_t capacity) {
  static_assert(std::is_copy_constructible_v<T>,
                "broadcast<T>: every receiver gets a copy, T must be copyable");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "broadcast<T>: T must be nothrow move constructible");
  WEFT_HARDENING_ASSERT(capacity > 0, "broadcast: the capacity must be at least 1");
  WEFT_HARDENING_ASSERT(capacity <= (std::size_t{1} << 40), "broadcast: the capacity is too large");
  using Shared = channels_internal::BroadcastShared<T>;
  Shared* s = Shared::create(std::bit_ceil(capacity));
  BroadcastSender<T> tx(s);  // +1 sender, +1 reference
  s->receivers = 1;
  s->retain();
  return {std::move(tx), BroadcastReceiver<T>(s, 0)};
}

}  // namespace weft

#endif  // WEFT_CHANNELS_BROADCAST_H_
