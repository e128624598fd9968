// -----------------------------------------------------------------------------
// File: channels/static_channel.h
// -----------------------------------------------------------------------------
//
// `StaticChannel<T, N, Policy>`: a bounded multi-producer, multi-consumer
// queue of `N` values stored inline, with no heap, for bare metal as much as
// for threads (usable as mpsc or spsc too). Declare it as a `constinit`
// global (or a member) and share it by address. Rust: embassy-sync's
// `Channel<M: RawMutex, T, N>` (plus `close`, and FIFO fairness among
// waiting tasks).
//
//   constinit StaticChannel<Msg, 8, CriticalSectionPolicy> ch;  // .bss
//   ch.try_send(m)        -> Result<void, TrySendError<Msg>>  (kFull, kClosed)
//   co_await ch.send(m)   -> Result<void, SendError<Msg>>     (closed only)
//   ch.try_recv()         -> Result<Msg, TryRecvError>        (kEmpty, kClosed)
//   co_await ch.recv()    -> Result<Msg, RecvError>           (closed and drained)
//   ch.close()            senders fail from now on; receivers drain, then
//                         see kClosed
//   ch.sender(), ch.receiver()   copyable views (a pointer each)
//   ch.len(), is_empty(), is_full(), is_closed(), capacity()
//
// Policy (tools/base/sync.h): `AtomicPolicy` (a spin lock; any thread),
// `CriticalSectionPolicy` (interrupts masked on Cortex-M; thread mode and
// interrupt handlers of one core; single-threaded on hosted builds), or
// `DefaultLockPolicy` (the default: atomic where `int` atomics are lock-free).
//
// Fairness: waiting senders and receivers queue FIFO, each in a list of
// intrusive nodes kept inside their futures. Freeing a slot grants it to the
// first waiting sender (the slot stays reserved for it until its next poll);
// a new value is granted the same way to the first waiting receiver. So
// `try_send`/`try_recv` and newly polled futures never overtake a waiting
// future. A granted future that is dropped hands its grant to the next one.
//
// Costs:
//   - no allocation, ever. sizeof: N * sizeof(T) + 11 words + the lock
//     (e.g. 64 bytes for <int, 4> on Cortex-M with CriticalSectionPolicy).
//   - every operation takes `Policy::RawLock` once (twice when a waker must
//     be cloned), for a few instructions; a value's move constructor and
//     destructor run under it (keep them small; they must not touch the
//     channel). No waker is cloned, woken or dropped under the lock.
//   - a waiting future holds a `StaticWaiter` (24 bytes on Cortex-M).
// Contract:
//   - `T` must be nothrow-move-constructible; it need not be default
//     constructible. Values left in the channel are destroyed with it.
//   - The channel must outlive its futures and views; it cannot move.
//   - Thread safety: every member may be called concurrently from any thread
//     (AtomicPolicy) or interrupt handler (CriticalSectionPolicy, one core).
//     Futures are polled and destroyed by one task at a time, as always.
//   - `len()`, `is_empty()`, `is_full()` count stored values. While a woken
//     sender has not yet filled the slot granted to it, `try_send` reports
//     kFull although `!is_full()`; while a woken receiver has not taken the
//     value granted to it, `try_recv` reports kEmpty although `len() > 0`.
//   - Closing: `close()` is permanent and idempotent. Pending and later
//     sends fail (a send already granted a slot still succeeds). Receivers
//     get every value sent before; then `recv`/`try_recv` report kClosed.
// Memory ordering: all state is under the lock (AtomicPolicy: acquire on
// lock, release on unlock), so a value's writes before `send` happen before
// the reads after the `recv` that returns it.
// Cancellation:
//   - `recv()` is cancel-safe (kCancelSafe): a value is removed only by the
//     poll that returns it; dropping the future loses nothing (a value
//     granted to it goes to the next waiting receiver, or stays queued).
//   - `send(v)` is NOT cancel-safe: the future owns `v` until its poll moves
//     it into the channel; dropping it before it returned Ready sends
//     nothing and destroys `v` (its granted slot passes to the next sender).
//     Use `try_send` to keep the value on failure.
//   Either way the dropped future leaves no waker behind.
//
// Example (two StaticExecutor tasks):
//
//   constinit weft::StaticChannel<int, 4, weft::CriticalSectionPolicy> ch;
//   Job producer() {
//     for (int i = 1; i <= 10; ++i) co_await ch.send(i);
//     ch.close();
//     co_return 0;
//   }
//   Job consumer() {
//     int sum = 0;
//     for (auto r = co_await ch.recv(); r; r = co_await ch.recv()) sum += *r;
//     co_return sum;  // 55
//   }
//
#ifndef WEFT_CHANNELS_STATIC_CHANNEL_H_
#define WEFT_CHANNELS_STATIC_CHANNEL_H_

#include <cstddef>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/internal/static_waiter.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

template <class T, std::size_t N, class Policy = DefaultLockPolicy>
class StaticChannel;
template <class T, std::size_t N, class Policy = DefaultLockPolicy>
class StaticSender;
template <class T, std::size_t N, class Policy = DefaultLockPolicy>
class StaticReceiver;

// StaticChannel<T, N, Policy>
//
// See the header comment. Not copyable or movable (futures and views point
// to it).
template <class T, std::size_t N, class Policy>
class StaticChannel {
  static_assert(N >= 1, "StaticChannel<T, N>: N must be at least 1");
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "StaticChannel<T, N>: T must be nothrow-move-constructible (values move under "
                "the channel's lock)");

  using Lock = typename Policy::RawLock;
  using Guard = RawLockGuard<Lock>;
  using Waiter = channels_internal::StaticWaiter;
  using WaiterList = channels_internal::StaticWaiterList;

 public:
  class SendFuture;
  class RecvFuture;
  using Sender = StaticSender<T, N, Policy>;
  using Receiver = StaticReceiver<T, N, Policy>;

  constexpr StaticChannel() noexcept = default;
  StaticChannel(const StaticChannel&) = delete;
  StaticChannel& operator=(const StaticChannel&) = delete;

  // Destroys the values still queued. No future may be alive.
  ~StaticChannel() {
    WEFT_ASSERT(send_reserved_ == 0 && recv_reserved_ == 0,
                "StaticChannel destroyed while a send or recv future it woke is still alive");
    while (len_ > 0) {
      slots_[head_].value.~T();
      head_ = next(head_);
      len_ -= 1;
    }
  }

  static constexpr std::size_t capacity() noexcept { return N; }

  // StaticChannel::try_send(v)
  //
  // Queues `v` now, or fails with the value back: kFull (no free slot, or
  // every free slot is promised to a waiting sender) or kClosed.
  Result<void, TrySendError<T>> try_send(T v) noexcept {
    Waker wake;
    Outcome what;
    {
      Guard g(lock_);
      if (closed_) {
        what = Outcome::kClosed;
      } else if (free_slots() == 0) {
        what = Outcome::kFull;
      } else {
        push(v);
        wake = grant_receiver();
        what = Outcome::kDone;
      }
    }
    channels_internal::wake_unless_noop(wake);
    if (what == Outcome::kDone) return {};
    if (what == Outcome::kFull) return Err{TrySendError<T>::full(std::move(v))};
    return Err{TrySendError<T>::closed(std::move(v))};
  }

  // StaticChannel::send(v)
  //
  // A future that queues `v`, waiting (FIFO) for a free slot; Ready with
  // `SendError` holding `v` if the channel is (or gets) closed first. Not
  // cancel-safe: see the header comment.
  SendFuture send(T v) noexcept { return SendFuture(this, std::move(v)); }

  // StaticChannel::try_recv()
  //
  // The oldest value now, or kEmpty (nothing there, or only values promised
  // to woken receivers), or kClosed (closed and drained).
  Result<T, TryRecvError> try_recv() noexcept {
    std::optional<T> got;
    Waker wake;
    bool drained_now = false;
    Outcome what;
    {
      Guard g(lock_);
      if (available() > 0) {
        pop(got);
        wake = grant_sender();
        drained_now = drained();
        what = Outcome::kDone;
      } else {
        what = drained() ? Outcome::kClosed : Outcome::kEmpty;
      }
    }
    channels_internal::wake_unless_noop(wake);
    if (drained_now) wake_all(receivers_);
    if (what == Outcome::kDone) return std::move(*got);
    if (what == Outcome::kEmpty) return Err{TryRecvError::empty()};
    return Err{TryRecvError::closed()};
  }

  // StaticChannel::recv()
  //
  // A future of the oldest value, waiting (FIFO) while the channel is empty;
  // `RecvError::closed()` once it is closed and drained. Cancel-safe.
  RecvFuture recv() noexcept { return RecvFuture(this); }

  // StaticChannel::close()
  //
  // Permanent: wakes every waiting sender (their sends fail) and, once the
  // channel is drained, every waiting receiver.
  void close() noexcept {
    bool first;
    bool drained_now;
    {
      Guard g(lock_);
      first = !closed_;
      closed_ = true;
      drained_now = drained();
    }
    if (!first) return;
    wake_all(senders_);
    if (drained_now) wake_all(receivers_);
  }

  bool is_closed() const noexcept {
    Guard g(lock_);
    return closed_;
  }
  // Values stored (see the header comment for the transient states).
  std::size_t len() const noexcept {
    Guard g(lock_);
    return len_;
  }
  bool is_empty() const noexcept { return len() == 0; }
  bool is_full() const noexcept { return len() == N; }

  Sender sender() noexcept { return Sender(*this); }
  Receiver receiver() noexcept { return Receiver(*this); }

  // SendFuture
  //
  // The future of `send(v)`. Output: `Result<void, SendError<T>>`. Movable
  // only before its first poll.
  class [[nodiscard("futures do nothing unless polled")]] SendFuture {
   public:
    using Output = Result<void, SendError<T>>;

    SendFuture(SendFuture&& o) noexcept
        : ch_(std::exchange(o.ch_, nullptr)), value_(std::move(o.value_)), waiting_(o.waiting_) {
      WEFT_ASSERT(!waiting_, "StaticChannel::send future moved after it was polled");
    }
    SendFuture& operator=(SendFuture&&) = delete;
    ~SendFuture() {
      if (!waiting_) return;
      Waker wake;
      bool drained_now = false;
      {
        Guard g(ch_->lock_);
        if (node_.linked()) {
          ch_->senders_.remove(&node_);
        } else if (node_.notified) {
          // Granted a slot but never filled it: pass the slot on.
          node_.notified = false;
          ch_->send_reserved_ -= 1;
          wake = ch_->grant_sender();
          drained_now = ch_->drained();
        }
      }
      channels_internal::wake_unless_noop(wake);
      if (drained_now) ch_->wake_all(ch_->receivers_);
    }

    Poll<Output> poll(Context& cx) noexcept {
      WEFT_ASSERT(value_.has_value(), "StaticChannel::send future polled after it completed");
      std::optional<Waker> fresh;  // a clone of cx.waker(), made outside the lock
      for (;;) {
        Waker wake;
        Waker old;
        Outcome what;
        {
          Guard g(ch_->lock_);
          if (node_.notified) {  // a slot was granted to us
            node_.notified = false;
            ch_->send_reserved_ -= 1;
            ch_->push(*value_);
            wake = ch_->grant_receiver();
            what = Outcome::kDone;
          } else if (ch_->closed_) {
            if (node_.linked()) ch_->senders_.remove(&node_);
            what = Outcome::kClosed;
          } else if (!node_.linked() && ch_->free_slots() > 0) {
            if (channels_internal::take_budget(cx)) {
              ch_->push(*value_);
              wake = ch_->grant_receiver();
              what = Outcome::kDone;
            } else {
              what = Outcome::kYield;
            }
          } else if (channels_internal::install_waker(node_, cx.waker(), fresh, old)) {
            if (!node_.linked()) ch_->senders_.push_back(&node_);
            what = Outcome::kPending;
          } else {
            what = Outcome::kClone;
          }
        }
        channels_internal::wake_unless_noop(wake);
        switch (what) {
          case Outcome::kDone:
            waiting_ = false;
            value_.reset();
            return Output();
          case Outcome::kClosed: {
            waiting_ = false;
            Output r = Err{SendError<T>{std::move(*value_)}};
            value_.reset();
            return Poll<Output>(std::move(r));
          }
          case Outcome::kYield:
            cx.waker().wake_by_ref();
            return Pending{};
          case Outcome::kPending:
            waiting_ = true;
            return Pending{};
          default:  // kClone
            fresh.emplace(cx.waker());
            continue;
        }
      }
    }

   private:
    friend class StaticChannel;
    SendFuture(StaticChannel* ch, T&& v) noexcept : ch_(ch), value_(std::move(v)) {}

    StaticChannel* ch_;
    std::optional<T> value_;  // empty once Ready
    Waiter node_;             // guarded by ch_->lock_
    bool waiting_ = false;    // this future's own: node_ may be linked or notified
  };

  // RecvFuture
  //
  // The future of `recv()`. Output: `Result<T, RecvError>`. Cancel-safe.
  // Movable only before its first poll.
  class [[nodiscard("futures do nothing unless polled")]] RecvFuture {
   public:
    using Output = Result<T, RecvError>;
    // A value leaves the channel only in the poll that returns it; a value
    // granted to a dropped future is granted to the next receiver.
    static constexpr bool kCancelSafe = true;

    RecvFuture(RecvFuture&& o) noexcept : ch_(std::exchange(o.ch_, nullptr)), waiting_(o.waiting_) {
      WEFT_ASSERT(!waiting_, "StaticChannel::recv future moved after it was polled");
    }
    RecvFuture& operator=(RecvFuture&&) = delete;
    ~RecvFuture() {
      if (!waiting_) return;
      Waker wake;
      {
        Guard g(ch_->lock_);
        if (node_.linked()) {
          ch_->receivers_.remove(&node_);
        } else if (node_.notified) {
          // Granted a value but never took it: it goes to the next receiver.
          node_.notified = false;
          ch_->recv_reserved_ -= 1;
          wake = ch_->grant_receiver();
        }
      }
      channels_internal::wake_unless_noop(wake);
    }

    Poll<Output> poll(Context& cx) noexcept {
      WEFT_ASSERT(!done_, "StaticChannel::recv future polled after it completed");
      std::optional<Waker> fresh;  // a clone of cx.waker(), made outside the lock
      for (;;) {
        std::optional<T> got;
        Waker wake;
        Waker old;
        bool drained_now = false;
        Outcome what;
        {
          Guard g(ch_->lock_);
          if (node_.notified) {  // a value was granted to us
            node_.notified = false;
            ch_->recv_reserved_ -= 1;
            ch_->pop(got);
            wake = ch_->grant_sender();
            drained_now = ch_->drained();
            what = Outcome::kDone;
          } else if (!node_.linked() && (ch_->available() > 0 || ch_->drained())) {
            if (!channels_internal::take_budget(cx)) {
              what = Outcome::kYield;
            } else if (ch_->available() > 0) {
              ch_->pop(got);
              wake = ch_->grant_sender();
              drained_now = ch_->drained();
              what = Outcome::kDone;
            } else {
              what = Outcome::kClosed;
            }
          } else if (ch_->drained()) {  // linked, polled before close woke it
            ch_->receivers_.remove(&node_);
            what = Outcome::kClosed;
          } else if (channels_internal::install_waker(node_, cx.waker(), fresh, old)) {
            if (!node_.linked()) ch_->receivers_.push_back(&node_);
            what = Outcome::kPending;
          } else {
            what = Outcome::kClone;
          }
        }
        channels_internal::wake_unless_noop(wake);
        if (drained_now) ch_->wake_all(ch_->receivers_);
        switch (what) {
          case Outcome::kDone:
            waiting_ = false;
            done_ = true;
            return Output(std::move(*got));
          case Outcome::kClosed:
            waiting_ = false;
            done_ = true;
            return Output(Err{RecvError::closed()});
          case Outcome::kYield:
            cx.waker().wake_by_ref();
            return Pending{};
          case Outcome::kPending:
            waiting_ = true;
            return Pending{};
          default:  // kClone
            fresh.emplace(cx.waker());
            continue;
        }
      }
    }

   private:
    friend class StaticChannel;
    explicit RecvFuture(StaticChannel* ch) noexcept : ch_(ch) {}

    StaticChannel* ch_;
    Waiter node_;           // guarded by ch_->lock_
    bool waiting_ = false;  // this future's own: node_ may be linked or notified
    bool done_ = false;
  };

 private:
  enum class Outcome : unsigned char { kDone, kFull, kEmpty, kClosed, kYield, kPending, kClone };

  // Uninitialised storage for one value.
  union Slot {
    struct Empty {};
    constexpr Slot() noexcept : empty() {}
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {}
    Empty empty;
    T value;
  };

  // Everything below: under lock_.
  static constexpr std::size_t next(std::size_t i) noexcept { return i + 1 == N ? 0 : i + 1; }
  std::size_t free_slots() const noexcept { return N - len_ - send_reserved_; }
  std::size_t available() const noexcept { return len_ - recv_reserved_; }
  // Closed, and no value will ever be received again.
  bool drained() const noexcept { return closed_ && len_ == 0 && send_reserved_ == 0; }

  void push(T& v) noexcept {
    std::size_t tail = head_ + len_;
    if (tail >= N) tail -= N;
    ::new (static_cast<void*>(std::addressof(slots_[tail].value))) T(std::move(v));
    len_ += 1;
  }
  void pop(std::optional<T>& out) noexcept {
    Slot& s = slots_[head_];
    out.emplace(std::move(s.value));
    s.value.~T();
    head_ = next(head_);
    len_ -= 1;
  }
  // A free slot to the first waiting sender (not after close: those fail).
  Waker grant_sender() noexcept {
    if (closed_ || free_slots() == 0 || senders_.empty()) return Waker();
    send_reserved_ += 1;
    return channels_internal::notify_first(senders_);
  }
  // An unpromised value to the first waiting receiver.
  Waker grant_receiver() noexcept {
    if (available() == 0 || receivers_.empty()) return Waker();
    recv_reserved_ += 1;
    return channels_internal::notify_first(receivers_);
  }

  // Not under the lock: unlinks and wakes every waiter of `list`, one lock
  // round each (no waker is called under the lock, and there is no room to
  // collect them). The woken futures re-check the state when polled. Out of
  // line: only closing takes this path (it keeps the polls small).
  [[gnu::noinline, gnu::cold]] void wake_all(WaiterList& list) noexcept {
    for (;;) {
      Waker w;
      {
        Guard g(lock_);
        Waiter* n = list.pop_front();
        if (n == nullptr) return;
        w = std::move(n->waker);
      }
      channels_internal::wake_unless_noop(w);
    }
  }

  mutable Lock lock_;
  Slot slots_[N];
  std::size_t head_ = 0;           // index of the oldest value
  std::size_t len_ = 0;            // values stored
  std::size_t send_reserved_ = 0;  // free slots granted to woken senders
  std::size_t recv_reserved_ = 0;  // values granted to woken receivers
  bool closed_ = false;
  WaiterList senders_;    // waiting senders, FIFO (none granted)
  WaiterList receivers_;  // waiting receivers, FIFO (none granted)
};

// StaticSender<T, N, Policy>
//
// A copyable view of a channel's sending side (a pointer). Rust:
// embassy-sync's `Sender<'ch, M, T, N>`.
template <class T, std::size_t N, class Policy>
class StaticSender {
 public:
  using Channel = StaticChannel<T, N, Policy>;

  constexpr explicit StaticSender(Channel& ch) noexcept : ch_(&ch) {}

  Result<void, TrySendError<T>> try_send(T v) const noexcept { return ch_->try_send(std::move(v)); }
  typename Channel::SendFuture send(T v) const noexcept { return ch_->send(std::move(v)); }
  void close() const noexcept { ch_->close(); }
  bool is_closed() const noexcept { return ch_->is_closed(); }
  std::size_t len() const noexcept { return ch_->len(); }
  bool is_empty() const noexcept { return ch_->is_empty(); }
  bool is_full() const noexcept { return ch_->is_full(); }
  static constexpr std::size_t capacity() noexcept { return N; }

 private:
  Channel* ch_;
};

// StaticReceiver<T, N, Policy>
//
// A copyable view of a channel's receiving side (a pointer). Rust:
// embassy-sync's `Receiver<'ch, M, T, N>`.
template <class T, std::size_t N, class Policy>
class StaticReceiver {
 public:
  using Channel = StaticChannel<T, N, Policy>;

  constexpr explicit StaticReceiver(Channel& ch) noexcept : ch_(&ch) {}

  Result<T, TryRecvError> try_recv() const noexcept { return ch_->try_recv(); }
  typename Channel::RecvFuture recv() const noexcept { return ch_->recv(); }
  void close() const noexcept { ch_->close(); }
  bool is_closed() const noexcept { return ch_->is_closed(); }
  std::size_t len() const noexcept { return ch_->len(); }
  bool is_empty() const noexcept { return ch_->is_empty(); }
  bool is_full() const noexcept { return ch_->is_full(); }
  static constexpr std::size_t capacity() noexcept { return N; }

 private:
  Channel* ch_;
};

}  // namespace weft

#endif  // WEFT_CHANNELS_STATIC_CHANNEL_H_
