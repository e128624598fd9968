// -----------------------------------------------------------------------------
// File: channels/static_mutex.h
// -----------------------------------------------------------------------------
//
// `StaticMutex<T, Policy>`: an async mutex around a `T`, with no heap, for
// bare metal as much as for threads. `co_await m.lock()` yields a
// `StaticMutexGuard` that gives access to the `T` and unlocks when
// destroyed; a task waiting for the lock sleeps instead of spinning, and may
// hold the guard across its own awaits. Rust: embassy-sync's
// `Mutex<M: RawMutex, T>` (with FIFO handoff, like tokio's `Mutex`).
//
//   constinit StaticMutex<Config, CriticalSectionPolicy> config;
//   { auto g = co_await config.lock(); g->baud = 115200; }   // unlocks here
//   if (auto g = config.try_lock()) use(**g);                 // or not at all
//
// Fairness: waiters queue FIFO in intrusive nodes inside their futures.
// Unlocking hands the lock straight to the first waiter (the mutex stays
// locked; nobody can barge in between), so `try_lock` and newly polled
// `lock()` futures fail/wait while anyone waits. A waiter dropped after it
// was handed the lock hands it on to the next (or unlocks).
//
// Costs: no allocation. sizeof: sizeof(T) + 3 words + a flag + the lock;
// a waiting future holds a `StaticWaiter` (24 bytes on Cortex-M). `lock`,
// `try_lock` and unlocking take `Policy::RawLock` once (twice when a waker
// must be cloned) for a few instructions; no user code and no waker call
// runs under it.
// Contract: any member may be called from any thread (AtomicPolicy) or
// interrupt handler of one core (CriticalSectionPolicy: then use `try_lock`
// only in handlers; on hosted builds single-threaded only). The mutex must
// outlive its futures and guards, and cannot move. Not reentrant: locking
// again while holding the guard waits for ever (`try_lock` fails).
// Memory ordering: the lock state is under `Policy::RawLock` (acquire on
// lock, release on unlock), and the handoff happens under it, so what one
// holder wrote to the `T` is visible to the next holder.
// Cancellation: `lock()` is cancel-safe (kCancelSafe): dropping it unlinks
// it, or, if the lock had been handed to it, passes the lock on; nothing is
// lost and no waker is left behind.
//
// Example (two tasks append to a shared log):
//
//   constinit weft::StaticMutex<Log, weft::CriticalSectionPolicy> log;
//   Job writer(int id) {
//     auto g = co_await log.lock();
//     g->append(id);
//     co_await weft::yield_now();  // others run; `log` stays locked
//     g->append(id);
//     co_return 0;
//   }
//
#ifndef WEFT_CHANNELS_STATIC_MUTEX_H_
#define WEFT_CHANNELS_STATIC_MUTEX_H_

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

template <class T, class Policy = DefaultLockPolicy>
class StaticMutex;

// StaticMutexGuard<T, Policy>
//
// Access to a locked `StaticMutex`'s value; unlocks (handing the lock to the
// first waiter) when destroyed. Movable, not copyable.
template <class T, class Policy = DefaultLockPolicy>
class [[nodiscard("the mutex unlocks when the guard is destroyed")]] StaticMutexGuard {
 public:
  StaticMutexGuard(StaticMutexGuard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  StaticMutexGuard& operator=(StaticMutexGuard&& o) noexcept {
    if (this != &o) {
      if (m_ != nullptr) m_->unlock();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~StaticMutexGuard() {
    if (m_ != nullptr) m_->unlock();
  }

  T& operator*() const noexcept { return m_->value_; }
  T* operator->() const noexcept { return &m_->value_; }
  T& get() const noexcept { return m_->value_; }

 private:
  friend class StaticMutex<T, Policy>;
  explicit StaticMutexGuard(StaticMutex<T, Policy>* m) noexcept : m_(m) {}

  StaticMutex<T, Policy>* m_;
};

// StaticMutex<T, Policy>
//
// See the header comment. Not copyable or movable.
template <class T, class Policy>
class StaticMutex {
  using Lock = typename Policy::RawLock;
  using RawGuard = RawLockGuard<Lock>;
  using Waiter = channels_internal::StaticWaiter;

 public:
  using Guard = StaticMutexGuard<T, Policy>;
  class LockFuture;

  // A value-initialised T.
  constexpr StaticMutex() noexcept(std::is_nothrow_default_constructible_v<T>)
    requires std::is_default_constructible_v<T>
      : value_() {}
  // T(args...).
  template <class... A>
    requires std::is_constructible_v<T, A&&...>
  constexpr explicit StaticMutex(std::in_place_t, A&&... args) noexcept(
      std::is_nothrow_constructible_v<T, A&&...>)
      : value_(std::forward<A>(args)...) {}
  constexpr explicit StaticMutex(T v) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value_(std::move(v)) {}
  StaticMutex(const StaticMutex&) = delete;
  StaticMutex& operator=(const StaticMutex&) = delete;
  ~StaticMutex() { WEFT_ASSERT(!locked_, "StaticMutex destroyed while locked (a guard outlives it)"); }

  // StaticMutex::lock()
  //
  // A future of the guard: Ready at once if the mutex is free and nobody
  // waits, else when the lock is handed to it (FIFO). Cancel-safe.
  LockFuture lock() noexcept { return LockFuture(this); }

  // StaticMutex::try_lock()
  //
  // The guard if the mutex is free (and nobody waits), else nullopt.
  std::optional<Guard> try_lock() noexcept {
    {
      RawGuard g(lock_);
      if (locked_) return std::nullopt;
      locked_ = true;
    }
    return Guard(this);
  }

  // Whether some guard holds the lock, or a waiter was handed it (a snapshot).
  bool is_locked() const noexcept {
    RawGuard g(lock_);
    return locked_;
  }

  // LockFuture
  //
  // The future of `lock()`. Output: the guard. Cancel-safe. Movable only
  // before its first poll.
  class [[nodiscard("futures do nothing unless polled")]] LockFuture {
   public:
    using Output = Guard;
    // Nothing is taken until the poll that returns the guard; a lock handed
    // to a dropped future is handed on.
    static constexpr bool kCancelSafe = true;

    LockFuture(LockFuture&& o) noexcept : m_(std::exchange(o.m_, nullptr)), waiting_(o.waiting_) {
      WEFT_ASSERT(!waiting_, "StaticMutex::lock future moved after it was polled");
    }
    LockFuture& operator=(LockFuture&&) = delete;
    ~LockFuture() {
      if (!waiting_) return;
      Waker wake;
      {
        RawGuard g(m_->lock_);
        if (node_.linked()) {
          m_->waiters_.remove(&node_);
        } else if (node_.notified) {  // handed the lock, never took it: pass it on
          node_.notified = false;
          wake = m_->hand_off();
        }
      }
      channels_internal::wake_unless_noop(wake);
    }

    Poll<Guard> poll(Context& cx) noexcept {
      WEFT_ASSERT(!done_, "StaticMutex::lock future polled after it completed");
      std::optional<Waker> fresh;  // a clone of cx.waker(), made outside the lock
      for (;;) {
        Waker old;
        Outcome what;
        {
          RawGuard g(m_->lock_);
          if (node_.notified) {  // the lock was handed to us
            node_.notified = false;
            what = Outcome::kDone;
          } else if (!node_.linked() && !m_->locked_) {
            if (channels_internal::take_budget(cx)) {
              m_->locked_ = true;
              what = Outcome::kDone;
            } else {
              what = Outcome::kYield;
            }
          } else if (channels_internal::install_waker(node_, cx.waker(), fresh, old)) {
            if (!node_.linked()) m_->waiters_.push_back(&node_);
            what = Outcome::kPending;
          } else {
            what = Outcome::kClone;
          }
        }
        switch (what) {
          case Outcome::kDone:
            waiting_ = false;
            done_ = true;
            return Guard(m_);
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
    friend class StaticMutex;
    explicit LockFuture(StaticMutex* m) noexcept : m_(m) {}

    StaticMutex* m_;
    Waiter node_;           // guarded by m_->lock_
    bool waiting_ = false;  // this future's own: node_ may be linked or notified
    bool done_ = false;
  };

 private:
  friend class StaticMutexGuard<T, Policy>;
  enum class Outcome : unsigned char { kDone, kYield, kPending, kClone };

  // Under lock_, the mutex locked: hands the lock to the first waiter (its
  // waker is returned, to wake after unlocking), or unlocks.
  Waker hand_off() noexcept {
    if (waiters_.empty()) {
      locked_ = false;
      return Waker();
    }
    return channels_internal::notify_first(waiters_);
  }

  void unlock() noexcept {
    Waker wake;
    {
      RawGuard g(lock_);
      WEFT_ASSERT(locked_, "StaticMutex unlocked while not locked");
      wake = hand_off();
    }
    channels_internal::wake_unless_noop(wake);
  }

  mutable Lock lock_;
  bool locked_ = false;                          // under lock_: a guard or a handoff holds it
  channels_internal::StaticWaiterList waiters_;  // under lock_: FIFO, none notified
  T value_;                                      // the holder's
};

}  // namespace weft

#endif  // WEFT_CHANNELS_STATIC_MUTEX_H_
