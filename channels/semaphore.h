// -----------------------------------------------------------------------------
// File: channels/semaphore.h
// -----------------------------------------------------------------------------
//
// `Semaphore`: an async counting semaphore with fair (FIFO) queuing. Waiters
// are served strictly in arrival order, a waiter asking for many permits is
// given them as they are released (partial assignment), so a big request is
// never starved by small ones. Rust: `tokio::sync::Semaphore` (and its
// `batch_semaphore`, which this also is: `Mutex`, `RwLock` and the bounded
// `mpsc` are built on `channels_internal::BatchSemaphore`).
//
//   weft::Semaphore sem(3);
//   auto permit = co_await sem.acquire();          // Result<SemaphorePermit, Closed>
//   auto two = sem.try_acquire_many(2);            // Result<SemaphorePermit, TryAcquireError>
//   // permits go back when the SemaphorePermit is destroyed (or `forget()`)
//   auto owned = co_await Semaphore::acquire_owned(shared_sem);  // keeps it alive
//
// Costs: no allocation (the waiter node lives inside the acquire future).
// `try_acquire`, and `release` while nobody waits, are one compare-exchange
// on one atomic word (permits << 2 | waiters bit | closed bit); a release
// while tasks wait, and an acquire that must wait, take a mutex. Wakers are
// woken after the mutex is dropped, in batches of 32.
// Memory ordering: taking permits is an acquire and giving them back a
// release (on the word, or through the mutex), so what a permit holder wrote
// before releasing is visible to the next holder.
// Contract: at most `kMaxPermits` permits. Destroying a semaphore with
// waiters queued is a contract violation (debug assert).
// Cancellation: `acquire` is cancel-safe (declared): dropping it while queued
// unlinks it and returns the permits it had been given so far to the next
// waiters, so nothing leaks and nobody's place in the queue is lost; dropping
// it after it was fully served but before it was polled gives them back too.
// After `close()`, waiting and new acquires complete with `Closed`;
// permits already held stay valid.
//
// Example:
//
//   weft::Semaphore sem(1);
//   auto p = sem.try_acquire();
//   EXPECT_TRUE(p.is_ok());
//   EXPECT_EQ(sem.available_permits(), 0u);
//   p = weft::Err{weft::TryAcquireError::kNoPermits};   // releases the permit
//   EXPECT_EQ(sem.available_permits(), 1u);
//
#ifndef WEFT_CHANNELS_SEMAPHORE_H_
#define WEFT_CHANNELS_SEMAPHORE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/internal/waiter_list.h"
#include "channels/internal/waker_batch.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

namespace channels_internal {

// BatchSemaphore
//
// The fair semaphore core: raw permit counts, no RAII. `Acquire(n)` is the
// waiting future; `release(n)` gives permits back (to the queue first).
//
// The word: bit 0 closed, bit 1 "waiters queued", the rest the free permits.
// Invariant (under the mutex): while the waiters bit is set, free permits in
// the word are 0 — every released permit goes to the head waiter — so the
// lock-free `try_acquire` cannot overtake a queued waiter.
class BatchSemaphore {
 public:
  static constexpr std::size_t kMaxPermits = SIZE_MAX >> 3;

  explicit BatchSemaphore(std::size_t permits) noexcept : word_(permits << kShift) {
    WEFT_HARDENING_ASSERT(permits <= kMaxPermits, "Semaphore: more than kMaxPermits permits");
  }
  BatchSemaphore(const BatchSemaphore&) = delete;
  BatchSemaphore& operator=(const BatchSemaphore&) = delete;
  ~BatchSemaphore() { WEFT_ASSERT(waiters_.empty(), "Semaphore destroyed while tasks wait on it"); }

  std::size_t available() const noexcept { return word_.load(sync::kAcquire) >> kShift; }
  bool is_closed() const noexcept { return (word_.load(sync::kAcquire) & kClosed) != 0; }
  // Whether some acquire is queued (a relaxed load: a hint for batching).
  bool has_waiters() const noexcept { return (word_.load(sync::kRelaxed) & kWaiters) != 0; }

  enum class TryResult : std::uint8_t { kOk, kNoPermits, kClosed };

  // Takes `n` permits now, or none. Acquire ordering on success.
  TryResult try_acquire(std::size_t n) noexcept {
    std::size_t cur = word_.load(sync::kAcquire);
    for (;;) {
      if ((cur & kClosed) != 0) return TryResult::kClosed;
      if ((cur >> kShift) < n) return TryResult::kNoPermits;
      if (word_.compare_exchange_weak(cur, cur - (n << kShift), sync::kAcqRel, sync::kAcquire)) {
        return TryResult::kOk;
      }
    }
  }

  // Gives `n` permits back: to the waiters in FIFO order first, the rest to
  // the word. Lock-free while nobody waits.
  void release(std::size_t n) {
    if (n == 0) return;
    std::size_t cur = word_.load(sync::kRelaxed);
    while ((cur & kWaiters) == 0) {
      WEFT_HARDENING_ASSERT((cur >> kShift) + n <= kMaxPermits, "Semaphore: more than kMaxPermits permits");
      if (word_.compare_exchange_weak(cur, cur + (n << kShift), sync::kAcqRel, sync::kRelaxed)) return;
    }
    release_slow(n);
  }

  // Closes the semaphore: every queued and future acquire completes with
  // Closed. Permits held stay valid (and may still be released).
  void close() {
    WakerBatch batch;
    sync::UniqueLock lock(mu_);
    word_.fetch_or(kClosed, sync::kAcqRel);
    for (;;) {
      while (!batch.full()) {
        Waiter* w = waiters_.pop_front();
        if (w == nullptr) break;
        w->closed = true;
        finish(*w, batch);
      }
      if (waiters_.empty()) word_.fetch_and(~kWaiters, sync::kAcqRel);
      lock.unlock();
      batch.wake_all();
      lock.lock();
      if (waiters_.empty()) break;
    }
  }

  class Acquire;

 private:
  static constexpr std::size_t kClosed = 1;
  static constexpr std::size_t kWaiters = 2;
  static constexpr int kShift = 2;

  struct Waiter : ListLink<Waiter> {
    std::size_t needed = 0;  // permits still to be assigned (under mu_)
    bool closed = false;     // under mu_
    Waker waker;             // under mu_
    // Set (release) by the releaser, last, once `needed` reached 0 or the
    // semaphore closed and the node left the list; the owner may then read
    // `closed` and destroy the node without the lock.
    sync::Atomic<bool> done{false};
  };

  // Moves the waker out of a served node, then marks it done (release):
  // the last touch of the node, which its owner may free right after.
  static void finish(Waiter& w, WakerBatch& batch) {
    batch.push(std::move(w.waker));
    w.done.store(true, sync::kRelease);
  }

  void release_slow(std::size_t n) {
    WakerBatch batch;
    sync::UniqueLock lock(mu_);
    for (;;) {
      // Under the lock the waiters bit is stable (only changed under it).
      while (n > 0 && !waiters_.empty() && !batch.full()) {
        Waiter* head = waiters_.front();
        const std::size_t give = head->needed < n ? head->needed : n;
        head->needed -= give;
        n -= give;
        if (head->needed == 0) {
          waiters_.remove(head);
          finish(*head, batch);
        }
      }
      if (waiters_.empty()) {
        // Leftover permits to the word, and the waiters bit off, in one step.
        std::size_t cur = word_.load(sync::kRelaxed);
        while (!word_.compare_exchange_weak(cur, (cur & ~kWaiters) + (n << kShift), sync::kAcqRel,
                                            sync::kRelaxed)) {
        }
        n = 0;
      }
      lock.unlock();
      batch.wake_all();
      if (n == 0) return;
      lock.lock();
      if ((word_.load(sync::kRelaxed) & kWaiters) == 0) {
        lock.unlock();
        release(n);
        return;
      }
    }
  }

  sync::Atomic<std::size_t> word_;
  sync::Mutex mu_;
  IntrusiveList<Waiter> waiters_;
};

// BatchSemaphore::Acquire
//
// Future of `Result<void, Closed>`: Ready once `n` permits are the caller's
// (the caller releases them later). Cancel-safe (see the file comment).
class [[nodiscard("futures do nothing unless polled")]] BatchSemaphore::Acquire {
 public:
  using Output = Result<void, Closed>;
  static constexpr bool kCancelSafe = true;

  Acquire(BatchSemaphore& sem, std::size_t n) noexcept : sem_(&sem), n_(n) {}
  // Movable until first polled (the node is not linked before that).
  Acquire(Acquire&& o) noexcept : sem_(o.sem_), n_(o.n_), state_(o.state_) {
    WEFT_HARDENING_ASSERT(o.state_ != State::kQueued, "semaphore acquire moved while queued");
    o.state_ = State::kFinished;
  }
  Acquire& operator=(Acquire&&) = delete;
  ~Acquire() {
    if (state_ == State::kQueued) cancel();
  }

  Poll<Output> poll(Context& cx) {
    switch (state_) {
      case State::kIdle:
        return first_poll(cx);
      case State::kQueued:
        return poll_queued(cx);
      case State::kFinished:
        break;
    }
    WEFT_ASSERT(false, "semaphore acquire polled after it completed");
    return Pending{};
  }

 private:
  enum class State : std::uint8_t { kIdle, kQueued, kFinished };

  Poll<Output> first_poll(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    switch (sem_->try_acquire(n_)) {
      case TryResult::kOk:
        state_ = State::kFinished;
        return Output();
      case TryResult::kClosed:
        state_ = State::kFinished;
        return Output(Err{Closed{}});
      case TryResult::kNoPermits:
        break;
    }
    // Slow path: take what is free and queue for the rest.
    sync::Lock lock(sem_->mu_);
    std::size_t cur = sem_->word_.load(sync::kAcquire);
    for (;;) {
      if ((cur & kClosed) != 0) {
        state_ = State::kFinished;
        return Output(Err{Closed{}});
      }
      const std::size_t free = cur >> kShift;
      if (free >= n_) {
        if (sem_->word_.compare_exchange_weak(cur, cur - (n_ << kShift), sync::kAcqRel, sync::kAcquire)) {
          state_ = State::kFinished;
          return Output();
        }
        continue;
      }
      // Take all the free permits and set the waiters bit.
      if (sem_->word_.compare_exchange_weak(cur, (cur & kClosed) | kWaiters, sync::kAcqRel,
                                            sync::kAcquire)) {
        node_.needed = n_ - free;
        break;
      }
    }
    node_.waker = cx.waker();
    sem_->waiters_.push_back(&node_);
    state_ = State::kQueued;
    return Pending{};
  }

  Poll<Output> poll_queued(Context& cx) {
    if (!node_.done.load(sync::kAcquire)) {
      sync::Lock lock(sem_->mu_);
      if (!node_.done.load(sync::kAcquire)) {
        register_waker(node_.waker, cx.waker());
        return Pending{};
      }
    }
    state_ = State::kFinished;
    if (node_.closed) {
      // Permits given before the close go back.
      const std::size_t got = n_ - node_.needed;
      sem_->release(got);
      return Output(Err{Closed{}});
    }
    return Output();
  }

  void cancel() {
    std::size_t got;
    {
      sync::Lock lock(sem_->mu_);
      if (!node_.done.load(sync::kAcquire)) sem_->waiters_.remove(&node_);
      got = n_ - node_.needed;
      if (sem_->waiters_.empty()) sem_->word_.fetch_and(~kWaiters, sync::kAcqRel);
    }
    sem_->release(got);  // to the next waiters, so no one's place is lost
    state_ = State::kFinished;
  }

  BatchSemaphore* sem_;
  std::size_t n_;
  State state_ = State::kIdle;
  Waiter node_;
};

// LockAcquire / BasicLockAcquire<kN>
//
// The acquire step of Semaphore, Mutex, RwLock, OnceCell and the bounded mpsc
// sender: tries the lock-free `try_acquire` first and builds an `Acquire`
// (the queued, intrusive node) only when that fails, so the uncontended path
// neither constructs nor destroys a waiter node. Ready(true): the permits are
// the caller's; Ready(false): the semaphore is closed. Movable until it was
// polled Pending. Cancellation: as `Acquire` (cancel-safe). `kN` != 0 fixes
// the count at compile time (the mpsc sender's one permit: no count stored,
// a constant shift in `try_acquire`); `LockAcquire` takes it at run time.
struct NoQueuedHook {
  bool operator()() const noexcept { return false; }
};
template <std::size_t kN = 0, class OnQueued = NoQueuedHook>
class BasicLockAcquire {
  struct NoCount {};

 public:
  BasicLockAcquire(BatchSemaphore& sem, std::size_t n, OnQueued on_queued = {}) noexcept
    requires(kN == 0)
      : sem_(&sem), n_(n), on_queued_(on_queued) {}
  explicit BasicLockAcquire(BatchSemaphore& sem, OnQueued on_queued = {}) noexcept
    requires(kN != 0)
      : sem_(&sem), on_queued_(on_queued) {}
  BasicLockAcquire(BasicLockAcquire&& o) noexcept : sem_(o.sem_), n_(o.n_), on_queued_(o.on_queued_) {
    WEFT_HARDENING_ASSERT(!o.queued_.has_value(), "lock future moved after it was polled");
  }
  BasicLockAcquire& operator=(BasicLockAcquire&&) = delete;

  BatchSemaphore& semaphore() const noexcept { return *sem_; }
  const OnQueued& on_queued() const noexcept { return on_queued_; }

  // True while it is queued (polled Pending and not Ready since): dropping
  // it now gives back whatever it was granted.
  bool waiting() const noexcept { return queued_.has_value(); }
  // Leaves the queue now (as dropping it would), giving back what it was
  // granted; for owners that must act after that (the mpsc sender tells its
  // receiver).
  void cancel() noexcept { queued_.reset(); }

  // Ready(true) once the permits are the caller's; Ready(false) if the
  // semaphore was closed.
  Poll<bool> poll(Context& cx) {
    if (!queued_.has_value()) {
      if (!cx.poll_proceed()) return Pending{};
      switch (sem_->try_acquire(count())) {
        case BatchSemaphore::TryResult::kOk:
          return true;
        case BatchSemaphore::TryResult::kClosed:
          return false;
        case BatchSemaphore::TryResult::kNoPermits:
          break;
      }
      return queue(cx);
    }
    return finish(queued_->poll(cx));
  }

 private:
  std::size_t count() const noexcept {
    if constexpr (kN != 0) {
      return kN;
    } else {
      return n_;
    }
  }
  // No permits: queue a waiter node (out of line: the rare path). Then the
  // owner's hook runs; if it gave permits back (they go to the waiters in
  // order), look again.
  [[gnu::noinline]] Poll<bool> queue(Context& cx) {
    queued_.emplace(*sem_, count());
    Context unbudgeted(cx.waker());  // the unit was taken in poll()
    Poll<bool> p = finish(queued_->poll(unbudgeted));
    if (p.is_pending() && on_queued_()) return finish(queued_->poll(unbudgeted));
    return p;
  }

  Poll<bool> finish(Poll<BatchSemaphore::Acquire::Output> p) {
    if (p.is_pending()) return Pending{};
    const bool ok = p.value().is_ok();
    queued_.reset();  // finished: its destructor gives nothing back
    return ok;
  }

  BatchSemaphore* sem_;
  [[no_unique_address]] std::conditional_t<kN == 0, std::size_t, NoCount> n_{};
  [[no_unique_address]] OnQueued on_queued_;
  std::optional<BatchSemaphore::Acquire> queued_;
};
using LockAcquire = BasicLockAcquire<>;

}  // namespace channels_internal

// TryAcquireError: the semaphore is closed, or not enough permits are free.
enum class TryAcquireError : std::uint8_t { kClosed, kNoPermits };

class Semaphore;

// SemaphorePermit: permits borrowed from a Semaphore; given back when
// destroyed. Must not outlive the semaphore (use OwnedSemaphorePermit).
class [[nodiscard]] SemaphorePermit {
 public:
  SemaphorePermit(SemaphorePermit&& o) noexcept
      : sem_(std::exchange(o.sem_, nullptr)), n_(std::exchange(o.n_, 0)) {}
  SemaphorePermit& operator=(SemaphorePermit&& o) noexcept {
    if (this != &o) {
      reset();
      sem_ = std::exchange(o.sem_, nullptr);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~SemaphorePermit() { reset(); }

  std::size_t num_permits() const noexcept { return n_; }
  // Keeps the permits out of the semaphore for good.
  void forget() noexcept { n_ = 0; }
  // Takes over `other`'s permits (both must come from the same semaphore).
  void merge(SemaphorePermit&& other) noexcept {
    WEFT_HARDENING_ASSERT(other.sem_ == sem_ || other.n_ == 0, "SemaphorePermit::merge across semaphores");
    n_ += std::exchange(other.n_, 0);
  }
  // Splits `n` permits off into a new permit (nothing if fewer are held).
  Result<SemaphorePermit, TryAcquireError> split(std::size_t n) noexcept {
    if (n > n_) return Err{TryAcquireError::kNoPermits};
    n_ -= n;
    return SemaphorePermit(sem_, n);
  }

 private:
  friend class Semaphore;
  SemaphorePermit(channels_internal::BatchSemaphore* sem, std::size_t n) noexcept : sem_(sem), n_(n) {}
  void reset() noexcept {
    if (sem_ != nullptr && n_ > 0) sem_->release(n_);
    n_ = 0;
  }

  channels_internal::BatchSemaphore* sem_;
  std::size_t n_;
};

// OwnedSemaphorePermit: like SemaphorePermit, but holds the semaphore alive.
class [[nodiscard]] OwnedSemaphorePermit {
 public:
  OwnedSemaphorePermit(OwnedSemaphorePermit&& o) noexcept
      : sem_(std::move(o.sem_)), n_(std::exchange(o.n_, 0)) {}
  OwnedSemaphorePermit& operator=(OwnedSemaphorePermit&& o) noexcept {
    if (this != &o) {
      reset();
      sem_ = std::move(o.sem_);
      n_ = std::exchange(o.n_, 0);
    }
    return *this;
  }
  ~OwnedSemaphorePermit() { reset(); }

  std::size_t num_permits() const noexcept { return n_; }
  void forget() noexcept { n_ = 0; }
  const std::shared_ptr<Semaphore>& semaphore() const noexcept { return sem_; }

 private:
  friend class Semaphore;
  OwnedSemaphorePermit(std::shared_ptr<Semaphore> sem, std::size_t n) noexcept
      : sem_(std::move(sem)), n_(n) {}
  inline void reset() noexcept;

  std::shared_ptr<Semaphore> sem_;
  std::size_t n_;
};

class Semaphore {
 public:
  static constexpr std::size_t kMaxPermits = channels_internal::BatchSemaphore::kMaxPermits;

  explicit Semaphore(std::size_t permits) noexcept : sem_(permits) {}
  Semaphore(const Semaphore&) = delete;
  Semaphore& operator=(const Semaphore&) = delete;

  std::size_t available_permits() const noexcept { return sem_.available(); }
  // Adds permits (to waiting tasks first, in FIFO order).
  void add_permits(std::size_t n) { sem_.release(n); }
  // Closes: waiting and later acquires fail with Closed / kClosed.
  void close() { sem_.close(); }
  bool is_closed() const noexcept { return sem_.is_closed(); }

  Result<SemaphorePermit, TryAcquireError> try_acquire() noexcept { return try_acquire_many(1); }
  Result<SemaphorePermit, TryAcquireError> try_acquire_many(std::size_t n) noexcept {
    switch (sem_.try_acquire(n)) {
      case channels_internal::BatchSemaphore::TryResult::kOk:
        return SemaphorePermit(&sem_, n);
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{TryAcquireError::kClosed};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{TryAcquireError::kNoPermits};
  }

  // Future of Result<SemaphorePermit, Closed>. Cancel-safe.
  class [[nodiscard("futures do nothing unless polled")]] AcquireFuture {
   public:
    using Output = Result<SemaphorePermit, Closed>;
    static constexpr bool kCancelSafe = true;
    Poll<Output> poll(Context& cx) {
      auto p = inner_.poll(cx);
      if (p.is_pending()) return Pending{};
      if (!p.value()) return Output(Err{Closed{}});
      return Output(SemaphorePermit(sem_, n_));
    }

   private:
    friend class Semaphore;
    AcquireFuture(channels_internal::BatchSemaphore& sem, std::size_t n) noexcept
        : sem_(&sem), n_(n), inner_(sem, n) {}
    channels_internal::BatchSemaphore* sem_;
    std::size_t n_;
    channels_internal::LockAcquire inner_;
  };

  AcquireFuture acquire() noexcept { return AcquireFuture(sem_, 1); }
  AcquireFuture acquire_many(std::size_t n) noexcept { return AcquireFuture(sem_, n); }

  // Future of Result<OwnedSemaphorePermit, Closed>; the permit keeps `sem`
  // alive. Cancel-safe.
  class [[nodiscard("futures do nothing unless polled")]] AcquireOwnedFuture {
   public:
    using Output = Result<OwnedSemaphorePermit, Closed>;
    static constexpr bool kCancelSafe = true;
    Poll<Output> poll(Context& cx) {
      auto p = inner_.poll(cx);
      if (p.is_pending()) return Pending{};
      if (!p.value()) return Output(Err{Closed{}});
      return Output(OwnedSemaphorePermit(std::move(sem_), n_));
    }

   private:
    friend class Semaphore;
    AcquireOwnedFuture(std::shared_ptr<Semaphore> sem, std::size_t n) noexcept
        : sem_(std::move(sem)), n_(n), inner_(sem_->sem_, n) {}
    // Declared before `inner_`: a queued waiter unlinks before the last
    // reference to the semaphore can go.
    std::shared_ptr<Semaphore> sem_;
    std::size_t n_;
    channels_internal::LockAcquire inner_;
  };

  static AcquireOwnedFuture acquire_owned(std::shared_ptr<Semaphore> sem, std::size_t n = 1) noexcept {
    return AcquireOwnedFuture(std::move(sem), n);
  }
  static Result<OwnedSemaphorePermit, TryAcquireError> try_acquire_owned(std::shared_ptr<Semaphore> sem,
                                                                         std::size_t n = 1) noexcept {
    switch (sem->sem_.try_acquire(n)) {
      case channels_internal::BatchSemaphore::TryResult::kOk:
        return OwnedSemaphorePermit(std::move(sem), n);
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{TryAcquireError::kClosed};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{TryAcquireError::kNoPermits};
  }

 private:
  friend class OwnedSemaphorePermit;
  channels_internal::BatchSemaphore sem_;
};

inline void OwnedSemaphorePermit::reset() noexcept {
  if (sem_ != nullptr && n_ > 0) sem_->sem_.release(n_);
  n_ = 0;
  sem_.reset();
}

}  // namespace weft

#endif  // WEFT_CHANNELS_SEMAPHORE_H_
