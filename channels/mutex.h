// -----------------------------------------------------------------------------
// File: channels/mutex.h
// -----------------------------------------------------------------------------
//
// `Mutex<T>`: an async mutual-exclusion lock that owns the value it guards.
// `co_await m.lock()` yields a `MutexGuard<T>`; the lock is released when the
// guard is destroyed. Fair: a released lock is handed to the first waiter
// (FIFO), never barged by a later `lock()`/`try_lock()`.
// Rust: `tokio::sync::Mutex` (built, like it, on the batch semaphore:
// `channels_internal::BatchSemaphore` with one permit).
//
//   weft::Mutex<int> m(0);
//   { auto g = co_await m.lock(); *g += 1; }        // MutexGuard<int>
//   auto t = m.try_lock();                          // Result<MutexGuard<int>, TryLockError>
//   auto o = co_await Mutex<int>::lock_owned(sp);   // OwnedMutexGuard: keeps *sp alive
//   auto g2 = m.blocking_lock();                    // threads only, never in a task
//   auto field = std::move(g2).map([](int& v) -> int& { return v; });  // MappedMutexGuard
//
// Costs: no allocation (the waiter node lives inside the lock future).
// sizeof(Mutex<T>) = the semaphore (an atomic word, a std::mutex, a list
// head: 72 bytes on x86-64 glibc) + sizeof(T). Uncontended lock and unlock
// are one compare-exchange each on the semaphore word (acquire on lock,
// release on unlock: what a holder wrote is visible to the next one); a
// contended lock or an unlock with waiters takes the semaphore's std::mutex.
// The lock future builds its waiter node only when it has to wait
// (`LockAcquire`, channels/semaphore.h), so the uncontended path is about the
// cost of a std::mutex lock/unlock (channels/sync_benchmark.cc).
// Contract: thread-safe; guards may be dropped on any thread. A `Mutex` is
// not movable. Destroying it while locked or with waiters is a contract
// violation (debug asserts). `get_mut()` and `into_inner()` need exclusive
// access (no guard, no lock future alive, no concurrent call): the caller's
// promise, checked in debug builds only where it is visible (not locked).
// Not re-entrant: a task that locks twice deadlocks itself, as in tokio.
// `try_lock` returns `Result<MutexGuard<T>, TryLockError>` (TryLockError
// carries nothing: the lock is held, or was promised to a queued waiter).
// `blocking_lock()` parks the calling thread (`block_on`): never call it
// inside a task or on an executor's worker thread — it stalls the executor,
// and deadlocks it if the holder runs there.
// Cancellation: `lock()` is cancel-safe (declared). Dropping it while queued
// unlinks it; dropping it after the lock was handed to it but before it
// was polled passes the lock to the next waiter (or unlocks). No waker is
// left behind, and no other waiter loses its place.
//
// Example:
//
//   weft::Mutex<int> m(1);
//   auto held = m.try_lock();
//   ASSERT_TRUE(held.is_ok());
//   **held += 1;
//   EXPECT_TRUE(m.try_lock().is_err());      // locked
//   held = weft::Err{weft::TryLockError{}};  // drops the guard: unlocked
//   EXPECT_EQ(*m.try_lock().value(), 2);
//
#ifndef WEFT_CHANNELS_MUTEX_H_
#define WEFT_CHANNELS_MUTEX_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/semaphore.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// TryLockError: `try_lock` (and RwLock's `try_read`/`try_write`) found the
// lock held, or promised to a queued waiter. Rust: `tokio::sync::TryLockError`.
struct TryLockError {
  friend constexpr bool operator==(const TryLockError&, const TryLockError&) = default;
};

template <class T>
class Mutex;

// MappedMutexGuard<U>
//
// A guard for a part `U` of a locked value (from `MutexGuard::map`). Unlocks
// the whole mutex when destroyed. Must not outlive the mutex.
template <class U>
class [[nodiscard]] MappedMutexGuard {
 public:
  MappedMutexGuard(MappedMutexGuard&& o) noexcept
      : sem_(std::exchange(o.sem_, nullptr)), value_(std::exchange(o.value_, nullptr)) {}
  MappedMutexGuard& operator=(MappedMutexGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      sem_ = std::exchange(o.sem_, nullptr);
      value_ = std::exchange(o.value_, nullptr);
    }
    return *this;
  }
  ~MappedMutexGuard() { unlock(); }

  U& operator*() const noexcept { return *value_; }
  U* operator->() const noexcept { return value_; }

  // Maps again, to a part of `U`.
  template <class F>
  auto map(F&& f) && -> MappedMutexGuard<std::remove_reference_t<std::invoke_result_t<F, U&>>> {
    static_assert(std::is_lvalue_reference_v<std::invoke_result_t<F, U&>>,
                  "MappedMutexGuard::map: the function must return a reference into the value");
    auto& part = std::invoke(std::forward<F>(f), *value_);
    value_ = nullptr;
    return MappedMutexGuard<std::remove_reference_t<decltype(part)>>(std::exchange(sem_, nullptr),
                                                                      &part);
  }

 private:
  template <class>
  friend class MappedMutexGuard;
  template <class>
  friend class MutexGuard;
  MappedMutexGuard(channels_internal::BatchSemaphore* sem, U* value) noexcept : sem_(sem), value_(value) {}
  void unlock() noexcept {
    if (sem_ != nullptr) std::exchange(sem_, nullptr)->release(1);
  }

  channels_internal::BatchSemaphore* sem_;
  U* value_;
};

// MutexGuard<T>
//
// Exclusive access to a `Mutex<T>`'s value; unlocks when destroyed (a
// moved-from guard holds nothing). Must not outlive the mutex (use
// `lock_owned` for a guard that keeps it alive).
template <class T>
class [[nodiscard]] MutexGuard {
 public:
  MutexGuard(MutexGuard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
  MutexGuard& operator=(MutexGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      m_ = std::exchange(o.m_, nullptr);
    }
    return *this;
  }
  ~MutexGuard() { unlock(); }

  T& operator*() const noexcept {
    WEFT_ASSERT(m_ != nullptr, "MutexGuard used after it was moved from");
    return m_->value_;
  }
  T* operator->() const noexcept { return &**this; }
  // The mutex this guard locks.
  Mutex<T>& mutex() const noexcept { return *m_; }

  // MutexGuard::map()
  //
  // Consumes the guard; returns a guard for the part `f(value)` refers to
  // (`f` must return an lvalue reference). The mutex stays locked until the
  // mapped guard is destroyed. If `f` throws, this guard unlocks as usual.
  template <class F>
  auto map(F&& f) && -> MappedMutexGuard<std::remove_reference_t<std::invoke_result_t<F, T&>>> {
    static_assert(std::is_lvalue_reference_v<std::invoke_result_t<F, T&>>,
                  "MutexGuard::map: the function must return a reference into the value");
    auto& part = std::invoke(std::forward<F>(f), **this);
    return MappedMutexGuard<std::remove_reference_t<decltype(part)>>(&std::exchange(m_, nullptr)->sem_,
                                                                      &part);
  }

 private:
  friend class Mutex<T>;
  explicit MutexGuard(Mutex<T>* m) noexcept : m_(m) {}
  void unlock() noexcept {
    if (m_ != nullptr) std::exchange(m_, nullptr)->sem_.release(1);
  }

  Mutex<T>* m_;
};

// OwnedMutexGuard<T>
//
// Like MutexGuard, but holds a `std::shared_ptr` to the mutex, so it may
// outlive every other reference (Rust: `OwnedMutexGuard<T>` over an `Arc`).
template <class T>
class [[nodiscard]] OwnedMutexGuard {
 public:
  OwnedMutexGuard(OwnedMutexGuard&&) noexcept = default;
  OwnedMutexGuard& operator=(OwnedMutexGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      m_ = std::move(o.m_);
    }
    return *this;
  }
  ~OwnedMutexGuard() { unlock(); }

  T& operator*() const noexcept {
    WEFT_ASSERT(m_ != nullptr, "OwnedMutexGuard used after it was moved from");
    return m_->value_;
  }
  T* operator->() const noexcept { return &**this; }
  const std::shared_ptr<Mutex<T>>& mutex() const noexcept { return m_; }

 private:
  friend class Mutex<T>;
  explicit OwnedMutexGuard(std::shared_ptr<Mutex<T>> m) noexcept : m_(std::move(m)) {}
  void unlock() noexcept {
    if (m_ != nullptr) {
      m_->sem_.release(1);
      m_.reset();
    }
  }

  std::shared_ptr<Mutex<T>> m_;
};

template <class T>
class Mutex {
 public:
  Mutex()
    requires std::is_default_constructible_v<T>
      : sem_(1), value_() {}
  explicit Mutex(T value) : sem_(1), value_(std::move(value)) {}
  template <class... Args>
  explicit Mutex(std::in_place_t, Args&&... args) : sem_(1), value_(std::forward<Args>(args)...) {}
  // Not copyable or movable (waiters point into it).
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;
  ~Mutex() { WEFT_ASSERT(sem_.available() == 1, "Mutex destroyed while locked"); }

  // Mutex::lock()
  //
  // Future of `MutexGuard<T>`: Ready when the lock is this caller's. FIFO
  // among waiters. Cancel-safe. Movable until first polled.
  class [[nodiscard("futures do nothing unless polled")]] LockFuture {
   public:
    using Output = MutexGuard<T>;
    // Cancel-safe: dropping it loses nothing (see the file comment).
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(m_);  // never closed: the only outcome is the lock
    }

   private:
    friend class Mutex;
    explicit LockFuture(Mutex& m) noexcept : m_(&m), acquire_(m.sem_, 1) {}
    Mutex* m_;
    channels_internal::LockAcquire acquire_;
  };

  LockFuture lock() noexcept { return LockFuture(*this); }

  // Mutex::try_lock()
  //
  // The guard now, or `TryLockError` if the lock is held or waiters queue
  // (a queued waiter is never overtaken).
  Result<MutexGuard<T>, TryLockError> try_lock() noexcept {
    if (sem_.try_acquire(1) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return MutexGuard<T>(this);
    }
    return Err{TryLockError{}};
  }

  // Mutex::blocking_lock()
  //
  // Locks from synchronous code, parking the thread until the lock is
  // handed over (`block_on(lock())`). Never call it inside a task or on an
  // executor's worker thread.
  MutexGuard<T> blocking_lock() { return weft::block_on(lock()); }

  // Mutex::lock_owned()
  //
  // Future of `OwnedMutexGuard<T>`; the future and the guard keep `m`
  // alive. Cancel-safe. Movable until first polled.
  class [[nodiscard("futures do nothing unless polled")]] LockOwnedFuture {
   public:
    using Output = OwnedMutexGuard<T>;
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(std::move(m_));
    }

   private:
    friend class Mutex;
    explicit LockOwnedFuture(std::shared_ptr<Mutex> m) noexcept
        : m_(std::move(m)), acquire_(m_->sem_, 1) {}
    // Declared first, destroyed last: a queued `acquire_` unlinks itself from
    // the mutex before this reference can free it.
    std::shared_ptr<Mutex> m_;
    channels_internal::LockAcquire acquire_;
  };

  static LockOwnedFuture lock_owned(std::shared_ptr<Mutex> m) noexcept {
    WEFT_HARDENING_ASSERT(m != nullptr, "Mutex::lock_owned on a null pointer");
    return LockOwnedFuture(std::move(m));
  }
  static Result<OwnedMutexGuard<T>, TryLockError> try_lock_owned(std::shared_ptr<Mutex> m) noexcept {
    WEFT_HARDENING_ASSERT(m != nullptr, "Mutex::try_lock_owned on a null pointer");
    if (m->sem_.try_acquire(1) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return OwnedMutexGuard<T>(std::move(m));
    }
    return Err{TryLockError{}};
  }
  static OwnedMutexGuard<T> blocking_lock_owned(std::shared_ptr<Mutex> m) {
    return weft::block_on(lock_owned(std::move(m)));
  }

  // Mutex::get_mut()
  //
  // The value, without locking: the caller promises exclusive access (no
  // guard or lock future alive, nobody else calling). Rust: `&mut self`.
  T& get_mut() noexcept {
    WEFT_ASSERT(sem_.available() == 1, "Mutex::get_mut while locked");
    return value_;
  }

  // Mutex::into_inner()
  //
  // Moves the value out (exclusive access, as for get_mut). The mutex keeps
  // a moved-from T.
  T into_inner() && {
    WEFT_ASSERT(sem_.available() == 1, "Mutex::into_inner while locked");
    return std::move(value_);
  }

 private:
  friend class MutexGuard<T>;
  friend class OwnedMutexGuard<T>;

  channels_internal::BatchSemaphore sem_;
  T value_;
};

}  // namespace weft

#endif  // WEFT_CHANNELS_MUTEX_H_
