// -----------------------------------------------------------------------------
// File: channels/static_signal.h
// -----------------------------------------------------------------------------
//
// `StaticSignal<T, Policy>`: a one-slot mailbox where the latest value wins.
// `signal(v)` stores `v` (dropping an unclaimed older value) and wakes a
// waiter; `co_await sig.wait()` takes the value, waiting until there is one.
// No heap; constant-initialisable; `signal` is safe from an interrupt
// handler (CriticalSectionPolicy). Rust: embassy-sync's `Signal<M, T>`.
//
//   constinit StaticSignal<std::uint32_t, CriticalSectionPolicy> irq_status;
//   extern "C" void UART0_Handler() { irq_status.signal(read_status()); }
//   ... std::uint32_t s = co_await irq_status.wait();
//
//   signal(v)     stores v (latest wins) and wakes the first waiter
//   wait()        future of T: takes the value (cancel-safe)
//   try_take()    std::optional<T>: takes the value if there is one
//   signaled()    whether a value is stored;  reset(): drops it
//
// Waiters: any number may wait at once (unlike embassy, where a second
// waiter evicts the first). They queue FIFO in intrusive nodes inside their
// futures; each stored value is taken by exactly one of them. `signal` wakes
// only the first waiter; if another poll (a newer waiter, `try_take`) takes
// the value before that waiter runs, the waiter goes back to the front of
// the queue. Use `Unit` as T for a plain event.
//
// Costs: no allocation. sizeof: sizeof(std::optional<T>) + 3 words + a flag
// + the lock. Every operation takes `Policy::RawLock` once (twice when a
// waker must be cloned) for a few instructions; T's move constructor and
// destructor may run under it (keep them small). No waker is cloned, woken
// or dropped under the lock.
// Contract: T must be nothrow-move-constructible. Any member may be called
// from any thread (AtomicPolicy) or interrupt handler of one core
// (CriticalSectionPolicy; on hosted builds single-threaded only). The signal
// must outlive its futures and cannot move.
// Memory ordering: all state is under the lock (acquire/release), so what the
// signaller wrote before `signal` is visible after the `wait` that returns
// its value.
// Cancellation: `wait()` is cancel-safe (kCancelSafe): the value leaves the
// signal only in the poll that returns it; a waiter dropped after `signal`
// woke it passes the wake-up to the next waiter. No waker is left behind.
//
// Example (an interrupt handler hands the latest reading to a task):
//
//   constinit weft::StaticSignal<int, weft::CriticalSectionPolicy> reading;
//   void on_adc_interrupt(int v) { reading.signal(v); }  // latest wins
//   Job logger() {
//     int last = co_await reading.wait();
//     co_return last;
//   }
//
#ifndef WEFT_CHANNELS_STATIC_SIGNAL_H_
#define WEFT_CHANNELS_STATIC_SIGNAL_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "channels/internal/static_waiter.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

// StaticSignal<T, Policy>
//
// See the header comment. Not copyable or movable (futures point to it).
template <class T, class Policy = DefaultLockPolicy>
class StaticSignal {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "StaticSignal<T>: T must be nothrow-move-constructible (it moves under the lock)");

  using Lock = typename Policy::RawLock;
  using Guard = RawLockGuard<Lock>;
  using Waiter = channels_internal::StaticWaiter;

 public:
  class WaitFuture;

  constexpr StaticSignal() noexcept = default;
  StaticSignal(const StaticSignal&) = delete;
  StaticSignal& operator=(const StaticSignal&) = delete;
  ~StaticSignal() = default;

  // StaticSignal::signal(v)
  //
  // Stores `v`, replacing (and destroying) a value nobody took, and wakes the
  // first waiter unless one was woken already and has not run yet.
  void signal(T v) noexcept {
    std::optional<T> old;  // destroyed after unlocking
    Waker wake;
    {
      Guard g(lock_);
      move_out(value_, old);
      value_.emplace(std::move(v));
      if (!notify_outstanding_ && !waiters_.empty()) {
        notify_outstanding_ = true;
        wake = channels_internal::notify_first(waiters_);
      }
    }
    channels_internal::wake_unless_noop(wake);
  }

  // StaticSignal::try_take()
  //
  // The stored value, removed; nullopt if there is none.
  std::optional<T> try_take() noexcept {
    std::optional<T> got;
    Guard g(lock_);
    move_out(value_, got);
    return got;
  }

  // StaticSignal::signaled()
  //
  // Whether a value is stored (a snapshot).
  bool signaled() const noexcept {
    Guard g(lock_);
    return value_.has_value();
  }

  // StaticSignal::reset()
  //
  // Drops the stored value, if any. Waiters keep waiting.
  void reset() noexcept {
    std::optional<T> old;  // destroyed after unlocking
    Guard g(lock_);
    move_out(value_, old);
  }

  // StaticSignal::wait()
  //
  // A future of the next value (takes it). Cancel-safe.
  WaitFuture wait() noexcept { return WaitFuture(this); }

  // WaitFuture
  //
  // The future of `wait()`. Output: T. Movable only before its first poll.
  class [[nodiscard("futures do nothing unless polled")]] WaitFuture {
   public:
    using Output = T;
    // The value leaves the signal only in the poll that returns it.
    static constexpr bool kCancelSafe = true;

    WaitFuture(WaitFuture&& o) noexcept : sig_(std::exchange(o.sig_, nullptr)), waiting_(o.waiting_) {
      WEFT_ASSERT(!waiting_, "StaticSignal::wait future moved after it was polled");
    }
    WaitFuture& operator=(WaitFuture&&) = delete;
    ~WaitFuture() {
      if (!waiting_) return;
      Waker wake;
      {
        Guard g(sig_->lock_);
        if (node_.linked()) {
          sig_->waiters_.remove(&node_);
        } else if (node_.notified) {
          // Woken but gone: the wake-up goes to the next waiter.
          node_.notified = false;
          sig_->notify_outstanding_ = false;
          if (sig_->value_.has_value() && !sig_->waiters_.empty()) {
            sig_->notify_outstanding_ = true;
            wake = channels_internal::notify_first(sig_->waiters_);
          }
        }
      }
      channels_internal::wake_unless_noop(wake);
    }

    Poll<T> poll(Context& cx) noexcept {
      WEFT_ASSERT(!done_, "StaticSignal::wait future polled after it completed");
      std::optional<Waker> fresh;  // a clone of cx.waker(), made outside the lock
      for (;;) {
        std::optional<T> got;
        Waker old;
        Outcome what;
        {
          Guard g(sig_->lock_);
          if (sig_->value_.has_value() && !node_.notified && !channels_internal::take_budget(cx)) {
            what = Outcome::kYield;
          } else if (sig_->value_.has_value()) {
            move_out(sig_->value_, got);
            if (node_.notified) {
              node_.notified = false;
              sig_->notify_outstanding_ = false;
            } else if (node_.linked()) {  // overtook the waiter that was woken
              sig_->waiters_.remove(&node_);
            }
            what = Outcome::kDone;
          } else if (channels_internal::install_waker(node_, cx.waker(), fresh, old)) {
            if (node_.notified) {  // woken, but the value was taken: back to the front
              node_.notified = false;
              sig_->notify_outstanding_ = false;
              sig_->waiters_.push_front(&node_);
            } else if (!node_.linked()) {
              sig_->waiters_.push_back(&node_);
            }
            what = Outcome::kPending;
          } else {
            what = Outcome::kClone;
          }
        }
        switch (what) {
          case Outcome::kDone:
            waiting_ = false;
            done_ = true;
            return Poll<T>(std::move(*got));
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
    friend class StaticSignal;
    explicit WaitFuture(StaticSignal* sig) noexcept : sig_(sig) {}

    StaticSignal* sig_;
    Waiter node_;           // guarded by sig_->lock_
    bool waiting_ = false;  // this future's own: node_ may be linked or notified
    bool done_ = false;
  };

 private:
  enum class Outcome : unsigned char { kDone, kYield, kPending, kClone };

  // Moves the value of `from` (if any) into the empty `to`; `from` is left
  // empty. (optional::swap would need a move-assignable T.)
  static void move_out(std::optional<T>& from, std::optional<T>& to) noexcept {
    if (from.has_value()) {
      to.emplace(std::move(*from));
      from.reset();
    }
  }

  mutable Lock lock_;
  std::optional<T> value_;                 // under lock_
  channels_internal::StaticWaiterList waiters_;  // under lock_: FIFO, none notified
  bool notify_outstanding_ = false;        // under lock_: a waiter was woken, has not run
};

}  // namespace weft

#endif  // WEFT_CHANNELS_STATIC_SIGNAL_H_
