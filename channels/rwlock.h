// -----------------------------------------------------------------------------
// File: channels/rwlock.h
// -----------------------------------------------------------------------------
//
// `RwLock<T>`: an async reader-writer lock that owns its value: many
// readers, or one writer. Fair (FIFO): a queued writer blocks readers that
// come after it, so writers are not starved (writer-preferring by arrival
// order), and a writer queued behind readers waits for them.
// Rust: `tokio::sync::RwLock` (built, like it, on the batch semaphore: a
// read takes 1 permit, a write all `max_readers` of them).
//
//   weft::RwLock<Config> cfg(load());
//   { auto r = co_await cfg.read(); use(r->port); }    // RwLockReadGuard: const T&
//   { auto w = co_await cfg.write(); w->port = 81; }   // RwLockWriteGuard: T&
//   auto r = std::move(w).downgrade();                 // write -> read, no gap
//   cfg.try_read(); cfg.try_write();                   // Result<Guard, TryLockError>
//   auto l = weft::RwLock<int>::with_max_readers(0, 8);
//
// Costs: no allocation (waiter nodes live in the futures). sizeof = the
// semaphore (72 bytes on x86-64 glibc) + 4 + sizeof(T). Uncontended read,
// write and their unlocks are one compare-exchange each on the semaphore
// word (acquire on lock, release on unlock: a writer's changes are visible
// to every later reader and writer); the waiter node is built only when a
// future has to wait, and waiting takes the semaphore's mutex.
// Contract: thread-safe; guards may be dropped on any thread. Not movable.
// At most `max_readers` read guards at once (default `kMaxReaders`, 2^29-1;
// a read beyond that waits like one behind a writer). Destroying the lock
// while held or with waiters is a contract violation (debug asserts).
// `get_mut()`/`into_inner()` need exclusive access (the caller's promise).
// `blocking_read()`/`blocking_write()` park the thread (`block_on`): never
// call them inside a task or on an executor's worker thread. A task that
// holds a read guard and asks to write deadlocks itself (as in tokio).
// Cancellation: `read()` and `write()` are cancel-safe (declared). A queued
// `write()` holds the permits handed to it so far; dropping it gives them
// to the next waiters (readers queued behind it proceed). A waiter dropped
// after it was handed the lock, before its poll, passes the lock on.
//
// Example:
//
//   weft::RwLock<int> l(1);
//   auto r1 = l.try_read();
//   auto r2 = l.try_read();
//   EXPECT_TRUE(r1.is_ok() && r2.is_ok());
//   EXPECT_EQ(**r1 + **r2, 2);
//   EXPECT_TRUE(l.try_write().is_err());   // readers hold it
//
#ifndef WEFT_CHANNELS_RWLOCK_H_
#define WEFT_CHANNELS_RWLOCK_H_

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/mutex.h"
#include "channels/semaphore.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

template <class T>
class RwLock;

// RwLockReadGuard<T>
//
// Shared (const) access; releases its read permit when destroyed. Must not
// outlive the lock. A moved-from guard holds nothing.
template <class T>
class [[nodiscard]] RwLockReadGuard {
 public:
  RwLockReadGuard(RwLockReadGuard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  RwLockReadGuard& operator=(RwLockReadGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::exchange(o.l_, nullptr);
    }
    return *this;
  }
  ~RwLockReadGuard() { unlock(); }

  const T& operator*() const noexcept {
    WEFT_ASSERT(l_ != nullptr, "RwLockReadGuard used after it was moved from");
    return l_->value_;
  }
  const T* operator->() const noexcept { return &**this; }

 private:
  friend class RwLock<T>;
  template <class>
  friend class RwLockWriteGuard;
  explicit RwLockReadGuard(RwLock<T>* l) noexcept : l_(l) {}
  void unlock() noexcept {
    if (l_ != nullptr) std::exchange(l_, nullptr)->sem_.release(1);
  }

  RwLock<T>* l_;
};

// RwLockWriteGuard<T>
//
// Exclusive access; releases every permit when destroyed. Must not outlive
// the lock. A moved-from guard holds nothing.
template <class T>
class [[nodiscard]] RwLockWriteGuard {
 public:
  RwLockWriteGuard(RwLockWriteGuard&& o) noexcept : l_(std::exchange(o.l_, nullptr)) {}
  RwLockWriteGuard& operator=(RwLockWriteGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::exchange(o.l_, nullptr);
    }
    return *this;
  }
  ~RwLockWriteGuard() { unlock(); }

  T& operator*() const noexcept {
    WEFT_ASSERT(l_ != nullptr, "RwLockWriteGuard used after it was moved from");
    return l_->value_;
  }
  T* operator->() const noexcept { return &**this; }

  // RwLockWriteGuard::downgrade()
  //
  // Consumes the write guard and returns a read guard, atomically: no writer
  // can get in between. Keeps one permit and releases the rest, which go to
  // the queued waiters in FIFO order (readers at the head of the queue are
  // woken; a writer at the head still waits for this reader).
  RwLockReadGuard<T> downgrade() && {
    WEFT_ASSERT(l_ != nullptr, "RwLockWriteGuard::downgrade after it was moved from");
    RwLock<T>* l = std::exchange(l_, nullptr);
    l->sem_.release(l->max_readers_ - 1);
    return RwLockReadGuard<T>(l);
  }

 private:
  friend class RwLock<T>;
  explicit RwLockWriteGuard(RwLock<T>* l) noexcept : l_(l) {}
  void unlock() noexcept {
    if (l_ != nullptr) {
      RwLock<T>* l = std::exchange(l_, nullptr);
      l->sem_.release(l->max_readers_);
    }
  }

  RwLock<T>* l_;
};

template <class T>
class RwLock {
 public:
  // Rust: tokio's MAX_READS (u32::MAX >> 3).
  static constexpr std::uint32_t kMaxReaders = UINT32_MAX >> 3;

  RwLock()
    requires std::is_default_constructible_v<T>
      : max_readers_(kMaxReaders), sem_(kMaxReaders), value_() {}
  explicit RwLock(T value) : max_readers_(kMaxReaders), sem_(kMaxReaders), value_(std::move(value)) {}
  template <class... Args>
  explicit RwLock(std::in_place_t, Args&&... args)
      : max_readers_(kMaxReaders), sem_(kMaxReaders), value_(std::forward<Args>(args)...) {}
  // At most `max_readers` (1 ... kMaxReaders) read guards at once.
  static RwLock with_max_readers(T value, std::uint32_t max_readers) {
    return RwLock(MaxTag{}, max_readers, std::move(value));
  }
  // Not copyable or movable (waiters point into it).
  RwLock(const RwLock&) = delete;
  RwLock& operator=(const RwLock&) = delete;
  ~RwLock() { WEFT_ASSERT(sem_.available() == max_readers_, "RwLock destroyed while locked"); }

  std::uint32_t max_readers() const noexcept { return max_readers_; }

  // RwLock::read()
  //
  // Future of `RwLockReadGuard<T>`. Waits while a writer holds the lock or
  // is queued ahead. Cancel-safe. Movable until first polled.
  class [[nodiscard("futures do nothing unless polled")]] ReadFuture {
   public:
    using Output = RwLockReadGuard<T>;
    // Cancel-safe: dropping it loses nothing (see the file comment).
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(l_);
    }

   private:
    friend class RwLock;
    explicit ReadFuture(RwLock& l) noexcept : l_(&l), acquire_(l.sem_, 1) {}
    RwLock* l_;
    channels_internal::LockAcquire acquire_;
  };

  // RwLock::write()
  //
  // Future of `RwLockWriteGuard<T>`. Waits for every reader and writer ahead
  // of it; readers arriving later wait for it. Cancel-safe. Movable until
  // first polled.
  class [[nodiscard("futures do nothing unless polled")]] WriteFuture {
   public:
    using Output = RwLockWriteGuard<T>;
    // Cancel-safe: the permits it collected go to the next waiters.
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(l_);
    }

   private:
    friend class RwLock;
    explicit WriteFuture(RwLock& l) noexcept : l_(&l), acquire_(l.sem_, l.max_readers_) {}
    RwLock* l_;
    channels_internal::LockAcquire acquire_;
  };

  ReadFuture read() noexcept { return ReadFuture(*this); }
  WriteFuture write() noexcept { return WriteFuture(*this); }

  // A read guard now, or TryLockError (a writer holds the lock or waits, or
  // max_readers are reading).
  Result<RwLockReadGuard<T>, TryLockError> try_read() noexcept {
    if (sem_.try_acquire(1) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return RwLockReadGuard<T>(this);
    }
    return Err{TryLockError{}};
  }
  // The write guard now, or TryLockError (anyone holds the lock or waits).
  Result<RwLockWriteGuard<T>, TryLockError> try_write() noexcept {
    if (sem_.try_acquire(max_readers_) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return RwLockWriteGuard<T>(this);
    }
    return Err{TryLockError{}};
  }

  // Park the calling thread until the guard is had (`block_on`). Never call
  // them inside a task or on an executor's worker thread.
  RwLockReadGuard<T> blocking_read() { return weft::block_on(read()); }
  RwLockWriteGuard<T> blocking_write() { return weft::block_on(write()); }

  // The value without locking: the caller promises exclusive access (no
  // guard or lock future alive, nobody else calling). Rust: `&mut self`.
  T& get_mut() noexcept {
    WEFT_ASSERT(sem_.available() == max_readers_, "RwLock::get_mut while locked");
    return value_;
  }
  // Moves the value out (exclusive access, as for get_mut).
  T into_inner() && {
    WEFT_ASSERT(sem_.available() == max_readers_, "RwLock::into_inner while locked");
    return std::move(value_);
  }

 private:
  friend class RwLockReadGuard<T>;
  friend class RwLockWriteGuard<T>;
  struct MaxTag {};
  RwLock(MaxTag, std::uint32_t max_readers, T value)
      : max_readers_(max_readers), sem_(max_readers), value_(std::move(value)) {
    WEFT_HARDENING_ASSERT(max_readers >= 1 && max_readers <= kMaxReaders,
                          "RwLock::with_max_readers: max_readers must be in 1 ... kMaxReaders");
  }

  std::uint32_t max_readers_;
  channels_internal::BatchSemaphore sem_;
  T value_;
};

}  // namespace weft

#endif  // WEFT_CHANNELS_RWLOCK_H_
