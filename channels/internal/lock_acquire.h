// -----------------------------------------------------------------------------
// File: channels/internal/lock_acquire.h
// -----------------------------------------------------------------------------
//
// `LockAcquire`: the acquire step of Mutex, RwLock and OnceCell. It tries
// the semaphore's lock-free `try_acquire` first and builds a
// `BatchSemaphore::Acquire` (the queued, intrusive, cancel-safe future)
// only when that fails. So the uncontended path neither constructs nor
// destroys a waiter node (a Waker and list links), and moving the lock
// future into a coroutine's awaiter before the first poll is two words.
//
//   LockAcquire acq(sem, n);
//   Poll<bool> p = acq.poll(cx);   // Ready(true): permits are ours;
//                                  // Ready(false): the semaphore is closed
//
// Costs: sizeof(BatchSemaphore::Acquire) + a flag. Fast path: one budget
// unit and one compare-exchange. Slow path: exactly `Acquire`'s (its own
// budget check is skipped: the unit was taken here).
// Contract: movable until it was polled Pending (hardening assert).
// Cancellation: as `BatchSemaphore::Acquire` (cancel-safe: a queued node
// unlinks itself and passes on the permits it was given).
#ifndef WEFT_CHANNELS_INTERNAL_LOCK_ACQUIRE_H_
#define WEFT_CHANNELS_INTERNAL_LOCK_ACQUIRE_H_

#include <cstddef>
#include <optional>

#include "channels/semaphore.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft::channels_internal {

class LockAcquire {
 public:
  LockAcquire(BatchSemaphore& sem, std::size_t n) noexcept : sem_(&sem), n_(n) {}
  LockAcquire(LockAcquire&& o) noexcept : sem_(o.sem_), n_(o.n_) {
    WEFT_HARDENING_ASSERT(!o.queued_.has_value(), "lock future moved after it was polled");
  }
  LockAcquire& operator=(LockAcquire&&) = delete;

  BatchSemaphore& semaphore() const noexcept { return *sem_; }

  // Ready(true) once the `n` permits are the caller's; Ready(false) if the
  // semaphore was closed.
  Poll<bool> poll(Context& cx) {
    if (!queued_.has_value()) {
      if (!cx.poll_proceed()) return Pending{};
      switch (sem_->try_acquire(n_)) {
        case BatchSemaphore::TryResult::kOk:
          return true;
        case BatchSemaphore::TryResult::kClosed:
          return false;
        case BatchSemaphore::TryResult::kNoPermits:
          break;
      }
      queued_.emplace(*sem_, n_);
      Context unbudgeted(cx.waker());  // the unit was taken above
      return finish(queued_->poll(unbudgeted));
    }
    return finish(queued_->poll(cx));
  }

 private:
  static Poll<bool> finish(Poll<BatchSemaphore::Acquire::Output> p) {
    if (p.is_pending()) return Pending{};
    return p.value().is_ok();
  }

  BatchSemaphore* sem_;
  std::size_t n_;
  std::optional<BatchSemaphore::Acquire> queued_;
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_LOCK_ACQUIRE_H_
