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
//   auto sp = std::make_shared<weft::RwLock<int>>(0);
//   auto o = co_await weft::RwLock<int>::read_owned(sp);   // OwnedRwLockReadGuard: keeps *sp alive
//   auto ow = co_await weft::RwLock<int>::write_owned(sp); // OwnedRwLockWriteGuard
//   (also try_read_owned / try_write_owned / blocking_read_owned /
//   blocking_write_owned; `std::move(ow).downgrade()` -> owned read guard)
//
// Costs: no allocation (waiter nodes live in the futures). sizeof = the
// semaphore (72 bytes on x86-64 glibc) + 4 + sizeof(T). Uncontended read,
// write and their unlocks are one compare-exchange each on the semaphore
// word (acquire on lock, release on unlock: a writer's changes are visible
// to every later reader and writer); the waiter node is built only when a
// future has to wait, and waiting takes the semaphore's mutex. The owned
// futures and guards (`read_owned`/`write_owned`, Rust's over an `Arc`)
// hold a `std::shared_ptr` copy: one more atomic increment and decrement
// (the caller's allocation; none of ours).
// Contract: thread-safe; guards may be dropped on any thread. Not movable.
// At most `max_readers` read guards at once (default `kMaxReaders`, 2^29-1;
// a read beyond that waits like one behind a writer). Destroying the lock
// while held or with waiters is a contract violation (debug asserts).
// `get_mut()`/`into_inner()` need exclusive access (the caller's promise).
// Owned guards keep the RwLock alive (they may outlive every other
// `shared_ptr` to it); the `shared_ptr` passed in must not be null
// (hardening assert).
// `blocking_read()`/`blocking_write()` park the thread (`block_on`): never
// call them inside a task or on an executor's worker thread. A task that
// holds a read guard and asks to write deadlocks itself (as in tokio).
// Cancellation: `read()`, `write()`, `read_owned()` and `write_owned()` are
// cancel-safe (declared). A queued
// `write()` holds the permits handed to it so far; dropping it gives them
// to the next waiters (readers queued behind it proceed). A waiter dropped
// after it was handed the lock, before its poll, passes the lock on.
// `read_owned()`/`write_owned()` behave the same (same queue, same
// fairness); their `shared_ptr` is released only after the waiter left the
// queue, so a dropped owned future may free the lock safely.
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
#include <memory>
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

// OwnedRwLockReadGuard<T>
//
// Like RwLockReadGuard, but holds a `std::shared_ptr` to the lock, so it may
// outlive every other reference (Rust: `OwnedRwLockReadGuard<T>` over an
// `Arc`). A moved-from guard holds nothing.
template <class T>
class [[nodiscard]] OwnedRwLockReadGuard {
 public:
  OwnedRwLockReadGuard(OwnedRwLockReadGuard&&) noexcept = default;
  OwnedRwLockReadGuard& operator=(OwnedRwLockReadGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::move(o.l_);
    }
    return *this;
  }
  ~OwnedRwLockReadGuard() { unlock(); }

  const T& operator*() const noexcept {
    WEFT_ASSERT(l_ != nullptr, "OwnedRwLockReadGuard used after it was moved from");
    return l_->value_;
  }
  const T* operator->() const noexcept { return &**this; }
  const std::shared_ptr<RwLock<T>>& rwlock() const noexcept { return l_; }

 private:
  friend class RwLock<T>;
  template <class>
  friend class OwnedRwLockWriteGuard;
  explicit OwnedRwLockReadGuard(std::shared_ptr<RwLock<T>> l) noexcept : l_(std::move(l)) {}
  void unlock() noexcept {
    if (l_ != nullptr) {
      l_->sem_.release(1);
      l_.reset();  // after the release: this may free the lock
    }
  }

  std::shared_ptr<RwLock<T>> l_;
};

// OwnedRwLockWriteGuard<T>
//
// Like RwLockWriteGuard, but holds a `std::shared_ptr` to the lock (Rust:
// `OwnedRwLockWriteGuard<T>`). A moved-from guard holds nothing.
template <class T>
class [[nodiscard]] OwnedRwLockWriteGuard {
 public:
  OwnedRwLockWriteGuard(OwnedRwLockWriteGuard&&) noexcept = default;
  OwnedRwLockWriteGuard& operator=(OwnedRwLockWriteGuard&& o) noexcept {
    if (this != &o) {
      unlock();
      l_ = std::move(o.l_);
    }
    return *this;
  }
  ~OwnedRwLockWriteGuard() { unlock(); }

  T& operator*() const noexcept {
    WEFT_ASSERT(l_ != nullptr, "OwnedRwLockWriteGuard used after it was moved from");
    return l_->value_;
  }
  T* operator->() const noexcept { return &**this; }
  const std::shared_ptr<RwLock<T>>& rwlock() const noexcept { return l_; }

  // OwnedRwLockWriteGuard::downgrade()
  //
  // As RwLockWriteGuard::downgrade: an owned read guard, no writer in
  // between.
  OwnedRwLockReadGuard<T> downgrade() && {
    WEFT_ASSERT(l_ != nullptr, "OwnedRwLockWriteGuard::downgrade after it was moved from");
    std::shared_ptr<RwLock<T>> l = std::move(l_);
    l->sem_.release(l->max_readers_ - 1);
    return OwnedRwLockReadGuard<T>(std::move(l));
  }

 private:
  friend class RwLock<T>;
  explicit OwnedRwLockWriteGuard(std::shared_ptr<RwLock<T>> l) noexcept : l_(std::move(l)) {}
  void unlock() noexcept {
    if (l_ != nullptr) {
      l_->sem_.release(l_->max_readers_);
      l_.reset();  // after the release: this may free the lock
    }
  }

  std::shared_ptr<RwLock<T>> l_;
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

  // RwLock::read_owned() / RwLock::write_owned()
  //
  // Futures of `OwnedRwLockReadGuard<T>` / `OwnedRwLockWriteGuard<T>`; the
  // future and the guard keep `l` alive. Same queue and fairness as
  // `read()`/`write()`. Cancel-safe. Movable until first polled.
  class [[nodiscard("futures do nothing unless polled")]] ReadOwnedFuture {
   public:
    using Output = OwnedRwLockReadGuard<T>;
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(std::move(l_));
    }

   private:
    friend class RwLock;
    explicit ReadOwnedFuture(std::shared_ptr<RwLock> l) noexcept : l_(std::move(l)), acquire_(l_->sem_, 1) {}
    // Declared first, destroyed last: a queued `acquire_` unlinks itself (and
    // passes on what it was handed) before this reference can free the lock.
    std::shared_ptr<RwLock> l_;
    channels_internal::LockAcquire acquire_;
  };

  class [[nodiscard("futures do nothing unless polled")]] WriteOwnedFuture {
   public:
    using Output = OwnedRwLockWriteGuard<T>;
    static constexpr bool kCancelSafe = true;

    Poll<Output> poll(Context& cx) {
      if (acquire_.poll(cx).is_pending()) return Pending{};
      return Output(std::move(l_));
    }

   private:
    friend class RwLock;
    explicit WriteOwnedFuture(std::shared_ptr<RwLock> l) noexcept
        : l_(std::move(l)), acquire_(l_->sem_, l_->max_readers_) {}
    std::shared_ptr<RwLock> l_;  // destroyed after acquire_ (see ReadOwnedFuture)
    channels_internal::LockAcquire acquire_;
  };

  static ReadOwnedFuture read_owned(std::shared_ptr<RwLock> l) noexcept {
    WEFT_HARDENING_ASSERT(l != nullptr, "RwLock::read_owned on a null pointer");
    return ReadOwnedFuture(std::move(l));
  }
  static WriteOwnedFuture write_owned(std::shared_ptr<RwLock> l) noexcept {
    WEFT_HARDENING_ASSERT(l != nullptr, "RwLock::write_owned on a null pointer");
    return WriteOwnedFuture(std::move(l));
  }
  static Result<OwnedRwLockReadGuard<T>, TryLockError> try_read_owned(std::shared_ptr<RwLock> l) noexcept {
    WEFT_HARDENING_ASSERT(l != nullptr, "RwLock::try_read_owned on a null pointer");
    if (l->sem_.try_acquire(1) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return OwnedRwLockReadGuard<T>(std::move(l));
    }
    return Err{TryLockError{}};
  }
  static Result<OwnedRwLockWriteGuard<T>, TryLockError> try_write_owned(std::shared_ptr<RwLock> l) noexcept {
    WEFT_HARDENING_ASSERT(l != nullptr, "RwLock::try_write_owned on a null pointer");
    if (l->sem_.try_acquire(l->max_readers_) == channels_internal::BatchSemaphore::TryResult::kOk) {
      return OwnedRwLockWriteGuard<T>(std::move(l));
    }
    return Err{TryLockError{}};
  }
  // Park the calling thread (`block_on`); never inside a task.
  static OwnedRwLockReadGuard<T> blocking_read_owned(std::shared_ptr<RwLock> l) {
    return weft::block_on(read_owned(std::move(l)));
  }
  static OwnedRwLockWriteGuard<T> blocking_write_owned(std::shared_ptr<RwLock> l) {
    return weft::block_on(write_owned(std::move(l)));
  }

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
  friend class OwnedRwLockReadGuard<T>;
  friend class OwnedRwLockWriteGuard<T>;
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
