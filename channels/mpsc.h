// -----------------------------------------------------------------------------
// File: channels/mpsc.h
// -----------------------------------------------------------------------------
//
// Multi-producer, single-consumer channels, thread-safe: bounded (`mpsc<T>(n)`,
// backpressure: at most n values in flight) and unbounded
// (`unbounded_mpsc<T>()`). Rust: `tokio::sync::mpsc`.
//
//   auto [tx, rx] = weft::mpsc<int>(1024);      // MpscSender<int>, MpscReceiver<int>
//   co_await tx.send(1);                        // Result<void, SendError<int>>
//   tx.try_send(2);                             // Result<void, TrySendError<int>> (kFull / kClosed)
//   auto permit = co_await tx.reserve();        // Result<MpscPermit<int>, Closed>
//   permit->send(3);                            // never fails, never waits
//   std::optional<int> v = co_await rx.recv();  // nullopt: closed and drained
//
//   auto [utx, urx] = weft::unbounded_mpsc<int>();  // UnboundedMpscSender/Receiver
//   utx.send(1);                                // synchronous: Result<void, SendError<int>>
//
// Senders (MpscSender, UnboundedMpscSender): copyable (a copy is another
// producer); `send`; bounded only: `try_send`, `reserve` / `reserve_owned` /
// `try_reserve` (permits), `reserve_many(n)` / `try_reserve_many(n)`
// (MpscPermits: n slots at once), `capacity()` / `max_capacity()`; both:
// `closed()` (future: the receiver closed or dropped), `is_closed()`,
// `same_channel`, `strong_count()` / `weak_count()`, `downgrade()` (a
// WeakMpscSender / WeakUnboundedMpscSender: does not keep the channel open;
// `upgrade()` -> optional sender while one is alive); bounded only:
// `blocking_send(v)` (synchronous code).
// Receivers (MpscReceiver, UnboundedMpscReceiver): move-only; `recv()`,
// `try_recv()` (Result<T, TryRecvError>: empty / closed), `recv_many(vec,
// limit)` (future of the count appended; 0 = closed), `close()`, `len()`,
// `is_empty()`, `is_closed()`, `sender_strong_count()` /
// `sender_weak_count()`, `blocking_recv()` (synchronous code), and
// `poll_next` (a receiver is a `Stream`).
//
// Closing: dropping the last sender closes the channel: the receiver still
// gets every value sent, then `recv()` yields nullopt. `rx.close()` (or
// dropping the receiver) makes later sends fail, handing the value back in
// SendError / TrySendError::closed; values already sent can still be
// received, and so can values sent through permits reserved before the close
// (bounded; `recv()` yields nullopt only once every permit is used or
// dropped). Nothing is lost silently: each value is delivered, handed back,
// or — if the receiver is dropped — destroyed exactly once (the queued ones
// when the receiver drops, stragglers when the last handle drops).
//
// Costs: one allocation per channel (the shared state, reference counted
// intrusively: senders + receiver), plus queue blocks of 32 slots, recycled
// once the channel is in steady state (internal/mpsc_queue.h). Unbounded
// send: one atomic read-modify-write (the slot claim) and a release store;
// recv: one acquire load. Bounded adds a semaphore CAS per send
// (channels_internal::BatchSemaphore: lock-free while nobody waits; a sender
// that has to wait takes its mutex, and a `membarrier` syscall, ~0.2 us)
// and, on the receiver, one CAS per batch of freed slots (below) plus a
// store and a relaxed load per value. The receiver is woken only when it is
// parked, once per park (internal/mpsc_queue.h, park protocol): the first
// send after the receiver went to sleep pays three more RMWs and the
// waker's `wake_by_ref`; the others nothing. A receiver that finds nothing
// parks: one RMW. Its waker stays registered across wakes
// (internal/sticky_waker.h): parking again from the same task registers for
// free; another task's waker replaces it (two CAS and a clone). The waker is
// dropped when a pending recv is dropped, the receiver goes, or the last
// sender goes (its final wake): it keeps the receiving task's memory alive
// until then. Cloning/dropping a sender: two RMWs. Send and reserve
// futures construct their semaphore waiter node only when they must wait
// (none is allocated: it lives in the future). Not freestanding (mutex for
// waiting senders and `closed()`; `block_on` for the blocking calls, whose
// parker is cached per thread: no allocation after a thread's first one).
// Memory ordering: a value is published by a release store of its slot's
// ready flag and taken after an acquire load of it (happens-before from
// send to recv); closing is a release/acquire flag (`is_closed`) plus the
// semaphore's and the tail word's RMWs; the receiver's acquire load of the
// sender count that reads 0 synchronises with every sender's last push.
// Every atomic is documented where it lives (internal/mpsc_queue.h,
// internal/sticky_waker.h, MpscChan below).
//
// Capacity given back in batches (bounded): the receiver returns the slots of
// the values it took to the semaphore every capacity/16 values (at least
// min(4, capacity/2), at most 32; every value below capacity 4), at once
// whenever a sender is waiting, and always before `try_recv` reports empty
// or the receiver reports closed; it saves a semaphore CAS per value. It
// parks without returning them (a receiver that parks after every value, as
// a request/reply server does, would otherwise pay the CAS every time).
// The slots it holds back still count as free: a sender that finds no
// permit takes them itself (`try_send`, `try_reserve`; `send` and `reserve`
// once queued, after the fence below), and `capacity()` includes them, so a
// value taken always frees its slot for the next sender at once, as in
// tokio, even if the receiver then waits for something else. The one race
// — a sender starts waiting while the receiver is taking a value — is
// closed by an asymmetric fence (internal/asymmetric_fence.h: `membarrier`
// once per wait on the sender's side, no instruction on the receiver's);
// where the kernel lacks it, each value's slot goes back at once (a CAS per
// value). A full channel
// gains nothing from holding back, and a membarrier is costly (an IPI to
// each CPU, serialised in the kernel; microseconds in a VM): the first time
// the receiver sees a waiting sender it gives everything back and returns
// each value's slot at once from then on, and senders stop fencing. (A
// sender that has to queue while the receiver is parked or busy elsewhere
// still pays the fence, and the switch then may not happen.)
//
// Contract: senders and their futures may be used from any thread; the
// receiver from one thread at a time. Futures and borrowed permits borrow
// their sender/receiver: they must not outlive it (`reserve_owned` gives an
// MpscOwnedPermit that holds a sender). T must be nothrow move
// constructible. Polling the receiver from a task while another producer
// thread is preempted in the middle of a send may spin briefly then yield
// (the value it waits for is being written). Bounded capacity: 1 ..
// BatchSemaphore::kMaxPermits (capacity 0 is a contract violation).
// `blocking_recv()` / `blocking_send(v)` park the calling OS thread
// (`block_on`, future/block_on.h): for synchronous code (plain threads)
// only; never call them from a task on an executor (they block its worker
// thread, and deadlock if the other side needs that thread).
// FIFO per producer; values of different producers interleave in the order
// their sends claimed slots.
//
// Cancellation:
//   - `recv()` is cancel-safe (declared): a value is taken only in the poll
//     that returns it; dropping a pending recv leaves no waker behind.
//     `recv_many` likewise.
//   - `reserve()` is cancel-safe (declared): dropping it while queued gives
//     up its place (and a permit granted but not yet seen goes back). Use it
//     in a `select` instead of `send`: `reserve()`, then `permit.send(v)`.
//   - `send(v)` is NOT cancel-safe: dropping it before it completes destroys
//     the value it holds (not declared kCancelSafe; wrap in `unsafe_cancel`
//     to accept that).
//   - `closed()` is cancel-safe.
//   - Dropping an unused permit returns its slot.
//   - `blocking_recv` / `blocking_send` run their future to completion on
//     the calling thread: there is nothing to cancel.
//
// Example:
//
//   auto [tx, rx] = weft::mpsc<int>(2);
//   ASSERT_TRUE(tx.try_send(1).is_ok());
//   ASSERT_TRUE(tx.try_send(2).is_ok());
//   EXPECT_TRUE(tx.try_send(3).error().is_full());
//   EXPECT_EQ(rx.try_recv().value(), 1);
//   ASSERT_TRUE(tx.try_send(3).is_ok());
//   { auto drop = std::move(tx); }              // last sender gone: closes
//   EXPECT_EQ(weft::block_on(rx.recv()), 2);
//   EXPECT_EQ(weft::block_on(rx.recv()), 3);
//   EXPECT_EQ(weft::block_on(rx.recv()), std::nullopt);
//
#ifndef WEFT_CHANNELS_MPSC_H_
#define WEFT_CHANNELS_MPSC_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "channels/error.h"
#include "channels/internal/asymmetric_fence.h"
#include "channels/internal/mpsc_queue.h"
#include "channels/internal/sticky_waker.h"
#include "channels/internal/waiter_list.h"
#include "channels/semaphore.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

template <class T>
class MpscSender;
template <class T>
class MpscReceiver;
template <class T>
class MpscPermit;
template <class T>
class MpscOwnedPermit;
template <class T>
class MpscPermits;
template <class T>
class MpscReserveOwnedFuture;
template <class T>
class UnboundedMpscSender;
template <class T>
class UnboundedMpscReceiver;
template <class T>
class WeakMpscSender;
template <class T>
class WeakUnboundedMpscSender;

namespace channels_internal {

struct MpscNoSemaphore {};

// How many taken values' permits the bounded receiver holds back before it
// gives them to the semaphore ("Capacity given back in batches" above).
constexpr std::size_t mpsc_release_batch(std::size_t capacity) noexcept {
  const std::size_t small = capacity / 2 < 4 ? capacity / 2 : 4;
  const std::size_t b = capacity / 16 > small ? capacity / 16 : small;
  return b == 0 ? 1 : (b > 32 ? 32 : b);
}
static_assert(mpsc_release_batch(1) == 1 && mpsc_release_batch(3) == 1 && mpsc_release_batch(4) == 2 &&
              mpsc_release_batch(10) == 4 && mpsc_release_batch(64) == 4 && mpsc_release_batch(1024) == 32);

// The error result of a reserve future, built out of line: when both the Ok
// (permit) and the Err results are built inline, GCC merges the two
// temporaries and warns (-Wmaybe-uninitialized, a false positive) about the
// permit bytes of the Err one.
template <class Out>
[[gnu::cold, gnu::noinline]] Poll<Out> closed_result() {
  return Out(Err{Closed{}});
}

// A sender waiting in `closed()`.
struct MpscClosedWaiter : ListLink<MpscClosedWaiter> {
  Waker waker;  // under MpscChan::closed_mu_
};

// MpscChan<T, kBounded>
//
// The shared state. Reference count `refs_` (acq_rel on release) counts the
// senders and the receiver; `tx_count_` (acq_rel) the senders only: the
// receiver's acquire load that reads 0 synchronises with every sender's
// last push. `rx_closed_` (release store, acquire loads) tells senders the
// receiver closed. Fields marked rx-owned are touched only by the receiver.
template <class T, bool kBounded>
class MpscChan {
 public:
  using Queue = MpscQueue<T>;
  using Sem = std::conditional_t<kBounded, BatchSemaphore, MpscNoSemaphore>;

  explicit MpscChan(std::size_t capacity)
    requires kBounded
      : sem_(capacity), capacity_(capacity) {}
  MpscChan()
    requires(!kBounded)
      : capacity_(0) {}
  MpscChan(const MpscChan&) = delete;
  MpscChan& operator=(const MpscChan&) = delete;
  ~MpscChan() { WEFT_ASSERT(closed_waiters_.empty(), "mpsc: closed() futures outlived the channel"); }

  // ---- reference counts ----
  void add_ref() noexcept { refs_.fetch_add(1, sync::kRelaxed); }
  void release_ref() noexcept {
    if (refs_.fetch_sub(1, sync::kAcqRel) == 1) delete this;
  }
  void add_sender() noexcept {
    tx_count_.fetch_add(1, sync::kRelaxed);
    add_ref();
  }
  void drop_sender() noexcept {
    if (tx_count_.fetch_sub(1, sync::kAcqRel) == 1) {  // the last one: wake rx, for good
      queue_.sync_with_park();
      rx_waker_.wake_final();
    }
    release_ref();
  }
  // Weak senders keep the memory (a reference) but not the channel open.
  void add_weak() noexcept {
    weak_count_.fetch_add(1, sync::kRelaxed);
    add_ref();
  }
  void drop_weak() noexcept {
    weak_count_.fetch_sub(1, sync::kRelaxed);
    release_ref();
  }
  // A weak sender's upgrade: a new sender only while one is alive. Once the
  // count reached zero the receiver may have seen "closed" (and drained);
  // a channel never reopens. The caller holds a reference (its weak one).
  bool try_add_sender() noexcept {
    std::size_t n = tx_count_.load(sync::kRelaxed);
    do {
      if (n == 0) return false;
    } while (!tx_count_.compare_exchange_weak(n, n + 1, sync::kRelaxed, sync::kRelaxed));
    add_ref();
    return true;
  }
  std::size_t sender_count() const noexcept { return tx_count_.load(sync::kAcquire); }
  std::size_t weak_sender_count() const noexcept { return weak_count_.load(sync::kRelaxed); }

  // ---- sender side ----
  Sem& sem() noexcept { return sem_; }
  // The semaphore's try_acquire, taking the held-back permits first when
  // there are too few.
  BatchSemaphore::TryResult try_acquire(std::size_t n) noexcept
    requires kBounded
  {
    BatchSemaphore::TryResult r = sem_.try_acquire(n);
    if (r == BatchSemaphore::TryResult::kNoPermits && steal_deferred() != 0) r = sem_.try_acquire(n);
    return r;
  }
  std::size_t capacity() const noexcept { return capacity_; }
  bool rx_closed() const noexcept { return rx_closed_.load(sync::kAcquire); }

  // Pushes a value for which a permit is held (bounded) or any value
  // (unbounded). False (value untouched) if the unbounded channel is closed.
  bool push(T&& v) noexcept {
    switch (queue_.push(std::move(v))) {
      case Queue::PushResult::kPushed:
        return true;
      case Queue::PushResult::kPushedWake:
        rx_waker_.wake();
        return true;
      case Queue::PushResult::kClosed:
        break;
    }
    return false;
  }

  // A permit was given back by a sender (unused permit, dropped future).
  // After a close the receiver may be waiting for the last one: wake it.
  // (The RMW of the release and the load of the closed bit are on the same
  // semaphore word as the close, so one of the two sides sees the other.)
  // Out of line: a rare path (an unused permit, a dropped waiting send), and
  // inlined into a permit's destructor GCC 12's -O1 (sanitizer builds) warns
  // about a null channel on a path where it cannot be null.
  [[gnu::noinline]] void after_sender_release() noexcept {
    if constexpr (kBounded) {
      if (sem_.is_closed()) {
        queue_.sync_with_park();
        rx_waker_.wake();
      }
    }
  }
  void release_permit() noexcept {
    if constexpr (kBounded) {
      sem_.release(1);
      after_sender_release();
    }
  }

  // ---- closed() waiters ----
  sync::Mutex& closed_mu() noexcept { return closed_mu_; }
  IntrusiveList<MpscClosedWaiter>& closed_waiters() noexcept { return closed_waiters_; }

  // ---- receiver side (rx-owned) ----
  enum class Peek : std::uint8_t { kReady, kPending, kClosed };

  // Readies the head value: kReady with `*out` pointing at it (move it out,
  // then consume_head()), kPending (waker registered), or kClosed.
  Peek poll_peek(Context& cx, T*& out) {
    if (T* v = queue_.peek()) {
      if (!cx.poll_proceed()) return Peek::kPending;
      out = v;
      return Peek::kReady;
    }
    return poll_peek_slow(cx, out);
  }

  // Bounded: the freed slot's permit goes back in batches (see "Capacity
  // given back in batches" in the header comment): at once if a sender
  // waits, else every `release_batch_` values, and always before the
  // receiver reports empty or, once closed, looks at whether it is done.
  [[gnu::always_inline]] inline void consume_head() noexcept {
    queue_.pop();
    if constexpr (kBounded) {
      if (!deferring_local_) [[unlikely]] {
        release_one();
        return;
      }
      consumed_local_ += 1;
      consumed_.store(consumed_local_, sync::kRelease);
      // Dekker with a sender about to wait (`before_sender_waits`): our
      // store of `consumed_`, then our load of the waiters bit.
      asymmetric_fence::light_fence();
      if (sem_.has_waiters()) [[unlikely]] {
        stop_deferring();
      } else if (consumed_local_ - flushed_seen_ >= release_batch_) {
        flush_permits();
      }
    }
  }
  // A sender waits: the channel is full, where holding permits back saves
  // nothing and costs every waiting sender a heavy fence (a membarrier: an
  // IPI to each CPU, serialised in the kernel; in a VM, microseconds). Give
  // everything back and, for the rest of the channel's life, return each
  // value's permit at once: then senders that wait skip the fence (they
  // read `deferring_` false, after our flush).
  [[gnu::noinline]] void stop_deferring() noexcept {
    if constexpr (kBounded) {
      flush_permits();
      deferring_local_ = false;
      deferring_.store(false, sync::kRelease);
    }
  }
  [[gnu::noinline]] void release_one() noexcept {
    if constexpr (kBounded) sem_.release(1);
  }
  [[gnu::noinline]] void flush_permits() noexcept {
    if constexpr (kBounded) {
      if (consumed_local_ == flushed_seen_) return;
      (void)release_up_to(consumed_local_);
      flushed_seen_ = consumed_local_;
    }
  }
  // Moves `flushed_` up to `target` (<= consumed_) and gives the permits in
  // between to the semaphore; returns how many (0 if someone else had).
  std::size_t release_up_to(std::uint64_t target) noexcept {
    std::uint64_t f = flushed_.load(sync::kAcquire);
    while (f < target) {
      if (flushed_.compare_exchange_weak(f, target, sync::kAcqRel, sync::kAcquire)) {
        sem_.release(static_cast<std::size_t>(target - f));
        return static_cast<std::size_t>(target - f);
      }
    }
    return 0;
  }

  // ---- held-back permits, sender side (any thread) ----

  // Gives the permits of values the receiver took, but has not given back
  // yet, to the semaphore (its waiters first); returns how many.
  [[gnu::noinline]] std::size_t steal_deferred() noexcept {
    if constexpr (kBounded) {
      if (!deferring_.load(sync::kAcquire)) return 0;  // false: nothing held back, for good
      const std::size_t n = release_up_to(consumed_.load(sync::kAcquire));
      // After a close the receiver may be waiting for exactly these (it saw
      // nothing left to flush: we had moved `flushed_` already).
      if (n != 0) after_sender_release();
      return n;
    }
    return 0;
  }
  // How many permits the receiver holds back now (a snapshot).
  std::size_t deferred() const noexcept {
    if constexpr (kBounded) {
      if (!deferring_.load(sync::kAcquire)) return 0;
      const std::uint64_t f = flushed_.load(sync::kAcquire);
      const std::uint64_t c = consumed_.load(sync::kAcquire);
      return c > f ? static_cast<std::size_t>(c - f) : 0;
    } else {
      return 0;
    }
  }
  // A sender has just queued in the semaphore (its waiters bit is set):
  // either it sees every permit held back so far, or the receiver sees the
  // bit at its next value and gives them back at once (asymmetric_fence.h).
  // Returns how many permits it took back.
  // Once the receiver stopped deferring (it saw a waiting sender), nothing
  // is held back any more (it flushed before saying so; acquire): no fence.
  std::size_t before_sender_waits() noexcept {
    if constexpr (kBounded) {
      if (!deferring_.load(sync::kAcquire)) return 0;
      asymmetric_fence::heavy_fence();
      return steal_deferred();
    }
    return 0;
  }
  // Free slots as a sender sees them: the semaphore's plus those held back
  // (two snapshots: never reported above the capacity).
  std::size_t free_slots() const noexcept {
    if constexpr (kBounded) {
      const std::size_t n = sem_.available() + deferred();
      return n < capacity_ ? n : capacity_;
    } else {
      return 0;
    }
  }

  // The head value if ready (no budget, no registration).
  T* try_peek() noexcept { return queue_.peek(); }

  T take_head(T* v) noexcept {
    T out(std::move(*v));
    consume_head();
    return out;
  }

  // try_recv: the head value, or empty/closed.
  Result<T, TryRecvError> try_recv() noexcept {
    if (T* v = queue_.peek()) return take_head(v);
    flush_permits();
    if (rx_done()) return Err{TryRecvError::closed()};
    return Err{TryRecvError::empty()};
  }

  // A pending recv was dropped: drop the waker and stop being woken.
  void cancel_recv() noexcept {
    queue_.unpark();
    Waker w = rx_waker_.take();
  }

  void rx_close() {
    flush_permits();
    if (rx_closed_local_) return;
    rx_closed_local_ = true;
    if constexpr (kBounded) {
      sem_.close();
    } else {
      close_index_ = queue_.close();
    }
    rx_closed_.store(true, sync::kRelease);
    wake_closed_waiters();
  }

  // The receiver is dropped: close, destroy what is queued, drop the waker.
  void rx_drop() noexcept {
    rx_close();
    while (T* v = queue_.peek()) {
      (void)v;
      consume_head();
    }
    flush_permits();
    Waker w = rx_waker_.take();
  }

  bool rx_is_closed() noexcept { return rx_closed_local_ || tx_count_.load(sync::kAcquire) == 0; }

  std::size_t len() const noexcept {
    std::uint64_t tail = queue_.tail_index();
    if constexpr (!kBounded) {
      if (rx_closed_local_ && close_index_ < tail) tail = close_index_;
    }
    const std::uint64_t head = queue_.head_index();
    return tail > head ? static_cast<std::size_t>(tail - head) : 0;
  }

 private:
  static constexpr int kBusySpins = 32;

  Peek poll_peek_slow(Context& cx, T*& out) {
    // Parking keeps held-back permits: `try_send` / `try_reserve` take them
    // when the semaphore is empty (steal_deferred), a sender that waited
    // already was given them at our last value (has_waiters), one that
    // starts waiting takes them after its fence (before_sender_waits). Once
    // closed, rx_done() counts every permit back: flush first.
    if (rx_closed_local_) flush_permits();
    // Register, then park (see the park protocol in internal/mpsc_queue.h).
    rx_waker_.register_waker(cx.waker());
    const std::uint64_t park_index = queue_.park();
    if (T* v = queue_.peek()) {  // arrived before we parked
      if (!cx.poll_proceed()) return Peek::kPending;
      out = v;
      return Peek::kReady;
    }
    if (rx_done()) return Peek::kClosed;
    if (queue_.head_index() < park_index) {
      // The head slot was claimed before we parked and is still being
      // written: its producer did not see the parked bit and will not wake
      // us. Wait a little for it, then yield (re-poll soon).
      for (int i = 0; i < kBusySpins; ++i) {
        sync::spin_hint();
        if (T* v = queue_.peek()) {
          if (!cx.poll_proceed()) return Peek::kPending;
          out = v;
          return Peek::kReady;
        }
      }
      cx.waker().wake_by_ref();
    }
    return Peek::kPending;
  }

  // Nothing at the head: will anything ever come?
  bool rx_done() noexcept {
    if (tx_count_.load(sync::kAcquire) == 0) return queue_.peek() == nullptr;
    if (!rx_closed_local_) return false;
    if constexpr (kBounded) {
      // Every permit back (none held by a sender, none by a queued value).
      return sem_.available() == capacity_ && queue_.peek() == nullptr;
    } else {
      return queue_.head_index() >= close_index_;
    }
  }

  void wake_closed_waiters() {
    constexpr std::size_t kBatch = 16;
    for (;;) {
      Waker batch[kBatch];
      std::size_t n = 0;
      {
        sync::Lock lock(closed_mu_);
        while (n < kBatch) {
          MpscClosedWaiter* w = closed_waiters_.pop_front();
          if (w == nullptr) break;
          batch[n++] = std::move(w->waker);
        }
      }
      for (std::size_t i = 0; i < n; ++i) std::move(batch[i]).wake();
      if (n < kBatch) return;
    }
  }

  // Hot words on their own cache lines: the queue's producer and consumer
  // sides (aligned inside MpscQueue), the semaphore word (both sides, bounded),
  // the receiver's waker (parking only).
  Queue queue_;
  alignas(64) StickyWaker rx_waker_;  // stays registered across wakes
  alignas(64) [[no_unique_address]] Sem sem_;
  alignas(64) const std::size_t capacity_;
  // Permits held back (bounded, see "Capacity given back in batches"):
  // `consumed_` counts the values the receiver took (written by it alone,
  // release), `flushed_` those whose permits went back to the semaphore
  // (CAS by the receiver and by senders that find no permit: whoever moves
  // it from f to c releases c - f permits). `defer_`: batching is possible (a
  // batch above 1 and the asymmetric fence available; else every value's
  // permit goes back at once). Receiver-owned: the batch size
  // (mpsc_release_batch) and its own copies of the counts.
  alignas(64) sync::Atomic<std::uint64_t> consumed_{0};
  sync::Atomic<std::uint64_t> flushed_{0};
  std::uint64_t consumed_local_ = 0;
  std::uint64_t flushed_seen_ = 0;  // <= flushed_ (senders may move it on)
  const std::size_t release_batch_ = mpsc_release_batch(capacity_);
  const bool defer_ = release_batch_ > 1 && asymmetric_fence::available();
  // Still holding permits back: true from the start when `defer_`, false
  // for good once the receiver saw a waiting sender (stop_deferring). The
  // receiver's copy, and the one senders read (release/acquire).
  bool deferring_local_ = defer_;
  sync::Atomic<bool> deferring_{defer_};
  sync::Atomic<std::size_t> refs_{2};      // one sender + the receiver
  sync::Atomic<std::size_t> tx_count_{1};
  sync::Atomic<std::size_t> weak_count_{0};  // reporting only
  sync::Atomic<bool> rx_closed_{false};
  sync::Mutex closed_mu_;
  IntrusiveList<MpscClosedWaiter> closed_waiters_;
  // rx-owned
  bool rx_closed_local_ = false;
  std::uint64_t close_index_ = 0;  // unbounded: the tail index at close
};

// MpscPermitWait<T>: takes one permit of a bounded channel for a send or
// reserve future: the semaphore's `LockAcquire` (lock-free try first, a
// queued waiter node only when that fails). Ready(true): the permit is the
// caller's; Ready(false): closed. Dropped while waiting: the acquire gives
// back a permit it was granted, and then the receiver is told (after a close
// it may wait for that permit). Movable until it had to wait.
// `kN` = 0: the count is given at run time (reserve_many).
template <class T, std::size_t kN = 1>
class MpscPermitWait {
  using Chan = MpscChan<T, true>;
  // Runs once the acquire first queued: takes the permits the receiver
  // holds back (MpscChan::before_sender_waits); true if it found any.
  struct OnQueued {
    Chan* c;
    bool operator()() const noexcept { return c->before_sender_waits() != 0; }
  };

 public:
  explicit MpscPermitWait(Chan* c) noexcept
    requires(kN != 0)
      : acquire_(c->sem(), OnQueued{c}) {}
  MpscPermitWait(Chan* c, std::size_t n) noexcept
    requires(kN == 0)
      : acquire_(c->sem(), n, OnQueued{c}) {}
  MpscPermitWait(MpscPermitWait&& o) noexcept = default;  // LockAcquire asserts "not waiting"
  MpscPermitWait& operator=(MpscPermitWait&&) = delete;
  // Inline: after a grant this is one test (GCC called it out of line).
  [[gnu::always_inline]] ~MpscPermitWait() {
    if (acquire_.waiting()) {
      acquire_.cancel();
      chan()->after_sender_release();
    }
  }

  Poll<bool> poll(Context& cx) {
    Poll<bool> p = acquire_.poll(cx);
    // Closed after a partial grant (reserve_many waits holding the slots
    // that were free): the acquire has just given them back, and after a
    // close the receiver may be waiting for exactly those: tell it.
    if constexpr (kN != 1) {
      if (p.is_ready() && !p.value()) chan()->after_sender_release();
    }
    return p;
  }

  Chan* chan() const noexcept { return acquire_.on_queued().c; }

 private:
  BasicLockAcquire<kN, OnQueued> acquire_;
};

// ---- futures shared by both flavours ----

// MpscRecvFuture: `rx.recv()`. Output std::optional<T>; nullopt = closed and
// drained. Cancel-safe.
template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] MpscRecvFuture {
 public:
  using Output = std::optional<T>;
  static constexpr bool kCancelSafe = true;  // a value is taken only when returned
  static constexpr bool kUnpin = true;       // holds a pointer only

  explicit MpscRecvFuture(MpscChan<T, kBounded>* c) noexcept : c_(c) {}
  MpscRecvFuture(MpscRecvFuture&& o) noexcept : c_(o.c_), waiting_(std::exchange(o.waiting_, false)) {}
  MpscRecvFuture& operator=(MpscRecvFuture&&) = delete;
  ~MpscRecvFuture() {
    if (waiting_) c_->cancel_recv();
  }

  Poll<Output> poll(Context& cx) {
    T* v = nullptr;
    switch (c_->poll_peek(cx, v)) {
      case MpscChan<T, kBounded>::Peek::kReady:
        waiting_ = false;
        return Output(c_->take_head(v));
      case MpscChan<T, kBounded>::Peek::kClosed:
        waiting_ = false;
        return Output();
      case MpscChan<T, kBounded>::Peek::kPending:
        break;
    }
    waiting_ = true;
    return Pending{};
  }

 private:
  MpscChan<T, kBounded>* c_;
  bool waiting_ = false;
};

// MpscRecvManyFuture: `rx.recv_many(vec, limit)`. Appends 1..limit values
// that are ready (waiting for the first); Output = how many; 0 = closed and
// drained (or limit == 0). Cancel-safe.
template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] MpscRecvManyFuture {
 public:
  using Output = std::size_t;
  static constexpr bool kCancelSafe = true;
  static constexpr bool kUnpin = true;

  MpscRecvManyFuture(MpscChan<T, kBounded>* c, std::vector<T>* out, std::size_t limit) noexcept
      : c_(c), out_(out), limit_(limit) {}
  MpscRecvManyFuture(MpscRecvManyFuture&& o) noexcept
      : c_(o.c_), out_(o.out_), limit_(o.limit_), waiting_(std::exchange(o.waiting_, false)) {}
  MpscRecvManyFuture& operator=(MpscRecvManyFuture&&) = delete;
  ~MpscRecvManyFuture() {
    if (waiting_) c_->cancel_recv();
  }

  Poll<Output> poll(Context& cx) {
    if (limit_ == 0) return std::size_t{0};
    T* v = nullptr;
    switch (c_->poll_peek(cx, v)) {
      case MpscChan<T, kBounded>::Peek::kReady:
        break;
      case MpscChan<T, kBounded>::Peek::kClosed:
        waiting_ = false;
        return std::size_t{0};
      case MpscChan<T, kBounded>::Peek::kPending:
        waiting_ = true;
        return Pending{};
    }
    waiting_ = false;
    std::size_t n = 0;
    // push_back first, consume after: if it throws, the value stays queued.
    do {
      out_->push_back(std::move(*v));
      c_->consume_head();
      n += 1;
    } while (n < limit_ && (v = c_->try_peek()) != nullptr);
    return n;
  }

 private:
  MpscChan<T, kBounded>* c_;
  std::vector<T>* out_;
  std::size_t limit_;
  bool waiting_ = false;
};

// MpscClosedFuture: `tx.closed()`; Ready (Unit) once the receiver closed or
// was dropped. Cancel-safe.
template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] MpscClosedFuture {
 public:
  using Output = Unit;
  static constexpr bool kCancelSafe = true;

  explicit MpscClosedFuture(MpscChan<T, kBounded>* c) noexcept : c_(c) {}
  // Movable until first polled (the node is not linked before that).
  MpscClosedFuture(MpscClosedFuture&& o) noexcept : c_(o.c_) {
    WEFT_HARDENING_ASSERT(!o.polled_, "mpsc closed() future moved after it was polled");
  }
  MpscClosedFuture& operator=(MpscClosedFuture&&) = delete;
  ~MpscClosedFuture() {
    if (polled_) {
      sync::Lock lock(c_->closed_mu());
      if (node_.linked()) c_->closed_waiters().remove(&node_);
    }
  }

  Poll<Output> poll(Context& cx) {
    if (c_->rx_closed()) return finish();
    sync::Lock lock(c_->closed_mu());
    if (c_->rx_closed()) {  // closed between the load and the lock
      if (node_.linked()) c_->closed_waiters().remove(&node_);
      return Unit{};
    }
    register_waker(node_.waker, cx.waker());
    if (!node_.linked()) c_->closed_waiters().push_back(&node_);
    polled_ = true;
    return Pending{};
  }

 private:
  Poll<Output> finish() {
    if (polled_) {
      sync::Lock lock(c_->closed_mu());
      if (node_.linked()) c_->closed_waiters().remove(&node_);
      node_.waker = Waker();
    }
    return Unit{};
  }

  MpscChan<T, kBounded>* c_;
  MpscClosedWaiter node_;
  bool polled_ = false;
};

// Common sender: reference counting, closed(), is_closed(), same_channel().
template <class T, bool kBounded>
class MpscTxBase {
 public:
  MpscTxBase(const MpscTxBase& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->add_sender();
  }
  MpscTxBase(MpscTxBase&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  MpscTxBase& operator=(const MpscTxBase& o) noexcept {
    if (this != &o) {
      reset();
      c_ = o.c_;
      if (c_ != nullptr) c_->add_sender();
    }
    return *this;
  }
  MpscTxBase& operator=(MpscTxBase&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~MpscTxBase() { reset(); }

  // True once the receiver closed or was dropped (sends fail from then on).
  bool is_closed() const noexcept { return c_->rx_closed(); }
  // Future: Ready once the receiver closed or was dropped. Cancel-safe.
  MpscClosedFuture<T, kBounded> closed() const noexcept { return MpscClosedFuture<T, kBounded>(c_); }
  // True if both send to the same channel.
  bool same_channel(const MpscTxBase& o) const noexcept { return c_ == o.c_; }
  // False for a moved-from sender.
  bool valid() const noexcept { return c_ != nullptr; }
  // Senders (this one included) and weak senders of this channel now.
  std::size_t strong_count() const noexcept { return c_->sender_count(); }
  std::size_t weak_count() const noexcept { return c_->weak_sender_count(); }

 protected:
  explicit MpscTxBase(MpscChan<T, kBounded>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) std::exchange(c_, nullptr)->drop_sender();
  }
  MpscChan<T, kBounded>* c_;
};

// Common weak sender: holds the channel's memory, not its senders' count.
template <class T, bool kBounded>
class MpscWeakTxBase {
 public:
  MpscWeakTxBase(const MpscWeakTxBase& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->add_weak();
  }
  MpscWeakTxBase(MpscWeakTxBase&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  MpscWeakTxBase& operator=(const MpscWeakTxBase& o) noexcept {
    if (this != &o) {
      reset();
      c_ = o.c_;
      if (c_ != nullptr) c_->add_weak();
    }
    return *this;
  }
  MpscWeakTxBase& operator=(MpscWeakTxBase&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~MpscWeakTxBase() { reset(); }

  // Senders and weak senders of this channel now.
  std::size_t strong_count() const noexcept { return c_->sender_count(); }
  std::size_t weak_count() const noexcept { return c_->weak_sender_count(); }
  // False for a moved-from weak sender.
  bool valid() const noexcept { return c_ != nullptr; }

 protected:
  // Takes a new weak reference to `c`.
  explicit MpscWeakTxBase(MpscChan<T, kBounded>* c) noexcept : c_(c) {
    WEFT_HARDENING_ASSERT(c_ != nullptr, "mpsc: downgrade of a moved-from sender");
    c_->add_weak();
  }
  void reset() noexcept {
    if (c_ != nullptr) std::exchange(c_, nullptr)->drop_weak();
  }
  MpscChan<T, kBounded>* c_;
};

// Common receiver.
template <class T, bool kBounded>
class MpscRxBase {
 public:
  using Item = T;                     // a Stream of T
  static constexpr bool kUnpin = true;  // holds a pointer; may move between polls

  MpscRxBase(MpscRxBase&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  MpscRxBase& operator=(MpscRxBase&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  MpscRxBase(const MpscRxBase&) = delete;
  MpscRxBase& operator=(const MpscRxBase&) = delete;
  ~MpscRxBase() { reset(); }

  // Future of the next value; nullopt once closed and drained. Cancel-safe.
  MpscRecvFuture<T, kBounded> recv() noexcept { return MpscRecvFuture<T, kBounded>(c_); }
  // Future: appends up to `limit` ready values to `*out` (waits for the
  // first); the count, 0 when closed and drained. Cancel-safe.
  MpscRecvManyFuture<T, kBounded> recv_many(std::vector<T>& out, std::size_t limit) noexcept {
    return MpscRecvManyFuture<T, kBounded>(c_, &out, limit);
  }
  // The next value if one is ready; else empty, or closed (closed and drained).
  Result<T, TryRecvError> try_recv() noexcept { return c_->try_recv(); }
  // Synchronous code only: parks the calling OS thread until `recv()` is
  // Ready (`block_on`); nullopt once closed and drained. Never call it from a
  // task running on an executor: it blocks that worker thread (and deadlocks
  // if the sender needs that thread to run).
  std::optional<T> blocking_recv() { return weft::block_on(recv()); }
  // Stream: the same as polling `recv()` (the waker stays registered until
  // the next poll or the receiver's destruction).
  Poll<std::optional<T>> poll_next(Context& cx) {
    T* v = nullptr;
    switch (c_->poll_peek(cx, v)) {
      case MpscChan<T, kBounded>::Peek::kReady:
        return std::optional<T>(c_->take_head(v));
      case MpscChan<T, kBounded>::Peek::kClosed:
        return std::optional<T>();
      case MpscChan<T, kBounded>::Peek::kPending:
        break;
    }
    return Pending{};
  }

  // Closes the channel: later sends fail (handing the value back); what was
  // sent (and what reserved permits send) can still be received.
  void close() { c_->rx_close(); }
  // True once closed by `close()` or by the last sender's drop.
  bool is_closed() const noexcept { return c_->rx_is_closed(); }
  // Values queued (including sends in progress); a snapshot.
  std::size_t len() const noexcept { return c_->len(); }
  bool is_empty() const noexcept { return len() == 0; }
  bool valid() const noexcept { return c_ != nullptr; }
  // Senders and weak senders of this channel now (tokio's
  // `sender_strong_count` / `sender_weak_count`).
  std::size_t sender_strong_count() const noexcept { return c_->sender_count(); }
  std::size_t sender_weak_count() const noexcept { return c_->weak_sender_count(); }

 protected:
  explicit MpscRxBase(MpscChan<T, kBounded>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) {
      MpscChan<T, kBounded>* c = std::exchange(c_, nullptr);
      c->rx_drop();
      c->release_ref();
    }
  }
  MpscChan<T, kBounded>* c_;
};

}  // namespace channels_internal

// ---------------------------------------------------------------------------
// Bounded
// ---------------------------------------------------------------------------

// MpscPermit<T>
//
// One reserved slot of a bounded channel (from `tx.reserve()`): `send(v)`
// uses it (never fails, never waits); dropping it unused gives the slot
// back. Borrows the sender: must not outlive it. Move-only.
template <class T>
class [[nodiscard]] MpscPermit {
 public:
  MpscPermit(MpscPermit&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  MpscPermit& operator=(MpscPermit&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~MpscPermit() { reset(); }

  // Sends `v` with this permit, which is used up. After a receiver close
  // the value is still delivered; if the receiver is gone, it is destroyed
  // with the channel.
  void send(T v) noexcept {
    WEFT_HARDENING_ASSERT(c_ != nullptr, "MpscPermit::send on a used permit");
    std::exchange(c_, nullptr)->push(std::move(v));
  }

 private:
  template <class>
  friend class MpscReserveFuture;
  friend class MpscSender<T>;
  friend class MpscPermits<T>;
  explicit MpscPermit(channels_internal::MpscChan<T, true>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) std::exchange(c_, nullptr)->release_permit();
  }
  channels_internal::MpscChan<T, true>* c_;
};

// MpscPermits<T>
//
// `n` reserved slots at once (`tx.reserve_many(n)`, `try_reserve_many(n)`;
// tokio's `PermitIterator`): each `send(v)` uses one and never fails or
// waits; `next()` splits one off as an MpscPermit; the unused rest are given
// back when it is dropped. Like MpscPermit it borrows the sender's channel:
// it must not outlive every sender.
template <class T>
class [[nodiscard]] MpscPermits {
 public:
  MpscPermits(MpscPermits&& o) noexcept : c_(std::exchange(o.c_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  MpscPermits& operator=(MpscPermits&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~MpscPermits() { reset(); }

  // Slots still reserved.
  std::size_t remaining() const noexcept { return n_; }

  // Sends `v` with one of the slots (hardening assert if none is left).
  void send(T v) noexcept {
    WEFT_HARDENING_ASSERT(n_ != 0, "MpscPermits::send with no slot left");
    n_ -= 1;
    c_->push(std::move(v));
  }
  // One slot as its own permit; nullopt when none is left.
  std::optional<MpscPermit<T>> next() noexcept {
    if (n_ == 0) return std::nullopt;
    n_ -= 1;
    return MpscPermit<T>(c_);
  }

 private:
  template <class>
  friend class MpscReserveManyFuture;
  friend class MpscSender<T>;
  MpscPermits(channels_internal::MpscChan<T, true>* c, std::size_t n) noexcept : c_(c), n_(n) {}
  void reset() noexcept {
    if (n_ != 0) {
      c_->sem().release(std::exchange(n_, 0));
      c_->after_sender_release();
    }
    c_ = nullptr;
  }
  channels_internal::MpscChan<T, true>* c_;
  std::size_t n_;
};

// MpscReserveManyFuture<T>: `tx.reserve_many(n)`. Output
// Result<MpscPermits<T>, Closed>; waits until all `n` slots are free (FIFO
// with the other senders: slots freed meanwhile are held for it, and given
// back if it is dropped). Cancel-safe (declared). Immovable once it waited.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] MpscReserveManyFuture {
  using Chan = channels_internal::MpscChan<T, true>;

 public:
  using Output = Result<MpscPermits<T>, Closed>;
  static constexpr bool kCancelSafe = true;

  MpscReserveManyFuture(Chan* c, std::size_t n) noexcept : wait_(c, n), n_(n) {}
  MpscReserveManyFuture(MpscReserveManyFuture&&) noexcept = default;
  MpscReserveManyFuture& operator=(MpscReserveManyFuture&&) = delete;

  Poll<Output> poll(Context& cx) {
    if (!started_) {  // before it may have queued (a queued one must see its own close)
      started_ = true;
      if (n_ > wait_.chan()->capacity() || wait_.chan()->sem().is_closed()) {
        return channels_internal::closed_result<Output>();  // never grantable, or closed
      }
      if (n_ == 0) return Output(MpscPermits<T>(wait_.chan(), 0));
    }
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) return channels_internal::closed_result<Output>();
    return Output(MpscPermits<T>(wait_.chan(), n_));
  }

 private:
  channels_internal::MpscPermitWait<T, 0> wait_;
  std::size_t n_;
  bool started_ = false;
};

// MpscSendFuture<T>: `tx.send(v)`. Output Result<void, SendError<T>> (the
// value comes back if the receiver closed). NOT cancel-safe: dropping it
// destroys the value. Immovable once it had to wait.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] MpscSendFuture {
  using Chan = channels_internal::MpscChan<T, true>;

 public:
  using Output = Result<void, SendError<T>>;

  MpscSendFuture(Chan* c, T v) noexcept : wait_(c), value_(std::move(v)) {}
  MpscSendFuture(MpscSendFuture&&) noexcept = default;
  MpscSendFuture& operator=(MpscSendFuture&&) = delete;
  // Inline: after a send its members' destructors are two tests (an empty
  // value, a waiter not queued), which GCC otherwise calls out of line behind
  // a full prologue.
  [[gnu::always_inline]] ~MpscSendFuture() {}

  // Inline into its caller (a Task's await, a combinator's poll): one call
  // and one prologue less per send.
  [[gnu::always_inline]] Poll<Output> poll(Context& cx) {
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) return Output(Err{SendError<T>{std::move(value_)}});
    wait_.chan()->push(std::move(value_));
    return Output();
  }

 private:
  channels_internal::MpscPermitWait<T> wait_;
  T value_;  // moved out when Ready (a plain T, not an optional: see below)
  // (An optional<T> written as value + flag and then moved into a coroutine
  // awaiter as one wide copy stalls on store-to-load forwarding.)
};

// MpscReserveFuture<T>: `tx.reserve()`. Output Result<MpscPermit<T>,
// Closed>. Cancel-safe (declared). Immovable once it had to wait.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] MpscReserveFuture {
  using Chan = channels_internal::MpscChan<T, true>;

 public:
  using Output = Result<MpscPermit<T>, Closed>;
  static constexpr bool kCancelSafe = true;  // a queued waiter gives its place (and permit) back

  explicit MpscReserveFuture(Chan* c) noexcept : wait_(c) {}
  MpscReserveFuture(MpscReserveFuture&&) noexcept = default;
  MpscReserveFuture& operator=(MpscReserveFuture&&) = delete;

  Poll<Output> poll(Context& cx) {
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) return channels_internal::closed_result<Output>();
    return Output(MpscPermit<T>(wait_.chan()));
  }

 private:
  channels_internal::MpscPermitWait<T> wait_;
};

// MpscReserveOwnedFuture<T>: `tx.reserve_owned()`. Output
// Result<MpscOwnedPermit<T>, Closed>. Cancel-safe (declared).
template <class T>
class [[nodiscard("futures do nothing unless polled")]] MpscReserveOwnedFuture {
 public:
  using Output = Result<MpscOwnedPermit<T>, Closed>;
  static constexpr bool kCancelSafe = true;

  explicit MpscReserveOwnedFuture(MpscSender<T> tx) noexcept : tx_(std::move(tx)), wait_(tx_.chan()) {}
  MpscReserveOwnedFuture(MpscReserveOwnedFuture&& o) noexcept : tx_(std::move(o.tx_)), wait_(std::move(o.wait_)) {}
  MpscReserveOwnedFuture& operator=(MpscReserveOwnedFuture&&) = delete;

  Poll<Output> poll(Context& cx) {
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) return channels_internal::closed_result<Output>();
    return Output(MpscOwnedPermit<T>(std::move(tx_)));
  }

 private:
  MpscSender<T> tx_;  // destroyed after wait_ (which may still tell the channel)
  channels_internal::MpscPermitWait<T> wait_;
};

// MpscSender<T>
//
// The sending half of a bounded channel. Copy = another producer; the
// channel closes when the last copy is dropped.
template <class T>
class MpscSender : public channels_internal::MpscTxBase<T, true> {
  using Base = channels_internal::MpscTxBase<T, true>;
  using Chan = channels_internal::MpscChan<T, true>;

 public:
  // Future: waits for a free slot, then sends; Err(SendError{v}) if the
  // receiver closed. NOT cancel-safe (dropping it destroys `v`).
  MpscSendFuture<T> send(T v) noexcept {
    return MpscSendFuture<T>(this->c_, std::move(v));
  }

  // Synchronous code only: parks the calling OS thread until a slot is free
  // and sends (`block_on(send(v))`); Err(SendError{v}) hands `v` back if the
  // receiver closed or is dropped (also while it waits). Never call it from a
  // task running on an executor: it blocks that worker thread (and deadlocks
  // if the receiver needs that thread to run).
  Result<void, SendError<T>> blocking_send(T v) { return weft::block_on(send(std::move(v))); }

  // Sends now if a slot is free: kFull / kClosed hand `v` back.
  Result<void, TrySendError<T>> try_send(T v) noexcept {
    switch (this->c_->try_acquire(1)) {
      case channels_internal::BatchSemaphore::TryResult::kOk:
        this->c_->push(std::move(v));
        return Result<void, TrySendError<T>>();
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{TrySendError<T>::closed(std::move(v))};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{TrySendError<T>::full(std::move(v))};
  }

  // Future of a permit for one slot (Result<MpscPermit<T>, Closed>).
  // Cancel-safe: the way to send inside a select.
  MpscReserveFuture<T> reserve() noexcept { return MpscReserveFuture<T>(this->c_); }
  // A permit now, or TrySendError<Unit> kFull / kClosed (tokio:
  // `TrySendError<()>`).
  Result<MpscPermit<T>, TrySendError<Unit>> try_reserve() noexcept {
    switch (this->c_->try_acquire(1)) {
      case channels_internal::BatchSemaphore::TryResult::kOk:
        return make_permit();
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{TrySendError<Unit>::closed(Unit{})};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{TrySendError<Unit>::full(Unit{})};
  }

  // Future of `n` slots at once (Result<MpscPermits<T>, Closed>): waits
  // until all are free. As tokio: Err(Closed) at once when the channel is
  // closed or `n` exceeds max_capacity() (it could never be granted);
  // `n` = 0 on an open channel: Ready with no slot. Cancel-safe.
  MpscReserveManyFuture<T> reserve_many(std::size_t n) noexcept { return MpscReserveManyFuture<T>(this->c_, n); }
  // `n` slots now, or TrySendError<Unit> kFull (fewer than `n` free, or `n`
  // above max_capacity(), as tokio) / kClosed. Takes all or none.
  Result<MpscPermits<T>, TrySendError<Unit>> try_reserve_many(std::size_t n) noexcept {
    if (this->c_->sem().is_closed()) return Err{TrySendError<Unit>::closed(Unit{})};
    if (n > this->c_->capacity()) return Err{TrySendError<Unit>::full(Unit{})};
    if (n == 0) return MpscPermits<T>(this->c_, 0);
    switch (this->c_->try_acquire(n)) {
      case channels_internal::BatchSemaphore::TryResult::kOk:
        return MpscPermits<T>(this->c_, n);
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{TrySendError<Unit>::closed(Unit{})};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{TrySendError<Unit>::full(Unit{})};
  }

  // Future of an owned permit, which holds a copy of this sender
  // (Result<MpscOwnedPermit<T>, Closed>). Cancel-safe.
  MpscReserveOwnedFuture<T> reserve_owned() const noexcept { return MpscReserveOwnedFuture<T>(*this); }

  // Free slots now (a snapshot), and the channel's capacity.
  std::size_t capacity() const noexcept { return this->c_->free_slots(); }
  std::size_t max_capacity() const noexcept { return this->c_->capacity(); }

  // A weak sender: does not keep the channel open (see WeakMpscSender).
  WeakMpscSender<T> downgrade() const noexcept { return WeakMpscSender<T>(this->c_); }

 private:
  template <class U>
  friend std::pair<MpscSender<U>, MpscReceiver<U>> mpsc(std::size_t capacity);
  friend class WeakMpscSender<T>;
  friend class MpscOwnedPermit<T>;
  friend class MpscReserveOwnedFuture<T>;
  explicit MpscSender(Chan* c) noexcept : Base(c) {}
  MpscPermit<T> make_permit() noexcept { return MpscPermit<T>(this->c_); }
  Chan* chan() const noexcept { return this->c_; }
};

// WeakMpscSender<T> (from `tx.downgrade()`)
//
// A handle that does not count as a sender: the channel closes when the last
// MpscSender goes, whatever weak senders remain (tokio's `WeakSender`, for
// an actor that must not keep its own mailbox open). `upgrade()` gives a
// sender while at least one is alive, nullopt once the last one went (a
// closed channel never reopens). Copyable; keeps the channel's memory (one
// reference), not its buffer of values alive beyond the receiver's.
template <class T>
class WeakMpscSender : public channels_internal::MpscWeakTxBase<T, true> {
  using Base = channels_internal::MpscWeakTxBase<T, true>;

 public:
  std::optional<MpscSender<T>> upgrade() const noexcept {
    if (this->c_ == nullptr || !this->c_->try_add_sender()) return std::nullopt;
    return MpscSender<T>(this->c_);
  }

 private:
  friend class MpscSender<T>;
  explicit WeakMpscSender(channels_internal::MpscChan<T, true>* c) noexcept : Base(c) {}
};

// MpscOwnedPermit<T>
//
// A reserved slot that owns a sender copy (from `tx.reserve_owned()`), so it
// may outlive the sender it came from. `send(v)` uses it and returns the
// sender; `release()` gives the slot back and returns the sender.
template <class T>
class [[nodiscard]] MpscOwnedPermit {
 public:
  MpscOwnedPermit(MpscOwnedPermit&& o) noexcept : tx_(std::move(o.tx_)), held_(std::exchange(o.held_, false)) {}
  MpscOwnedPermit& operator=(MpscOwnedPermit&& o) noexcept {
    if (this != &o) {
      reset();
      tx_ = std::move(o.tx_);
      held_ = std::exchange(o.held_, false);
    }
    return *this;
  }
  ~MpscOwnedPermit() { reset(); }

  MpscSender<T> send(T v) noexcept {
    WEFT_HARDENING_ASSERT(held_, "MpscOwnedPermit::send on a used permit");
    held_ = false;
    tx_.chan()->push(std::move(v));
    return std::move(tx_);
  }
  MpscSender<T> release() noexcept {
    reset();
    return std::move(tx_);
  }

 private:
  friend class MpscReserveOwnedFuture<T>;
  explicit MpscOwnedPermit(MpscSender<T> tx) noexcept : tx_(std::move(tx)), held_(true) {}
  void reset() noexcept {
    if (held_) {
      held_ = false;
      tx_.chan()->release_permit();
    }
  }
  MpscSender<T> tx_;
  bool held_;
};

// MpscReceiver<T>: the receiving half of a bounded channel (move-only).
template <class T>
class MpscReceiver : public channels_internal::MpscRxBase<T, true> {
  using Base = channels_internal::MpscRxBase<T, true>;

 public:
  // The channel's capacity, and the free slots now.
  std::size_t max_capacity() const noexcept { return this->c_->capacity(); }
  std::size_t capacity() const noexcept { return this->c_->free_slots(); }

 private:
  template <class U>
  friend std::pair<MpscSender<U>, MpscReceiver<U>> mpsc(std::size_t capacity);
  explicit MpscReceiver(channels_internal::MpscChan<T, true>* c) noexcept : Base(c) {}
};

// mpsc<T>(capacity): a bounded channel; `capacity` >= 1 values in flight.
template <class T>
std::pair<MpscSender<T>, MpscReceiver<T>> mpsc(std::size_t capacity) {
  WEFT_HARDENING_ASSERT(capacity >= 1, "mpsc: capacity must be at least 1");
  auto* c = new channels_internal::MpscChan<T, true>(capacity);
  return {MpscSender<T>(c), MpscReceiver<T>(c)};
}

// ---------------------------------------------------------------------------
// Unbounded
// ---------------------------------------------------------------------------

// UnboundedMpscSender<T>: `send(v)` never waits.
template <class T>
class UnboundedMpscSender : public channels_internal::MpscTxBase<T, false> {
  using Base = channels_internal::MpscTxBase<T, false>;

 public:
  // Sends now; Err(SendError{v}) if the receiver closed.
  Result<void, SendError<T>> send(T v) noexcept {
    if (this->c_->push(std::move(v))) return Result<void, SendError<T>>();
    return Err{SendError<T>{std::move(v)}};
  }

  // A weak sender: does not keep the channel open (see WeakMpscSender).
  WeakUnboundedMpscSender<T> downgrade() const noexcept { return WeakUnboundedMpscSender<T>(this->c_); }

 private:
  template <class U>
  friend std::pair<UnboundedMpscSender<U>, UnboundedMpscReceiver<U>> unbounded_mpsc();
  friend class WeakUnboundedMpscSender<T>;
  explicit UnboundedMpscSender(channels_internal::MpscChan<T, false>* c) noexcept : Base(c) {}
};

// WeakUnboundedMpscSender<T>: the unbounded channel's WeakMpscSender.
template <class T>
class WeakUnboundedMpscSender : public channels_internal::MpscWeakTxBase<T, false> {
  using Base = channels_internal::MpscWeakTxBase<T, false>;

 public:
  std::optional<UnboundedMpscSender<T>> upgrade() const noexcept {
    if (this->c_ == nullptr || !this->c_->try_add_sender()) return std::nullopt;
    return UnboundedMpscSender<T>(this->c_);
  }

 private:
  friend class UnboundedMpscSender<T>;
  explicit WeakUnboundedMpscSender(channels_internal::MpscChan<T, false>* c) noexcept : Base(c) {}
};

// UnboundedMpscReceiver<T> (move-only).
template <class T>
class UnboundedMpscReceiver : public channels_internal::MpscRxBase<T, false> {
  using Base = channels_internal::MpscRxBase<T, false>;

 private:
  template <class U>
  friend std::pair<UnboundedMpscSender<U>, UnboundedMpscReceiver<U>> unbounded_mpsc();
  explicit UnboundedMpscReceiver(channels_internal::MpscChan<T, false>* c) noexcept : Base(c) {}
};

// unbounded_mpsc<T>(): an unbounded channel.
template <class T>
std::pair<UnboundedMpscSender<T>, UnboundedMpscReceiver<T>> unbounded_mpsc() {
  auto* c = new channels_internal::MpscChan<T, false>();
  return {UnboundedMpscSender<T>(c), UnboundedMpscReceiver<T>(c)};
}

}  // namespace weft

#endif  // WEFT_CHANNELS_MPSC_H_
