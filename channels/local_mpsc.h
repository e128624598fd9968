// -----------------------------------------------------------------------------
// File: channels/local_mpsc.h
// -----------------------------------------------------------------------------
//
// Single-thread multi-producer single-consumer channels: the same API and
// closing semantics as channels/mpsc.h, without atomics or locks, for tasks
// of one `LocalExecutor`. Rust: `futures::channel::mpsc` on a `LocalPool`
// minus the atomics — the `local-channel` crate, tokio's `unsync` idea.
//
//   auto [tx, rx] = weft::local_mpsc<int>(64);        // LocalMpscSender / LocalMpscReceiver
//   co_await tx.send(1);                              // Result<void, SendError<int>>
//   tx.try_send(2);                                   // Result<void, TrySendError<int>>
//   auto permit = co_await tx.reserve();              // Result<LocalMpscPermit<int>, Closed>
//   std::optional<int> v = co_await rx.recv();        // nullopt: closed and drained
//   auto [utx, urx] = weft::local_unbounded_mpsc<int>();
//   utx.send(3);                                      // synchronous
//
// The same members as the thread-safe flavour: senders `send`, `try_send`,
// `reserve`, `try_reserve`, `closed()`, `is_closed`, `capacity`,
// `max_capacity`, `same_channel`; receivers `recv`, `try_recv`, `recv_many`,
// `close`, `len`, `is_empty`, `is_closed`, `poll_next` (a Stream). No
// `reserve_owned` (a copy of the sender does the same job here).
//
// Costs: one allocation per channel (state + reference counts, plain
// integers), plus a ring buffer of values that doubles as needed (never
// beyond the capacity's power of two for a bounded channel) and is reused
// (no allocation per message). send/recv are a few loads and stores: no
// atomic, no lock; the receiver's waker is woken only when it waits, and
// kept (not re-cloned) across waits. Waiting senders queue FIFO in an
// intrusive list (the node lives in the future).
//
// Contract: NOT thread-safe. Every handle (senders, receiver, permits) and
// every future of one channel must be used on one thread, and the wakers it
// is polled with must be woken on that thread too (e.g. tasks of one
// LocalExecutor). Futures and permits borrow their sender/receiver and must
// not outlive it. Out of memory while growing the ring terminates (it
// happens inside noexcept sends). Capacity >= 1.
//
// Cancellation: as in channels/mpsc.h — `recv`, `recv_many`, `reserve` and
// `closed` are cancel-safe (declared); `send(v)` is not (dropping it
// destroys `v`); a dropped pending future leaves no waker behind; a permit
// granted to a future dropped before it saw it goes to the next waiter.
//
// Example:
//
//   weft::LocalExecutor ex;
//   auto [tx, rx] = weft::local_mpsc<int>(1);
//   ex.spawn_detached([](weft::LocalMpscSender<int> tx) -> weft::Task<> {
//     for (int i = 0; i < 3; ++i) (void)co_await tx.send(i);  // waits for room
//   }(std::move(tx)));
//   int sum = ex.block_on([](weft::LocalMpscReceiver<int> rx) -> weft::Task<int> {
//     int s = 0;
//     while (auto v = co_await rx.recv()) s += *v;
//     co_return s;
//   }(std::move(rx)));
//   EXPECT_EQ(sum, 3);
//
#ifndef WEFT_CHANNELS_LOCAL_MPSC_H_
#define WEFT_CHANNELS_LOCAL_MPSC_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "channels/error.h"
#include "channels/internal/waiter_list.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

template <class T>
class LocalMpscSender;
template <class T>
class LocalMpscReceiver;
template <class T>
class LocalMpscPermit;
template <class T>
class LocalUnboundedMpscSender;
template <class T>
class LocalUnboundedMpscReceiver;

namespace channels_internal {

// LocalRing<T>: a FIFO ring of raw slots, power-of-two sized, growing by
// doubling (values moved in order).
template <class T>
class LocalRing {
 public:
  LocalRing() = default;
  LocalRing(const LocalRing&) = delete;
  LocalRing& operator=(const LocalRing&) = delete;
  ~LocalRing() {
    clear();
    if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
  }

  bool empty() const noexcept { return len_ == 0; }
  std::size_t size() const noexcept { return len_; }

  // (Forced inline, growth out of line: GCC 12 otherwise called these out
  // of line from coroutine bodies.)
  [[gnu::always_inline]] inline void push_back(T&& v) noexcept {
    if (len_ == cap_) [[unlikely]] grow();
    ::new (static_cast<void*>(buf_ + ((head_ + len_) & (cap_ - 1)))) T(std::move(v));
    len_ += 1;
  }
  [[gnu::always_inline]] inline T& front() noexcept { return *std::launder(buf_ + head_); }
  [[gnu::always_inline]] inline void pop_front() noexcept {
    std::launder(buf_ + head_)->~T();
    head_ = (head_ + 1) & (cap_ - 1);
    len_ -= 1;
  }
  void clear() noexcept {
    while (len_ != 0) pop_front();
  }

 private:
  [[gnu::noinline]] void grow() noexcept {
    const std::size_t ncap = cap_ == 0 ? 16 : cap_ * 2;
    T* nbuf = std::allocator<T>().allocate(ncap);  // throws in a noexcept path: terminates
    for (std::size_t i = 0; i < len_; ++i) {
      T* src = std::launder(buf_ + ((head_ + i) & (cap_ - 1)));
      ::new (static_cast<void*>(nbuf + i)) T(std::move(*src));
      src->~T();
    }
    if (buf_ != nullptr) std::allocator<T>().deallocate(buf_, cap_);
    buf_ = nbuf;
    cap_ = ncap;
    head_ = 0;
  }

  T* buf_ = nullptr;
  std::size_t cap_ = 0;  // 0 or a power of two
  std::size_t head_ = 0;
  std::size_t len_ = 0;
};

// A sender waiting for a slot (bounded), inside the send/reserve future.
struct LocalSendWaiter : ListLink<LocalSendWaiter> {
  Waker waker;
  bool granted = false;  // a slot was handed to it (it left the list)
  bool closed = false;   // the receiver closed (it left the list)
};

// A sender waiting in `closed()`.
struct LocalClosedWaiter : ListLink<LocalClosedWaiter> {
  Waker waker;
};

// LocalChan<T, kBounded>: the shared state (plain fields; one thread).
// Bounded: `available_` free slots; a slot is held by a queued value, a
// permit, or a waiter it was granted to; released slots go to the first
// waiter (FIFO, no barging) before `available_`.
template <class T, bool kBounded>
class LocalChan {
 public:
  explicit LocalChan(std::size_t capacity) noexcept : capacity_(capacity), available_(capacity) {}
  LocalChan(const LocalChan&) = delete;
  LocalChan& operator=(const LocalChan&) = delete;
  ~LocalChan() {
    WEFT_ASSERT(send_waiters_.empty() && closed_waiters_.empty(), "local_mpsc: futures outlived the channel");
  }

  // ---- reference counts ----
  void add_sender() noexcept {
    tx_count_ += 1;
    refs_ += 1;
  }
  void drop_sender() noexcept {
    tx_count_ -= 1;
    if (tx_count_ == 0) wake_rx();
    release_ref();
  }
  void release_ref() noexcept {
    refs_ -= 1;
    if (refs_ == 0) delete this;
  }

  // ---- senders ----
  bool rx_closed() const noexcept { return rx_closed_; }
  std::size_t capacity() const noexcept { return capacity_; }
  std::size_t available() const noexcept { return available_; }

  void push(T&& v) noexcept {
    ring_.push_back(std::move(v));
    wake_rx();
  }

  enum class Try : std::uint8_t { kOk, kFull, kClosed };
  // The common case of try_acquire: a slot free, nobody queued, open.
  bool try_acquire_fast() noexcept {
    if (available_ == 0 || rx_closed_ || !send_waiters_.empty()) return false;
    available_ -= 1;
    return true;
  }
  void unacquire() noexcept { available_ += 1; }
  // Takes a slot if one is free and nobody queues for one.
  Try try_acquire() noexcept {
    if (rx_closed_) return Try::kClosed;
    if (available_ == 0 || !send_waiters_.empty()) return Try::kFull;
    available_ -= 1;
    return Try::kOk;
  }
  void enqueue(LocalSendWaiter* w) noexcept { send_waiters_.push_back(w); }
  void dequeue(LocalSendWaiter* w) noexcept { send_waiters_.remove(w); }

  // A sender gives a slot back (unused permit, dropped granted waiter).
  void release_from_sender() noexcept {
    release_slot();
    if (rx_closed_) wake_rx();  // the receiver may wait for the last one
  }

  // ---- closed() ----
  IntrusiveList<LocalClosedWaiter>& closed_waiters() noexcept { return closed_waiters_; }

  // ---- receiver ----
  bool has_value() const noexcept { return !ring_.empty(); }
  T& front() noexcept { return ring_.front(); }
  void consume_front() noexcept {
    ring_.pop_front();
    if constexpr (kBounded) release_slot();
  }
  T take_front() noexcept {
    T v(std::move(ring_.front()));
    consume_front();
    return v;
  }

  // Nothing queued: will anything come?
  bool rx_done() const noexcept {
    if (tx_count_ == 0) return true;
    if (!rx_closed_) return false;
    if constexpr (kBounded) {
      return available_ == capacity_;  // no slot held by a permit or waiter
    } else {
      return true;
    }
  }

  void register_rx(const Waker& w) {
    register_waker(rx_waker_, w);
    rx_waiting_ = true;
  }
  void cancel_rx() noexcept {
    rx_waiting_ = false;
    rx_waker_ = Waker();
  }

  void rx_close() {
    if (rx_closed_) return;
    rx_closed_ = true;
    while (LocalSendWaiter* w = send_waiters_.pop_front()) {
      w->closed = true;
      Waker k = std::move(w->waker);
      std::move(k).wake();
    }
    while (LocalClosedWaiter* w = closed_waiters_.pop_front()) {
      Waker k = std::move(w->waker);
      std::move(k).wake();
    }
  }

  void rx_drop() noexcept {
    rx_close();
    while (!ring_.empty()) consume_front();
    cancel_rx();
  }

  std::size_t len() const noexcept { return ring_.size(); }
  bool rx_is_closed() const noexcept { return rx_closed_ || tx_count_ == 0; }

 private:
  void wake_rx() noexcept {
    if (rx_waiting_) {
      rx_waiting_ = false;
      rx_waker_.wake_by_ref();  // kept: the next wait need not clone it again
    }
  }

  void release_slot() noexcept {
    if (LocalSendWaiter* w = send_waiters_.pop_front()) {
      w->granted = true;
      Waker k = std::move(w->waker);
      std::move(k).wake();
      return;
    }
    available_ += 1;
  }

  LocalRing<T> ring_;
  const std::size_t capacity_;
  std::size_t available_;
  std::size_t refs_ = 2;  // one sender + the receiver
  std::size_t tx_count_ = 1;
  bool rx_closed_ = false;
  bool rx_waiting_ = false;
  Waker rx_waker_;
  IntrusiveList<LocalSendWaiter> send_waiters_;
  IntrusiveList<LocalClosedWaiter> closed_waiters_;
};

// ---- receiver futures ----

template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] LocalMpscRecvFuture {
 public:
  using Output = std::optional<T>;
  static constexpr bool kCancelSafe = true;  // a value is taken only when returned
  static constexpr bool kUnpin = true;

  explicit LocalMpscRecvFuture(LocalChan<T, kBounded>* c) noexcept : c_(c) {}
  LocalMpscRecvFuture(LocalMpscRecvFuture&& o) noexcept : c_(o.c_), waiting_(std::exchange(o.waiting_, false)) {}
  LocalMpscRecvFuture& operator=(LocalMpscRecvFuture&&) = delete;
  ~LocalMpscRecvFuture() {
    if (waiting_) c_->cancel_rx();
  }

  Poll<Output> poll(Context& cx) {
    if (c_->has_value()) {
      if (!cx.poll_proceed()) {
        waiting_ = true;
        return Pending{};
      }
      waiting_ = false;
      return Output(c_->take_front());
    }
    if (c_->rx_done()) {
      waiting_ = false;
      return Output();
    }
    c_->register_rx(cx.waker());
    waiting_ = true;
    return Pending{};
  }

 private:
  LocalChan<T, kBounded>* c_;
  bool waiting_ = false;
};

template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] LocalMpscRecvManyFuture {
 public:
  using Output = std::size_t;
  static constexpr bool kCancelSafe = true;
  static constexpr bool kUnpin = true;

  LocalMpscRecvManyFuture(LocalChan<T, kBounded>* c, std::vector<T>* out, std::size_t limit) noexcept
      : c_(c), out_(out), limit_(limit) {}
  LocalMpscRecvManyFuture(LocalMpscRecvManyFuture&& o) noexcept
      : c_(o.c_), out_(o.out_), limit_(o.limit_), waiting_(std::exchange(o.waiting_, false)) {}
  LocalMpscRecvManyFuture& operator=(LocalMpscRecvManyFuture&&) = delete;
  ~LocalMpscRecvManyFuture() {
    if (waiting_) c_->cancel_rx();
  }

  Poll<Output> poll(Context& cx) {
    if (limit_ == 0) return std::size_t{0};
    if (!c_->has_value()) {
      if (c_->rx_done()) {
        waiting_ = false;
        return std::size_t{0};
      }
      c_->register_rx(cx.waker());
      waiting_ = true;
      return Pending{};
    }
    if (!cx.poll_proceed()) {
      waiting_ = true;
      return Pending{};
    }
    waiting_ = false;
    std::size_t n = 0;
    // push_back first, consume after: if it throws, the value stays queued.
    while (n < limit_ && c_->has_value()) {
      out_->push_back(std::move(c_->front()));
      c_->consume_front();
      n += 1;
    }
    return n;
  }

 private:
  LocalChan<T, kBounded>* c_;
  std::vector<T>* out_;
  std::size_t limit_;
  bool waiting_ = false;
};

template <class T, bool kBounded>
class [[nodiscard("futures do nothing unless polled")]] LocalMpscClosedFuture {
 public:
  using Output = Unit;
  static constexpr bool kCancelSafe = true;

  explicit LocalMpscClosedFuture(LocalChan<T, kBounded>* c) noexcept : c_(c) {}
  LocalMpscClosedFuture(LocalMpscClosedFuture&& o) noexcept : c_(o.c_) {
    WEFT_HARDENING_ASSERT(!o.node_.linked(), "local_mpsc closed() future moved while waiting");
  }
  LocalMpscClosedFuture& operator=(LocalMpscClosedFuture&&) = delete;
  ~LocalMpscClosedFuture() {
    if (node_.linked()) c_->closed_waiters().remove(&node_);
  }

  Poll<Output> poll(Context& cx) {
    if (c_->rx_closed()) {
      if (node_.linked()) c_->closed_waiters().remove(&node_);
      node_.waker = Waker();
      return Unit{};
    }
    register_waker(node_.waker, cx.waker());
    if (!node_.linked()) c_->closed_waiters().push_back(&node_);
    return Pending{};
  }

 private:
  LocalChan<T, kBounded>* c_;
  LocalClosedWaiter node_;
};

template <class T, bool kBounded>
class LocalTxBase {
 public:
  LocalTxBase(const LocalTxBase& o) noexcept : c_(o.c_) {
    if (c_ != nullptr) c_->add_sender();
  }
  LocalTxBase(LocalTxBase&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  LocalTxBase& operator=(const LocalTxBase& o) noexcept {
    if (this != &o) {
      reset();
      c_ = o.c_;
      if (c_ != nullptr) c_->add_sender();
    }
    return *this;
  }
  LocalTxBase& operator=(LocalTxBase&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~LocalTxBase() { reset(); }

  bool is_closed() const noexcept { return c_->rx_closed(); }
  LocalMpscClosedFuture<T, kBounded> closed() const noexcept { return LocalMpscClosedFuture<T, kBounded>(c_); }
  bool same_channel(const LocalTxBase& o) const noexcept { return c_ == o.c_; }
  bool valid() const noexcept { return c_ != nullptr; }

 protected:
  explicit LocalTxBase(LocalChan<T, kBounded>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) std::exchange(c_, nullptr)->drop_sender();
  }
  LocalChan<T, kBounded>* c_;
};

template <class T, bool kBounded>
class LocalRxBase {
 public:
  using Item = T;
  static constexpr bool kUnpin = true;

  LocalRxBase(LocalRxBase&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  LocalRxBase& operator=(LocalRxBase&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  LocalRxBase(const LocalRxBase&) = delete;
  LocalRxBase& operator=(const LocalRxBase&) = delete;
  ~LocalRxBase() { reset(); }

  LocalMpscRecvFuture<T, kBounded> recv() noexcept { return LocalMpscRecvFuture<T, kBounded>(c_); }
  LocalMpscRecvManyFuture<T, kBounded> recv_many(std::vector<T>& out, std::size_t limit) noexcept {
    return LocalMpscRecvManyFuture<T, kBounded>(c_, &out, limit);
  }
  Result<T, TryRecvError> try_recv() noexcept {
    if (c_->has_value()) return c_->take_front();
    if (c_->rx_done()) return Err{TryRecvError::closed()};
    return Err{TryRecvError::empty()};
  }
  Poll<std::optional<T>> poll_next(Context& cx) {
    if (c_->has_value()) {
      if (!cx.poll_proceed()) return Pending{};
      return std::optional<T>(c_->take_front());
    }
    if (c_->rx_done()) return std::optional<T>();
    c_->register_rx(cx.waker());
    return Pending{};
  }

  void close() { c_->rx_close(); }
  bool is_closed() const noexcept { return c_->rx_is_closed(); }
  std::size_t len() const noexcept { return c_->len(); }
  bool is_empty() const noexcept { return len() == 0; }
  bool valid() const noexcept { return c_ != nullptr; }

 protected:
  explicit LocalRxBase(LocalChan<T, kBounded>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) {
      LocalChan<T, kBounded>* c = std::exchange(c_, nullptr);
      c->rx_drop();
      c->release_ref();
    }
  }
  LocalChan<T, kBounded>* c_;
};

// The slot-acquiring part of send and reserve futures (bounded). The waiter
// node is constructed only when the future has to wait.
template <class T>
class LocalSlotWait {
 public:
  explicit LocalSlotWait(LocalChan<T, true>* c) noexcept : c_(c) {}
  LocalSlotWait(LocalSlotWait&& o) noexcept : c_(o.c_) {
    WEFT_HARDENING_ASSERT(!o.queued_, "local_mpsc future moved while waiting");
  }
  LocalSlotWait& operator=(LocalSlotWait&&) = delete;
  ~LocalSlotWait() {
    if (queued_) [[unlikely]] leave_queue();
  }

  // Ready(true): a slot is ours; Ready(false): closed.
  // The common case (not queued, a slot free) is inline; waiting is not.
  [[gnu::always_inline]] Poll<bool> poll(Context& cx) {
    if (!queued_ && c_->try_acquire_fast()) [[likely]] {
      if (cx.poll_proceed()) [[likely]] return true;
      c_->unacquire();  // out of budget: give the slot back, yield
      return Pending{};
    }
    return poll_slow(cx);
  }

 private:
  [[gnu::noinline]] Poll<bool> poll_slow(Context& cx) {
    if (!queued_) {
      if (!cx.poll_proceed()) return Pending{};
      switch (c_->try_acquire()) {
        case LocalChan<T, true>::Try::kOk:
          return true;
        case LocalChan<T, true>::Try::kClosed:
          return false;
        case LocalChan<T, true>::Try::kFull:
          break;
      }
      ::new (static_cast<void*>(&node_)) LocalSendWaiter();
      node_.waker = cx.waker();
      c_->enqueue(&node_);
      queued_ = true;
      return Pending{};
    }
    if (!node_.granted && !node_.closed) {
      register_waker(node_.waker, cx.waker());
      return Pending{};
    }
    const bool ok = node_.granted;
    node_.~LocalSendWaiter();
    queued_ = false;
    return ok;
  }
  [[gnu::noinline]] void leave_queue() noexcept {
    if (node_.linked()) {
      c_->dequeue(&node_);
    } else if (node_.granted) {
      c_->release_from_sender();  // to the next waiter
    }
    node_.~LocalSendWaiter();
  }

  LocalChan<T, true>* c_;
  bool queued_ = false;
  union {
    LocalSendWaiter node_;  // alive while queued_
  };
};

}  // namespace channels_internal

// LocalMpscPermit<T>: one reserved slot; `send(v)` never fails or waits;
// dropped unused, the slot goes back. Borrows the sender.
template <class T>
class [[nodiscard]] LocalMpscPermit {
 public:
  LocalMpscPermit(LocalMpscPermit&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  LocalMpscPermit& operator=(LocalMpscPermit&& o) noexcept {
    if (this != &o) {
      reset();
      c_ = std::exchange(o.c_, nullptr);
    }
    return *this;
  }
  ~LocalMpscPermit() { reset(); }

  void send(T v) noexcept {
    WEFT_HARDENING_ASSERT(c_ != nullptr, "LocalMpscPermit::send on a used permit");
    std::exchange(c_, nullptr)->push(std::move(v));
  }

 private:
  template <class>
  friend class LocalMpscReserveFuture;
  friend class LocalMpscSender<T>;
  explicit LocalMpscPermit(channels_internal::LocalChan<T, true>* c) noexcept : c_(c) {}
  void reset() noexcept {
    if (c_ != nullptr) std::exchange(c_, nullptr)->release_from_sender();
  }
  channels_internal::LocalChan<T, true>* c_;
};

// `tx.send(v)` (bounded). NOT cancel-safe: dropping it destroys `v`.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] LocalMpscSendFuture {
 public:
  using Output = Result<void, SendError<T>>;

  LocalMpscSendFuture(channels_internal::LocalChan<T, true>* c, T v) noexcept(
      std::is_nothrow_move_constructible_v<T>)
      : c_(c), wait_(c), value_(std::move(v)) {}
  LocalMpscSendFuture(LocalMpscSendFuture&&) = default;
  LocalMpscSendFuture& operator=(LocalMpscSendFuture&&) = delete;

  [[gnu::always_inline]] Poll<Output> poll(Context& cx) {
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) [[unlikely]] return Output(Err{SendError<T>{std::move(value_)}});
    c_->push(std::move(value_));
    return Output();
  }

 private:
  channels_internal::LocalChan<T, true>* c_;
  channels_internal::LocalSlotWait<T> wait_;
  T value_;  // moved out when Ready (plain T: no optional flag to stall on)
};

// `tx.reserve()`: Result<LocalMpscPermit<T>, Closed>. Cancel-safe.
template <class T>
class [[nodiscard("futures do nothing unless polled")]] LocalMpscReserveFuture {
 public:
  using Output = Result<LocalMpscPermit<T>, Closed>;
  static constexpr bool kCancelSafe = true;

  explicit LocalMpscReserveFuture(channels_internal::LocalChan<T, true>* c) noexcept : c_(c), wait_(c) {}
  LocalMpscReserveFuture(LocalMpscReserveFuture&&) noexcept = default;
  LocalMpscReserveFuture& operator=(LocalMpscReserveFuture&&) = delete;

  Poll<Output> poll(Context& cx) {
    Poll<bool> p = wait_.poll(cx);
    if (p.is_pending()) return Pending{};
    if (!p.value()) return closed_result();
    return Output(LocalMpscPermit<T>(c_));
  }

 private:
  // Out of line: see channels/mpsc.h `closed_result` (a GCC false positive).
  [[gnu::cold, gnu::noinline]] static Poll<Output> closed_result() { return Output(Err{Closed{}}); }

  channels_internal::LocalChan<T, true>* c_;
  channels_internal::LocalSlotWait<T> wait_;
};

// LocalMpscSender<T>: bounded sending half (copy = another producer).
template <class T>
class LocalMpscSender : public channels_internal::LocalTxBase<T, true> {
  using Base = channels_internal::LocalTxBase<T, true>;
  using Chan = channels_internal::LocalChan<T, true>;

 public:
  LocalMpscSendFuture<T> send(T v) noexcept(std::is_nothrow_move_constructible_v<T>) {
    return LocalMpscSendFuture<T>(this->c_, std::move(v));
  }
  Result<void, TrySendError<T>> try_send(T v) noexcept {
    switch (this->c_->try_acquire()) {
      case Chan::Try::kOk:
        this->c_->push(std::move(v));
        return Result<void, TrySendError<T>>();
      case Chan::Try::kClosed:
        return Err{TrySendError<T>::closed(std::move(v))};
      case Chan::Try::kFull:
        break;
    }
    return Err{TrySendError<T>::full(std::move(v))};
  }
  LocalMpscReserveFuture<T> reserve() noexcept { return LocalMpscReserveFuture<T>(this->c_); }
  // A permit now, or TrySendError<Unit> kFull / kClosed.
  Result<LocalMpscPermit<T>, TrySendError<Unit>> try_reserve() noexcept {
    switch (this->c_->try_acquire()) {
      case Chan::Try::kOk:
        return LocalMpscPermit<T>(this->c_);
      case Chan::Try::kClosed:
        return Err{TrySendError<Unit>::closed(Unit{})};
      case Chan::Try::kFull:
        break;
    }
    return Err{TrySendError<Unit>::full(Unit{})};
  }
  std::size_t capacity() const noexcept { return this->c_->available(); }
  std::size_t max_capacity() const noexcept { return this->c_->capacity(); }

 private:
  template <class U>
  friend std::pair<LocalMpscSender<U>, LocalMpscReceiver<U>> local_mpsc(std::size_t capacity);
  explicit LocalMpscSender(Chan* c) noexcept : Base(c) {}
};

template <class T>
class LocalMpscReceiver : public channels_internal::LocalRxBase<T, true> {
  using Base = channels_internal::LocalRxBase<T, true>;

 public:
  std::size_t max_capacity() const noexcept { return this->c_->capacity(); }
  std::size_t capacity() const noexcept { return this->c_->available(); }

 private:
  template <class U>
  friend std::pair<LocalMpscSender<U>, LocalMpscReceiver<U>> local_mpsc(std::size_t capacity);
  explicit LocalMpscReceiver(channels_internal::LocalChan<T, true>* c) noexcept : Base(c) {}
};

// local_mpsc<T>(capacity): bounded single-thread channel.
template <class T>
std::pair<LocalMpscSender<T>, LocalMpscReceiver<T>> local_mpsc(std::size_t capacity) {
  WEFT_HARDENING_ASSERT(capacity >= 1, "local_mpsc: capacity must be at least 1");
  auto* c = new channels_internal::LocalChan<T, true>(capacity);
  return {LocalMpscSender<T>(c), LocalMpscReceiver<T>(c)};
}

template <class T>
class LocalUnboundedMpscSender : public channels_internal::LocalTxBase<T, false> {
  using Base = channels_internal::LocalTxBase<T, false>;

 public:
  Result<void, SendError<T>> send(T v) noexcept {
    if (this->c_->rx_closed()) return Err{SendError<T>{std::move(v)}};
    this->c_->push(std::move(v));
    return Result<void, SendError<T>>();
  }

 private:
  template <class U>
  friend std::pair<LocalUnboundedMpscSender<U>, LocalUnboundedMpscReceiver<U>> local_unbounded_mpsc();
  explicit LocalUnboundedMpscSender(channels_internal::LocalChan<T, false>* c) noexcept : Base(c) {}
};

template <class T>
class LocalUnboundedMpscReceiver : public channels_internal::LocalRxBase<T, false> {
  using Base = channels_internal::LocalRxBase<T, false>;

 private:
  template <class U>
  friend std::pair<LocalUnboundedMpscSender<U>, LocalUnboundedMpscReceiver<U>> local_unbounded_mpsc();
  explicit LocalUnboundedMpscReceiver(channels_internal::LocalChan<T, false>* c) noexcept : Base(c) {}
};

// local_unbounded_mpsc<T>(): unbounded single-thread channel.
template <class T>
std::pair<LocalUnboundedMpscSender<T>, LocalUnboundedMpscReceiver<T>> local_unbounded_mpsc() {
  auto* c = new channels_internal::LocalChan<T, false>(0);
  return {LocalUnboundedMpscSender<T>(c), LocalUnboundedMpscReceiver<T>(c)};
}

}  // namespace weft

#endif  // WEFT_CHANNELS_LOCAL_MPSC_H_
