// -----------------------------------------------------------------------------
// File: future/internal/parker.h
// -----------------------------------------------------------------------------
//
// `Parker`: blocks one thread until another (or the same) thread unparks it;
// what `block_on` sleeps on between wakes. Hosted. Rust: std's
// `thread::park`/`Thread::unpark` token (futex flavour), and pollster's
// `Signal`.
//
//   park()          blocks until the token is available, then consumes it;
//                   returns at once if an `unpark` came first.
//   park_for(d)     the same, but gives up after `d`; true if it consumed
//                   the token.
//   unpark()        makes the token available (at most one: unparks before
//                   a park coalesce), waking the parked thread if any.
//   waker()         a `Waker` whose wake is `unpark()`; it may be cloned,
//                   sent to any thread, and woken or dropped at any time,
//                   also after the `Parker` is gone (it then does nothing
//                   that matters).
//
// State machine (one atomic word; Linux waits on it with a futex, other
// systems use a mutex and a condition variable around the same word):
//
//      EMPTY(0) ──park: fetch_sub──> PARKED(-1) ──futex wait──┐
//        ^  ^                          │ unpark: swap(NOTIFIED), futex wake
//        │  └──park: fetch_sub─── NOTIFIED(1) <────────────────┘
//        │                             │ woken park: cas NOTIFIED -> EMPTY
//        └─────────────────────────────┘
//
//   (1) park():   fetch_sub(1, acquire): NOTIFIED -> EMPTY returns at once;
//                 EMPTY -> PARKED, then wait while the word is PARKED.
//   (2) unpark(): swap(NOTIFIED, release); if it was PARKED, wake the waiter.
//   (3) woken:    cas(NOTIFIED -> EMPTY, acquire); a spurious futex return
//                 finds PARKED still and waits again.
//   The release in (2) and the acquire in (1)/(3) make everything written
//   before `unpark()` visible after `park()` returns.
//
// Invariants: only the owning thread parks (one parker, one parked thread at
// most); any thread unparks. The word lives in a heap-allocated, reference-
// counted `Inner`: the `Parker` holds one reference and every `Waker` one,
// so a waker woken after `block_on` returned touches live memory.
//
// Costs: one allocation per `Parker` (the `Inner`); `waker()` and waker
// clones are an atomic increment; `unpark()` is one atomic swap, plus a
// futex wake syscall only if the owner is parked; `park()` with the token
// already there is one atomic op (no syscall).
#ifndef WEFT_FUTURE_INTERNAL_PARKER_H_
#define WEFT_FUTURE_INTERNAL_PARKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>

#if defined(__linux__)
#include <linux/futex.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#else
#include <condition_variable>
#include <mutex>
#endif

#include "future/waker.h"

namespace weft::future_internal {

// Parker
//
// Movable (the `Inner` moves with it; a moved-from Parker must not be used),
// not copyable. See the header comment.
class Parker {
 public:
  Parker() : inner_(new Inner) {}
  Parker(Parker&& o) noexcept : inner_(std::exchange(o.inner_, nullptr)) {}
  Parker& operator=(Parker&& o) noexcept {
    if (this != &o) {
      if (inner_ != nullptr) inner_->release();
      inner_ = std::exchange(o.inner_, nullptr);
    }
    return *this;
  }
  Parker(const Parker&) = delete;
  Parker& operator=(const Parker&) = delete;
  ~Parker() {
    if (inner_ != nullptr) inner_->release();
  }

  // Blocks until unparked; consumes the token.
  void park() noexcept { inner_->park(nullptr); }

  // Blocks at most `d`; true if it consumed the token (was unparked).
  template <class Rep, class Period>
  bool park_for(std::chrono::duration<Rep, Period> d) noexcept {
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(d);
    if (ns.count() < 0) ns = std::chrono::nanoseconds(0);
    return inner_->park(&ns);
  }

  // Makes the token available and wakes the parked thread, if any.
  void unpark() noexcept { inner_->unpark(); }

  // Drops a token left by an earlier unpark, if any (a stale wake).
  void reset() noexcept {
    std::uint32_t expect = kNotified;
    inner_->state.compare_exchange_strong(expect, kEmpty, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // A new waker reference that unparks this parker.
  Waker waker() const noexcept {
    inner_->refs.fetch_add(1, std::memory_order_relaxed);
    return Waker::from_raw(RawWaker{inner_, &kVTable});
  }

 private:
  static constexpr std::uint32_t kEmpty = 0;
  static constexpr std::uint32_t kNotified = 1;
  static constexpr std::uint32_t kParked = ~std::uint32_t{0};

  struct Inner {
    std::atomic<std::uint32_t> state{kEmpty};
    std::atomic<std::uint32_t> refs{1};
#if !defined(__linux__)
    std::mutex mu;
    std::condition_variable cv;
#endif

    void release() noexcept {
      if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
    }

    // (1) and (3). `timeout` null: wait for ever.
    bool park(const std::chrono::nanoseconds* timeout) noexcept {
      if (state.fetch_sub(1, std::memory_order_acquire) == kNotified) return true;  // NOTIFIED -> EMPTY
      // EMPTY -> PARKED.
      const auto deadline = std::chrono::steady_clock::now() +
                            (timeout != nullptr ? *timeout : std::chrono::nanoseconds(0));
      for (;;) {
        if (timeout != nullptr) {
          const auto left = deadline - std::chrono::steady_clock::now();
          if (left <= std::chrono::nanoseconds(0)) break;
          wait(&left);
        } else {
          wait(nullptr);
        }
        std::uint32_t expect = kNotified;
        if (state.compare_exchange_strong(expect, kEmpty, std::memory_order_acquire,
                                          std::memory_order_relaxed)) {
          return true;
        }
      }
      // Timed out: PARKED -> EMPTY, unless an unpark raced in (then take it).
      return state.exchange(kEmpty, std::memory_order_acquire) == kNotified;
    }

    // (2).
    void unpark() noexcept {
      if (state.exchange(kNotified, std::memory_order_release) == kParked) wake_one();
    }

#if defined(__linux__)
    std::uint32_t* word() noexcept { return reinterpret_cast<std::uint32_t*>(&state); }
    void wait(const std::chrono::nanoseconds* left) noexcept {
      timespec ts{};
      timespec* tsp = nullptr;
      if (left != nullptr) {
        ts.tv_sec = static_cast<time_t>(left->count() / 1000000000);
        ts.tv_nsec = static_cast<long>(left->count() % 1000000000);
        tsp = &ts;
      }
      // Returns at once (EAGAIN) if the word is no longer PARKED.
      syscall(SYS_futex, word(), FUTEX_WAIT_PRIVATE, kParked, tsp, nullptr, 0);
    }
    void wake_one() noexcept { syscall(SYS_futex, word(), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0); }
#else
    void wait(const std::chrono::nanoseconds* left) noexcept {
      std::unique_lock<std::mutex> lock(mu);
      auto parked = [&] { return state.load(std::memory_order_relaxed) != kParked; };
      if (left != nullptr) {
        cv.wait_for(lock, *left, parked);
      } else {
        cv.wait(lock, parked);
      }
    }
    void wake_one() noexcept {
      { std::lock_guard<std::mutex> lock(mu); }  // orders with a waiter between its check and its wait
      cv.notify_one();
    }
#endif
  };

  static Inner* self(const void* p) noexcept { return static_cast<Inner*>(const_cast<void*>(p)); }
  static RawWaker clone(const void* p) noexcept {
    self(p)->refs.fetch_add(1, std::memory_order_relaxed);
    return RawWaker{p, &kVTable};
  }
  static void wake(const void* p) noexcept {
    self(p)->unpark();
    self(p)->release();
  }
  static void wake_by_ref(const void* p) noexcept { self(p)->unpark(); }
  static void drop(const void* p) noexcept { self(p)->release(); }
  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake_by_ref, &drop};

  static_assert(sizeof(std::atomic<std::uint32_t>) == sizeof(std::uint32_t) &&
                    std::atomic<std::uint32_t>::is_always_lock_free,
                "Parker: the futex word must be a plain lock-free 32-bit atomic");

  Inner* inner_;
};

}  // namespace weft::future_internal

#endif  // WEFT_FUTURE_INTERNAL_PARKER_H_
