// -----------------------------------------------------------------------------
// File: channels/oneshot.h
// -----------------------------------------------------------------------------
//
// `oneshot<T>()`: a channel for exactly one value, from one sender to one
// receiver. The receiver is itself the future of that value.
// Rust: `tokio::sync::oneshot`.
//
//   auto [tx, rx] = weft::oneshot<int>();
//   tx.send(7);                       // Result<void, SendError<int>>
//   Result<int, RecvError> r = co_await rx;
//
//   OneshotSender<T>    send(v) (spends the handle), closed() future,
//                       is_closed(), poll_closed(cx); dropping it unsent
//                       closes the channel (the receiver gets
//                       `RecvError::closed()`).
//   OneshotReceiver<T>  a Future with Output = Result<T, RecvError>;
//                       recv(): a future borrowing the receiver (for select
//                       arms, like tokio's `&mut rx`); try_recv() ->
//                       Result<T, TryRecvError> (empty/closed); close():
//                       later sends fail, handing the value back (a value
//                       sent before close() can still be taken);
//                       blocking_recv() (synchronous code: parks the OS
//                       thread until the value or "closed" is there).
//   local_oneshot<T>()  the same API without atomics, for tasks of one
//                       thread (`LocalOneshotSender/Receiver<T>`, e.g. on a
//                       LocalExecutor). Not thread-safe.
//
// Costs: one allocation per channel (the state word, two Wakers, the value
// slot; 48 bytes for an int), from the thread-local pool of
// future/frame_allocator.h (a warm pool: no malloc, no lock; over-aligned T
// and ASan builds: operator new), freed by whichever handle lets go last
// (an intrusive count of 2 inside the state word, not a shared_ptr).
// Handles are one pointer. No locks: send is one compare-exchange (its
// handle's release folded in, also when it wakes a waiting receiver), a
// receive one load when the value is there (the receiver then holds the last
// reference and frees the state with no atomic step). A pending receive adds
// one atomic step to register. (A sender with a registered `closed()` waiter
// keeps its reference through the wake and releases it with one more step.)
// `blocking_recv()`: `block_on`'s thread-cached parker (no allocation after
// a thread's first `block_on`), a futex wait only if the value is not there.
//
// Contract:
//   - `send` spends the sender (it is empty afterwards: a second send or a
//     poll_closed is a hardening assert; is_closed() is then true).
//   - The two handles may live on different threads; each handle is used by
//     one thread at a time. At most one `closed()` future per sender, and it
//     must not outlive the sender nor be alive across `send` (Rust's borrow).
//   - Polling the receiver after it returned Ready is a contract violation
//     (debug assert; release builds answer `RecvError::closed()`).
//   - Thread-safe channel: the receiver's waker must not poll or drop the
//     receiver synchronously inside `wake_by_ref` (it would wait for the
//     sender that is calling it); executors' wakers only schedule.
//   - `blocking_recv()` (thread-safe channel only) parks the calling OS
//     thread (`block_on`, future/block_on.h) and spends the receiver like a
//     completed poll. Synchronous code only: never call it from a task on an
//     executor (it blocks that worker thread, and deadlocks if the sender
//     needs that thread to run).
//   - A value sent but never received is destroyed exactly once: by the
//     receiver's destructor or close-and-drop, or with the shared state.
//
// Cancellation: the value stays in the shared slot until a poll or
// `try_recv` returns it, so stopping to poll after Pending loses nothing. But
// destroying the receiver itself closes the channel and destroys a value
// already sent (as in tokio), so the owning receiver is NOT cancel-safe (no
// `kCancelSafe`: `select` drops a losing arm, which would drop the value). A
// `select` arm should be `rx.recv()`, which borrows the receiver and leaves
// it intact when dropped. Destroying a pending receiver or `closed()` future
// takes its waker back out of the channel (a dropped `recv()` leaves the
// waker registered until the receiver is polled again or dropped).
// `closed()` and `recv()` are cancel-safe.
//
// Memory ordering (state word, `sync::Atomic<std::uint32_t>`):
//   - Every read-modify-write is acq_rel (compare-exchange failure: acquire):
//     release publishes what the caller wrote before it (the value, a waker
//     clone, the destruction of a value), acquire makes the other side's
//     writes visible before the caller reads the value or a waker.
//   - The receiver's and `closed()`'s first look is an acquire load: seeing
//     kComplete|kValue means the value is visible.
//   - The last reference release is acq_rel, so the deleting thread sees
//     every write of the other handle.
//   Slot ownership (who may touch what, and when):
//   1. value: the sender writes it before setting kComplete|kValue; from then
//      on only the receiver touches it (takes it or destroys it and clears
//      kValue in its release). If the send finds kClosed, nothing was
//      published and the sender takes the value back.
//   2. rx_waker: written by the receiver only while kRxWaker is clear, or
//      once kClosed is set and kComplete is not (the sender then never reads
//      it). The sender reads it (wake_by_ref) only if its completing step saw
//      kRxWaker set and kClosed clear; what is left is dropped by ~State.
//   3. tx_waker: the mirror image (sender writes, receiver's closing step
//      reads it when it saw kTxWaker set and kComplete clear).
//   4. Freeing after completion (thread-safe channel): the sender's
//      completing step usually drops its reference too, and the sender may
//      still read rx_waker (to wake it) after that step. So `tx_done` says
//      when the sender is done with the state: stored 1 before the
//      completing CAS when there is nothing to wake (the CAS publishes it),
//      else 0 there and 1 (release) after the wake. A receiver that holds
//      the last reference of a completed channel frees it only after an
//      acquire load of `tx_done` reads 1: it waits only while the sender is
//      inside `wake_by_ref`. In `finish`, when the loaded word shows the
//      sender's reference gone, the receiver lets go with a plain store
//      (no RMW); elsewhere with the usual acq_rel fetch_sub. The
//      single-thread channel keeps the sender's reference across its wake.
//
// Example:
//
//   auto [tx, rx] = weft::oneshot<std::string>();
//   EXPECT_TRUE(rx.try_recv().error().is_empty());
//   EXPECT_TRUE(tx.send("hi").is_ok());
//   EXPECT_EQ(weft::testing::poll_once(rx).value().value(), "hi");
//
#ifndef WEFT_CHANNELS_ONESHOT_H_
#define WEFT_CHANNELS_ONESHOT_H_

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/frame_allocator.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

// Under AddressSanitizer the state comes from operator new (a recycled pool
// block would hide a use after free), as executor/internal/task.h does.
#if defined(__SANITIZE_ADDRESS__)
#define WEFT_ONESHOT_POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ONESHOT_POOL 0
#endif
#endif
#ifndef WEFT_ONESHOT_POOL
#define WEFT_ONESHOT_POOL 1
#endif

namespace weft {

namespace channels_internal {

// State word bits (see "Slot ownership" in the header comment).
inline constexpr std::uint32_t kOsRxWaker = 1u << 0;   // rx_waker is registered
inline constexpr std::uint32_t kOsTxWaker = 1u << 1;   // tx_waker is registered
inline constexpr std::uint32_t kOsComplete = 1u << 2;  // the sender is done (sent or dropped)
inline constexpr std::uint32_t kOsValue = 1u << 3;     // the slot holds a value
inline constexpr std::uint32_t kOsClosed = 1u << 4;    // the receiver closed or was dropped
inline constexpr std::uint32_t kOsRefShift = 5;        // handle references (2 at creation)
inline constexpr std::uint32_t kOsRefOne = 1u << kOsRefShift;

// LocalWord: the single-thread stand-in for sync::Atomic<std::uint32_t>:
// the same member functions, plain loads and stores (orders are ignored).
class LocalWord {
 public:
  constexpr explicit LocalWord(std::uint32_t v) noexcept : v_(v) {}
  std::uint32_t load(std::memory_order) const noexcept { return v_; }
  void store(std::uint32_t v, std::memory_order) noexcept { v_ = v; }
  std::uint32_t fetch_or(std::uint32_t b, std::memory_order) noexcept {
    return std::exchange(v_, v_ | b);
  }
  std::uint32_t fetch_and(std::uint32_t b, std::memory_order) noexcept {
    return std::exchange(v_, v_ & b);
  }
  std::uint32_t fetch_sub(std::uint32_t b, std::memory_order) noexcept {
    return std::exchange(v_, v_ - b);
  }
  bool compare_exchange_weak(std::uint32_t& expected, std::uint32_t desired, std::memory_order,
                             std::memory_order) noexcept {
    if (v_ != expected) {
      expected = v_;
      return false;
    }
    v_ = desired;
    return true;
  }

 private:
  std::uint32_t v_;
};

// LocalFlag: the single-thread stand-in for sync::Atomic<std::uint8_t>.
class LocalFlag {
 public:
  constexpr explicit LocalFlag(std::uint8_t v) noexcept : v_(v) {}
  std::uint8_t load(std::memory_order) const noexcept { return v_; }
  void store(std::uint8_t v, std::memory_order) noexcept { v_ = v; }

 private:
  std::uint8_t v_;
};

// OneshotState<T, kSync>: the one allocation both handles point to.
template <class T, bool kSync>
struct OneshotState {
  using Word = std::conditional_t<kSync, sync::Atomic<std::uint32_t>, LocalWord>;
  using Flag = std::conditional_t<kSync, sync::Atomic<std::uint8_t>, LocalFlag>;

  OneshotState() noexcept {}
  OneshotState(const OneshotState&) = delete;
  OneshotState& operator=(const OneshotState&) = delete;
  // Runs after the last release (acq_rel): nobody else looks any more.
  [[gnu::always_inline]] ~OneshotState() {
    if (state.load(sync::kRelaxed) & kOsValue) value.~T();
  }

  Word state{2 * kOsRefOne};
  // 1 once the sender no longer touches the state after completing (rule 4
  // says when it is stored). In the padding after `state`: no extra bytes.
  Flag tx_done{0};
  Waker rx_waker;  // the receiver's; see rule 2
  Waker tx_waker;  // the sender's closed() waiter; see rule 3
  union {
    T value;  // see rule 1; alive iff kOsValue
  };

  // From the thread-local pool of future/frame_allocator.h (no lock, no
  // atomic; a state freed on another thread joins that thread's pool).
  // Over-aligned values go to the global heap.
  static constexpr bool kPooled = WEFT_ONESHOT_POOL && alignof(T) <= alignof(std::max_align_t);
  static OneshotState* make() {
    if constexpr (kPooled) {
      void* p = PoolFrameAllocator::allocate(sizeof(OneshotState));
      if (p == nullptr) {
#if defined(__cpp_exceptions)
        throw std::bad_alloc();
#else
        WEFT_HARDENING_ASSERT(false, "oneshot: out of memory");
#endif
      }
      return ::new (p) OneshotState();
    } else {
      return new OneshotState();
    }
  }
  // Inline (and the destructor above, destroy_after_sender, try_finish,
  // send, the receiver's poll below): a oneshot's whole life is a few
  // instructions each; out of line, GCC put a call and a prologue around
  // each (request/reply with combinators: its 4 calls per round trip are
  // gone; with Task, 3 of them).
  [[gnu::always_inline]] static void destroy(OneshotState* s) noexcept {
    if constexpr (kPooled) {
      s->~OneshotState();
      PoolFrameAllocator::deallocate(s, sizeof(OneshotState));
    } else {
      delete s;
    }
  }

  // Drops `bits` (a reference, plus kOsValue if the caller destroyed the
  // value) and destroys the state if that was the last reference.
  static void release(OneshotState* s, std::uint32_t bits) noexcept {
    const std::uint32_t prev = s->state.fetch_sub(bits, sync::kAcqRel);
    if ((prev >> kOsRefShift) == 1) destroy(s);
  }
  // After a compare-exchange that stored `next` and released a reference.
  static void delete_if_last(OneshotState* s, std::uint32_t next) noexcept {
    if ((next >> kOsRefShift) == 0) destroy(s);
  }

  // The receiver, last owner of a completed channel: waits until the sender
  // has stopped touching the state (it dropped its reference in its
  // completing step and may still be waking rx_waker: nanoseconds, unless
  // its thread was preempted there), then frees it.
  [[gnu::always_inline]] static void destroy_after_sender(OneshotState* s) noexcept {
    if constexpr (kSync) {
      for (int spins = 0; s->tx_done.load(sync::kAcquire) == 0; ++spins) {
        if (spins < 64) {
          sync::spin_hint();
        } else {
          sync::yield_thread();
        }
      }
    }
    destroy(s);
  }
  // The receiver drops `bits` (its reference, plus kOsValue if it destroyed
  // the value). If that was the last reference of a completed channel, the
  // sender may still be finishing (rule 4): free after it.
  static void rx_release(OneshotState* s, std::uint32_t bits) noexcept {
    const std::uint32_t prev = s->state.fetch_sub(bits, sync::kAcqRel);
    if ((prev >> kOsRefShift) != 1) return;
    if (prev & kOsComplete) {
      destroy_after_sender(s);
    } else {
      destroy(s);  // the sender let go without completing (a refused send)
    }
  }
};

}  // namespace channels_internal

template <class T, bool kSync = true>
class OneshotSender;
template <class T, bool kSync = true>
class OneshotReceiver;
template <class T, bool kSync = true>
class OneshotClosed;
template <class T, bool kSync = true>
class OneshotRecv;

// The single-thread variants (no atomic instructions).
template <class T>
using LocalOneshotSender = OneshotSender<T, false>;
template <class T>
using LocalOneshotReceiver = OneshotReceiver<T, false>;

// oneshot<T>() / local_oneshot<T>()
//
// A new channel: `auto [tx, rx] = oneshot<T>();`. One allocation.
template <class T>
std::pair<OneshotSender<T>, OneshotReceiver<T>> oneshot();
template <class T>
std::pair<LocalOneshotSender<T>, LocalOneshotReceiver<T>> local_oneshot();

// OneshotSender<T>
//
// Move-only. Sends at most one value; dropping it unsent closes the channel.
template <class T, bool kSync>
class OneshotSender {
  using State = channels_internal::OneshotState<T, kSync>;

 public:
  OneshotSender() noexcept = default;  // empty: as after send()
  OneshotSender(OneshotSender&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  OneshotSender& operator=(OneshotSender&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~OneshotSender() { reset(); }

  // OneshotSender::send()
  //
  // Hands `v` to the receiver and wakes it; spends this sender. Fails when
  // the receiver was dropped or closed, giving `v` back in the SendError.
  [[gnu::always_inline]] Result<void, SendError<T>> send(T v) {
    WEFT_HARDENING_ASSERT(s_ != nullptr, "OneshotSender::send on a spent or moved-from sender");
    State* s = std::exchange(s_, nullptr);
    std::uint32_t cur = s->state.load(sync::kRelaxed);  // a hint; the exchange below decides
    if (cur & channels_internal::kOsClosed) {
      State::release(s, channels_internal::kOsRefOne);
      return Err{SendError<T>{std::move(v)}};
    }
    ::new (static_cast<void*>(&s->value)) T(std::move(v));
    for (;;) {
      if (cur & channels_internal::kOsClosed) {
        // Not published: the value is still ours.
        SendError<T> e{std::move(s->value)};
        s->value.~T();
        State::release(s, channels_internal::kOsRefOne);
        return Err{std::move(e)};
      }
      std::uint32_t next = cur | channels_internal::kOsComplete | channels_internal::kOsValue;
      if (try_finish(s, cur, next)) return {};
    }
  }

  // True once the receiver was dropped or closed (or this sender is spent).
  bool is_closed() const noexcept {
    return s_ == nullptr || (s_->state.load(sync::kAcquire) & channels_internal::kOsClosed) != 0;
  }

  // OneshotSender::closed()
  //
  // A future that is Ready (Unit) once the receiver is dropped or closed.
  // Borrows this sender: destroy it before sending or moving the sender.
  OneshotClosed<T, kSync> closed() noexcept { return OneshotClosed<T, kSync>(*this); }

  // OneshotSender::poll_closed()
  //
  // Ready once the receiver is gone; otherwise registers `cx.waker()` (one
  // waker slot: the last caller's waker wins).
  Poll<Unit> poll_closed(Context& cx) {
    using namespace channels_internal;
    WEFT_HARDENING_ASSERT(s_ != nullptr, "OneshotSender::closed on a spent or moved-from sender");
    State* s = s_;
    std::uint32_t cur = s->state.load(sync::kAcquire);
    if (!(cur & kOsClosed)) {
      if (cur & kOsTxWaker) {
        if (s->tx_waker.will_wake(cx.waker())) return Pending{};
        cur = s->state.fetch_and(~kOsTxWaker, sync::kAcqRel);  // take the slot back
      }
      if (!(cur & kOsClosed)) {
        s->tx_waker = cx.waker();
        cur = s->state.fetch_or(kOsTxWaker, sync::kAcqRel);  // release: publish the waker
        if (!(cur & kOsClosed)) return Pending{};
        // Closed while the bit was clear: the receiver did not look; reclaim.
        s->tx_waker = Waker();
      }
    }
    if (!cx.poll_proceed()) return Pending{};
    return Unit{};
  }

  bool valid() const noexcept { return s_ != nullptr; }

 private:
  friend std::pair<OneshotSender<T>, OneshotReceiver<T>> oneshot<T>();
  friend std::pair<LocalOneshotSender<T>, LocalOneshotReceiver<T>> local_oneshot<T>();
  friend class OneshotClosed<T, kSync>;

  explicit OneshotSender(State* s) noexcept : s_(s) {}

  // One attempt to store `next` (cur plus kComplete[, kValue]) and finish:
  // wake the receiver if it waits, drop a closed() waker we still own, and
  // release our reference (in the same step when nothing is left to touch).
  [[gnu::always_inline]] static bool try_finish(State* s, std::uint32_t& cur, std::uint32_t next) noexcept {
    using namespace channels_internal;
    const bool closed = (cur & kOsClosed) != 0;
    const bool wake_rx = (cur & kOsRxWaker) && !closed;
    const bool drop_tx = (cur & kOsTxWaker) && !closed;
    // Rare (a closed() waiter was registered), or single-thread (where
    // keeping the reference costs nothing, and a waker that runs or drops
    // the receiver inline stays safe): keep our reference across the wake
    // and the drop, then release it.
    if (drop_tx || (!kSync && wake_rx)) {
      if (!s->state.compare_exchange_weak(cur, next, sync::kAcqRel, sync::kAcquire)) return false;
      if (wake_rx) s->rx_waker.wake_by_ref();
      if (drop_tx) s->tx_waker = Waker();
      s->tx_done.store(1, sync::kRelease);
      State::release(s, kOsRefOne);
      return true;
    }
    // Our reference goes in the completing step, also when the receiver
    // waits: it then frees the state only after tx_done (rule 4), so the
    // wake below needs no reference and no second atomic step. With nothing
    // to wake we are done at the CAS: say so before it (the CAS publishes
    // it), so a receiver never waits on a sender that was merely preempted.
    s->tx_done.store(wake_rx ? 0 : 1, sync::kRelaxed);
    next -= kOsRefOne;
    if (!s->state.compare_exchange_weak(cur, next, sync::kAcqRel, sync::kAcquire)) return false;
    if ((next >> kOsRefShift) == 0) {
      State::destroy(s);  // the receiver was gone already (closed: no wake)
      return true;
    }
    if (wake_rx) {
      s->rx_waker.wake_by_ref();
      s->tx_done.store(1, sync::kRelease);  // last touch: the receiver may free it now
    }
    return true;
  }

  // Drop without sending: the receiver will see "closed". The null test is
  // inlined (a spent or moved-from sender, the common case when a sender
  // travels inside a message, costs a compare), the rest is out of line.
  void reset() noexcept {
    if (s_ != nullptr) drop_unsent(std::exchange(s_, nullptr));
  }
  [[gnu::noinline]] static void drop_unsent(State* s) noexcept {
    std::uint32_t cur = s->state.load(sync::kRelaxed);
    while (!try_finish(s, cur, cur | channels_internal::kOsComplete)) {
    }
  }

  State* s_ = nullptr;
};

// OneshotReceiver<T>
//
// Move-only; a Future of `Result<T, RecvError>` (Unpin: its waker lives in
// the shared state, so it may move between polls). Not cancel-safe when
// dropped (see the top); `recv()` is.
template <class T, bool kSync>
class [[nodiscard("futures do nothing unless polled")]] OneshotReceiver {
  using State = channels_internal::OneshotState<T, kSync>;

 public:
  using Output = Result<T, RecvError>;
  static constexpr bool kUnpin = true;
  // Not cancel-safe (no kCancelSafe): dropping the receiver destroys a value
  // already sent. Use `recv()` as a select arm.

  OneshotReceiver() noexcept = default;  // empty: as after completion
  OneshotReceiver(OneshotReceiver&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  OneshotReceiver& operator=(OneshotReceiver&& o) noexcept {
    if (this != &o) {
      reset();
      s_ = std::exchange(o.s_, nullptr);
    }
    return *this;
  }
  ~OneshotReceiver() { reset(); }

  [[gnu::always_inline]] Poll<Output> poll(Context& cx) {
    using namespace channels_internal;
    State* s = s_;
    if (s == nullptr) {
      WEFT_ASSERT(false, "OneshotReceiver polled after it completed (or moved from)");
      return Output(Err{RecvError::closed()});
    }
    std::uint32_t cur = s->state.load(sync::kAcquire);
    if (!(cur & (kOsComplete | kOsClosed))) {
      if (cur & kOsRxWaker) {
        if (s->rx_waker.will_wake(cx.waker())) return Pending{};
        cur = s->state.fetch_and(~kOsRxWaker, sync::kAcqRel);  // take the slot back
      }
      // If the sender completed meanwhile it saw kOsRxWaker and may be
      // reading the slot: leave it alone.
      if (!(cur & kOsComplete)) {
        s->rx_waker = cx.waker();
        cur = s->state.fetch_or(kOsRxWaker, sync::kAcqRel);  // release: publish the waker
        if (!(cur & kOsComplete)) return Pending{};
        // Completed while the bit was clear: the sender did not look; reclaim.
        s->rx_waker = Waker();
      }
    }
    if (!cx.poll_proceed()) return Pending{};  // budget spent: the value waits
    return finish(cur);
  }

  // OneshotReceiver::recv()
  //
  // A future of the same output that borrows this receiver: dropping it
  // (a `select` arm that lost) leaves the receiver and the channel as they
  // were. The receiver must outlive it.
  OneshotRecv<T, kSync> recv() noexcept { return OneshotRecv<T, kSync>(*this); }

  // OneshotReceiver::blocking_recv()
  //
  // Synchronous code only: parks the calling OS thread until the outcome is
  // final (`block_on(*this)`) and returns what `co_await rx` yields. Spends
  // the receiver (`is_terminated()` afterwards). Never call it from a task
  // running on an executor: it blocks that worker thread. Not on
  // local_oneshot (nothing on another thread could complete it).
  Output blocking_recv()
    requires kSync
  {
    return weft::block_on(*this);
  }

  // OneshotReceiver::try_recv()
  //
  // The value if it was sent; `empty()` if not yet; `closed()` if it never
  // will be (sender dropped, close() called, or already received).
  Result<T, TryRecvError> try_recv() {
    using namespace channels_internal;
    State* s = s_;
    if (s == nullptr) return Err{TryRecvError::closed()};
    const std::uint32_t cur = s->state.load(sync::kAcquire);
    if (!(cur & (kOsComplete | kOsClosed))) return Err{TryRecvError::empty()};
    Output r = finish(cur);
    if (r.is_ok()) return std::move(r).value();
    return Err{TryRecvError::closed()};
  }

  // OneshotReceiver::close()
  //
  // Refuses the value from now on: a later send fails (and gives the value
  // back); a value sent before can still be taken by try_recv or a poll.
  // Wakes the sender's closed() waiter.
  void close() noexcept {
    using namespace channels_internal;
    if (s_ == nullptr) return;
    const std::uint32_t prev = s_->state.fetch_or(kOsClosed, sync::kAcqRel);
    if ((prev & kOsTxWaker) && !(prev & (kOsClosed | kOsComplete))) s_->tx_waker.wake_by_ref();
  }

  // True once a poll or try_recv returned the value or "closed".
  bool is_terminated() const noexcept { return s_ == nullptr; }

 private:
  friend std::pair<OneshotSender<T>, OneshotReceiver<T>> oneshot<T>();
  friend std::pair<LocalOneshotSender<T>, LocalOneshotReceiver<T>> local_oneshot<T>();

  explicit OneshotReceiver(State* s) noexcept : s_(s) {}

  // `cur` has kOsComplete or kOsClosed: the outcome is final. Takes the
  // value (if any) and lets go of the channel.
  Output finish(std::uint32_t cur) {
    using namespace channels_internal;
    State* s = std::exchange(s_, nullptr);
    if ((cur & (kOsComplete | kOsValue)) == (kOsComplete | kOsValue)) {
      Output out(std::move(s->value));
      s->value.~T();
      if ((cur >> kOsRefShift) == 1) {
        // The sender's reference went in its completing step: the state is
        // ours alone (no atomic step needed to let go of it).
        s->state.store(cur & ~kOsValue, sync::kRelaxed);
        State::destroy_after_sender(s);
      } else {
        State::rx_release(s, kOsRefOne + kOsValue);  // subtracting clears kOsValue
      }
      return out;
    }
    drop_state(s);
    return Output(Err{RecvError::closed()});
  }

  void reset() noexcept {
    if (s_ != nullptr) drop_state(std::exchange(s_, nullptr));
  }

  // Closes the channel (unless the sender is done), destroys a value that
  // was sent but not taken, takes back our waker where we own it, wakes the
  // sender's closed() waiter, and releases our reference.
  [[gnu::noinline]] static void drop_state(State* s) noexcept {
    using namespace channels_internal;
    std::uint32_t cur = s->state.load(sync::kAcquire);
    for (;;) {
      if (cur & kOsComplete) {
        // The sender is done (it may still be waking rx_waker: freeing waits
        // for tx_done; ~State drops the waker).
        if (cur & kOsValue) s->value.~T();
        State::rx_release(s, kOsRefOne + (cur & kOsValue));
        return;
      }
      const bool wake_tx = (cur & kOsTxWaker) && !(cur & kOsClosed);
      // Once kOsClosed is set (and kOsComplete is not), the sender never
      // reads rx_waker: it is ours to drop.
      const bool drop_rx = (cur & kOsRxWaker) != 0;
      std::uint32_t next = cur | kOsClosed;
      if (!wake_tx && !drop_rx) next -= kOsRefOne;
      if (!s->state.compare_exchange_weak(cur, next, sync::kAcqRel, sync::kAcquire)) continue;
      if (wake_tx || drop_rx) {
        if (drop_rx) s->rx_waker = Waker();
        if (wake_tx) s->tx_waker.wake_by_ref();
        State::rx_release(s, kOsRefOne);  // the sender may complete meanwhile
      } else {
        State::delete_if_last(s, next);
      }
      return;
    }
  }

  State* s_ = nullptr;
};

// OneshotClosed<T>
//
// The future returned by `OneshotSender::closed()`: Ready (Unit) once the
// receiver is dropped or closed. Borrows the sender. Cancel-safe;
// destroying it while pending takes its waker back out of the channel.
template <class T, bool kSync>
class [[nodiscard("futures do nothing unless polled")]] OneshotClosed {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  explicit OneshotClosed(OneshotSender<T, kSync>& tx) noexcept : tx_(&tx) {}
  OneshotClosed(OneshotClosed&& o) noexcept
      : tx_(std::exchange(o.tx_, nullptr)), registered_(std::exchange(o.registered_, false)) {}
  OneshotClosed& operator=(OneshotClosed&&) = delete;
  ~OneshotClosed() { unregister(); }

  Poll<Unit> poll(Context& cx) {
    WEFT_ASSERT(tx_ != nullptr, "OneshotClosed polled after it completed (or moved from)");
    Poll<Unit> p = tx_->poll_closed(cx);
    if (p.is_ready()) {
      registered_ = false;  // the receiver may still be reading the slot: leave it
      tx_ = nullptr;
    } else {
      registered_ = true;
    }
    return p;
  }

 private:
  void unregister() noexcept {
    using namespace channels_internal;
    if (!registered_ || tx_ == nullptr || tx_->s_ == nullptr) return;
    auto* s = tx_->s_;
    const std::uint32_t prev = s->state.fetch_and(~kOsTxWaker, sync::kAcqRel);
    // Not closed yet: the receiver will not look at the slot any more.
    if ((prev & kOsTxWaker) && !(prev & kOsClosed)) s->tx_waker = Waker();
  }

  OneshotSender<T, kSync>* tx_;
  bool registered_ = false;
};

// OneshotRecv<T>
//
// The future returned by `OneshotReceiver::recv()`: polls the receiver it
// borrows. Cancel-safe in the strong sense: dropping it loses nothing.
template <class T, bool kSync>
class [[nodiscard("futures do nothing unless polled")]] OneshotRecv {
 public:
  using Output = Result<T, RecvError>;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  explicit OneshotRecv(OneshotReceiver<T, kSync>& rx) noexcept : rx_(&rx) {}

  Poll<Output> poll(Context& cx) { return rx_->poll(cx); }

 private:
  OneshotReceiver<T, kSync>* rx_;
};

template <class T>
std::pair<OneshotSender<T>, OneshotReceiver<T>> oneshot() {
  static_assert(std::is_move_constructible_v<T>, "oneshot<T>: T must be move-constructible");
  auto* s = channels_internal::OneshotState<T, true>::make();
  return {OneshotSender<T>(s), OneshotReceiver<T>(s)};
}

template <class T>
std::pair<LocalOneshotSender<T>, LocalOneshotReceiver<T>> local_oneshot() {
  static_assert(std::is_move_constructible_v<T>, "local_oneshot<T>: T must be move-constructible");
  auto* s = channels_internal::OneshotState<T, false>::make();
  return {LocalOneshotSender<T>(s), LocalOneshotReceiver<T>(s)};
}

}  // namespace weft

#endif  // WEFT_CHANNELS_ONESHOT_H_
