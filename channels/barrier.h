// -----------------------------------------------------------------------------
// File: channels/barrier.h
// -----------------------------------------------------------------------------
//
// `Barrier`: lets `n` tasks wait until all `n` have arrived. The first
// `n - 1` callers of `wait()` wait; the `n`-th releases them all and is the
// generation's leader. Reusable: the next `n` waits form the next
// generation. Rust: `tokio::sync::Barrier`.
//
//   weft::Barrier b(3);
//   BarrierWaitResult r = co_await b.wait();   // in each of 3 tasks
//   if (r.is_leader()) merge_results();        // exactly one per generation
//
// Costs: no allocation (the waiter node lives inside the wait future). One
// std::mutex per arrival; the leader takes every waiter of its generation
// off the list under the mutex and wakes them after dropping it, 32 wakers
// at a time. sizeof(Barrier) = std::mutex + 2 list heads + 3 words.
// Contract: thread-safe. Not movable. `Barrier(0)` behaves as `Barrier(1)`
// (every wait leads), as in tokio. Destroying a barrier while tasks wait on
// it is a contract violation (debug assert).
// Memory ordering: everything a party did before `wait()` happens-before
// everything any party of the same generation does after its `wait()`
// completes (arrivals go through the mutex; a released waiter observes its
// `done` flag with acquire, stored with release by the leader).
// Cancellation (decided here; tokio leaves it unspecified and calls the
// wait not cancel-safe):
//   - dropping a wait while its generation is still filling UN-ARRIVES it:
//     the count goes back down, so a generation is released only by `n`
//     waits that are still alive (or that completed). No waker is left;
//   - dropping a wait after its generation was released, before it was
//     polled, changes nothing: it was counted in that release and the
//     others proceed; the dropped waiter just never sees the result.
// Because of the second case (a release cannot be undone) the future does
// not declare itself cancel-safe; put it in a `select` through
// `unsafe_cancel` if the first case is what you rely on.
//
// Example:
//
//   weft::Barrier b(2);
//   auto first = b.wait();
//   EXPECT_TRUE(weft::testing::poll_once(first).is_pending());
//   auto second = b.wait();
//   EXPECT_TRUE(weft::testing::poll_once(second).value().is_leader());
//   EXPECT_FALSE(weft::testing::poll_once(first).value().is_leader());
//
#ifndef WEFT_CHANNELS_BARRIER_H_
#define WEFT_CHANNELS_BARRIER_H_

#include <cstddef>
#include <cstdint>
#include <utility>

#include "channels/internal/waiter_list.h"
#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

// BarrierWaitResult: the output of `Barrier::wait()`.
class BarrierWaitResult {
 public:
  // True for exactly one wait per generation: the one that released it.
  constexpr bool is_leader() const noexcept { return leader_; }

 private:
  friend class Barrier;
  constexpr explicit BarrierWaitResult(bool leader) noexcept : leader_(leader) {}
  bool leader_;
};

// Barrier
//
// Invariants (under `mu_`): `waiting_` holds the nodes of the generation
// `generation_` that is filling, and `arrived_ == waiting_.size()` (< n);
// `released_` holds nodes of earlier generations that were released but not
// yet woken (each leader drains it before it returns). A node's `done` is
// set, last, by whoever takes its waker out of `released_`; after that the
// node belongs to its future alone.
class Barrier {
 public:
  explicit Barrier(std::size_t n) noexcept : n_(n == 0 ? 1 : n) {}
  // Not copyable or movable (waiters point into it).
  Barrier(const Barrier&) = delete;
  Barrier& operator=(const Barrier&) = delete;
  ~Barrier() { WEFT_ASSERT(waiting_.empty() && released_.empty(), "Barrier destroyed while tasks wait on it"); }

  // The number of parties per generation.
  std::size_t parties() const noexcept { return n_; }

  class WaitFuture;
  inline WaitFuture wait() noexcept;

 private:
  struct Waiter : channels_internal::ListLink<Waiter> {
    Waker waker;                     // under mu_
    std::uint64_t generation = 0;    // under mu_
    sync::Atomic<bool> done{false};  // release by the waker, acquire by the owner
  };

  // Up to 32 wakers taken under the lock, woken after it is dropped.
  class WakeBatch {
   public:
    bool full() const noexcept { return n_ == kCap; }
    void take_from(Waiter& w) {
      wakers_[n_++] = std::move(w.waker);
      w.done.store(true, sync::kRelease);  // last touch of the node
    }
    void wake_all() {
      for (std::size_t i = 0; i < n_; ++i) std::move(wakers_[i]).wake();
      n_ = 0;
    }

   private:
    static constexpr std::size_t kCap = 32;
    Waker wakers_[kCap];
    std::size_t n_ = 0;
  };

  // The leader's step, with `lock` held: starts the next generation and
  // wakes every released waiter. Returns with `lock` released.
  void release_generation(sync::UniqueLock& lock) {
    released_.splice_back(waiting_);
    arrived_ = 0;
    generation_ += 1;
    WakeBatch batch;
    for (;;) {
      while (!batch.full()) {
        Waiter* w = released_.pop_front();
        if (w == nullptr) break;
        batch.take_from(*w);
      }
      const bool drained = released_.empty();
      lock.unlock();
      batch.wake_all();
      if (drained) return;
      lock.lock();
    }
  }

  sync::Mutex mu_;
  channels_internal::IntrusiveList<Waiter> waiting_;   // under mu_
  channels_internal::IntrusiveList<Waiter> released_;  // under mu_
  std::size_t n_;
  std::size_t arrived_ = 0;       // under mu_
  std::uint64_t generation_ = 0;  // under mu_
};

// Barrier::WaitFuture
//
// Future of `BarrierWaitResult`. Movable until first polled (its node is
// not linked before that). See the file comment for cancellation.
class [[nodiscard("futures do nothing unless polled")]] Barrier::WaitFuture {
 public:
  using Output = BarrierWaitResult;

  WaitFuture(WaitFuture&& o) noexcept : b_(o.b_), state_(o.state_) {
    WEFT_HARDENING_ASSERT(o.state_ != State::kQueued, "Barrier wait moved while queued");
    o.state_ = State::kFinished;
  }
  WaitFuture& operator=(WaitFuture&&) = delete;
  ~WaitFuture() {
    if (state_ == State::kQueued) cancel();
  }

  Poll<Output> poll(Context& cx) {
    switch (state_) {
      case State::kIdle:
        return arrive(cx);
      case State::kQueued:
        return poll_queued(cx);
      case State::kFinished:
        break;
    }
    WEFT_ASSERT(false, "Barrier wait polled after it completed");
    return Pending{};
  }

 private:
  friend class Barrier;
  enum class State : std::uint8_t { kIdle, kQueued, kFinished };

  explicit WaitFuture(Barrier& b) noexcept : b_(&b) {}

  Poll<Output> arrive(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    sync::UniqueLock lock(b_->mu_);
    if (b_->arrived_ + 1 == b_->n_) {
      state_ = State::kFinished;
      b_->release_generation(lock);
      return BarrierWaitResult(true);
    }
    b_->arrived_ += 1;
    node_.generation = b_->generation_;
    node_.waker = cx.waker();
    b_->waiting_.push_back(&node_);
    state_ = State::kQueued;
    return Pending{};
  }

  Poll<Output> poll_queued(Context& cx) {
    if (!node_.done.load(sync::kAcquire)) {
      sync::Lock lock(b_->mu_);
      if (!node_.done.load(sync::kAcquire)) {
        register_waker(node_.waker, cx.waker());
        return Pending{};
      }
    }
    state_ = State::kFinished;
    return BarrierWaitResult(false);
  }

  void cancel() {
    sync::Lock lock(b_->mu_);
    if (node_.done.load(sync::kAcquire)) return;  // released and woken: stays counted
    if (node_.generation == b_->generation_) {
      b_->waiting_.remove(&node_);  // still filling: un-arrive
      b_->arrived_ -= 1;
    } else {
      b_->released_.remove(&node_);  // released, not yet woken: stays counted
    }
    // node_.waker (our clone) is dropped with the node, after the lock.
  }

  Barrier* b_;
  State state_ = State::kIdle;
  Waiter node_;
};

inline Barrier::WaitFuture Barrier::wait() noexcept { return WaitFuture(*this); }

}  // namespace weft

#endif  // WEFT_CHANNELS_BARRIER_H_
