// -----------------------------------------------------------------------------
// File: channels/internal/atomic_waker.h
// -----------------------------------------------------------------------------
//
// `AtomicWaker`: one waker slot that a single party (the consumer) fills
// with `register_waker` while any number of threads call `wake()` / `take()`
// concurrently, without a mutex. Rust: `futures::task::AtomicWaker` (and
// tokio's copy of it). Used by the mpsc receiver.
//
//   AtomicWaker w;
//   // consumer, in poll:          // producers, after publishing data:
//   w.register_waker(cx.waker());  data.store(x, kRelease);
//   if (data.load(kAcquire)) ...   w.wake();
//   return Pending{};
//
// Guarantee ("no lost wake-up"): if a thread does `X; wake()` and the
// consumer does `register_waker(w); check X`, then either the check sees X,
// or that `wake()` wakes `w` (or a waker registered after it). Both sides
// perform read-modify-writes on the one state word, so they are totally
// ordered; whichever comes second sees the first.
//
// Invariants (the state word is a tiny lock around `waker_`):
//   kWaiting      nobody touches `waker_`; it holds a waker or is empty.
//   kRegistering  the consumer owns `waker_` (it swaps the new waker in).
//   kWaking       a waker/taker owns `waker_` (it moves the waker out).
//   kRegistering|kWaking  a wake arrived during a registration: the
//                 registrant takes the waker out and wakes it itself.
//
//   (1) register: CAS kWaiting -> kRegistering (acquire), store the waker,
//       CAS kRegistering -> kWaiting (acq_rel). If that fails, kWaking was
//       set meanwhile: move the waker out, swap the state to kWaiting
//       (acq_rel), wake it. If the first CAS finds kWaking, a wake is in
//       progress: wake the new waker by reference (at worst spurious).
//   (2) take/wake: fetch_or(kWaking) (acq_rel). From kWaiting: move the waker
//       out, fetch_and(~kWaking) (release), wake or return it. From any
//       other state: someone else (registrant or another waker) will wake.
//
// Memory ordering: every transition is a read-modify-write with acquire on
// entry and release on exit, so `waker_` is never accessed concurrently, and
// each wake/take synchronises with the registration it observes.
// Costs: one word plus a `Waker` (two pointers); register is two CAS (none
// cloned when the stored waker `will_wake` the new one); wake/take is two
// RMWs plus the waker's own call. No allocation, no lock. Freestanding.
// Contract: `register_waker` must not be called concurrently with itself
// (one consumer); `wake`/`take` from any thread. The waker's vtable calls
// happen outside the critical state (old wakers are dropped after it).
#ifndef WEFT_CHANNELS_INTERNAL_ATOMIC_WAKER_H_
#define WEFT_CHANNELS_INTERNAL_ATOMIC_WAKER_H_

#include <cstdint>
#include <utility>

#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft::channels_internal {

class AtomicWaker {
 public:
  constexpr AtomicWaker() noexcept = default;
  AtomicWaker(const AtomicWaker&) = delete;
  AtomicWaker& operator=(const AtomicWaker&) = delete;

  // AtomicWaker::register_waker()
  //
  // Stores (a clone of) `w`, replacing the previous waker; if a wake is in
  // progress, `w` is woken right away. Consumer only (not concurrently with
  // itself).
  void register_waker(const Waker& w) {
    std::uint32_t cur = kWaiting;
    if (state_.compare_exchange_strong(cur, kRegistering, sync::kAcquire, sync::kAcquire)) {
      Waker old;
      if (!waker_.will_wake(w)) {
        old = std::move(waker_);
        waker_ = w;
      }
      std::uint32_t expected = kRegistering;
      if (!state_.compare_exchange_strong(expected, kWaiting, sync::kAcqRel, sync::kAcquire)) {
        // A wake came in while we held the slot: it left the waking to us.
        WEFT_ASSERT(expected == (kRegistering | kWaking), "AtomicWaker: unexpected state");
        Waker taken = std::move(waker_);
        state_.exchange(kWaiting, sync::kAcqRel);
        std::move(taken).wake();
      }
      return;  // `old` dropped here, outside the critical state
    }
    // kWaking: the previous waker is being woken now; make sure `w` is too.
    // (kRegistering here would be two concurrent registrants.)
    WEFT_ASSERT(cur == kWaking, "AtomicWaker::register_waker called concurrently");
    w.wake_by_ref();
  }

  // AtomicWaker::take()
  //
  // Moves the registered waker out (empty Waker if none, or if another
  // thread is handling it). Any thread.
  Waker take() noexcept {
    const std::uint32_t prev = state_.fetch_or(kWaking, sync::kAcqRel);
    if (prev != kWaiting) return Waker();  // registrant or another waker will act
    Waker w = std::move(waker_);
    state_.fetch_and(~kWaking, sync::kRelease);
    return w;
  }

  // AtomicWaker::wake()
  //
  // Wakes (and consumes) the registered waker, if any. Any thread.
  void wake() { take().wake(); }

 private:
  static constexpr std::uint32_t kWaiting = 0;
  static constexpr std::uint32_t kRegistering = 1;
  static constexpr std::uint32_t kWaking = 2;

  sync::Atomic<std::uint32_t> state_{kWaiting};
  Waker waker_;  // guarded by the state protocol above
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_ATOMIC_WAKER_H_
