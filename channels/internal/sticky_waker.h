// -----------------------------------------------------------------------------
// File: channels/internal/sticky_waker.h
// -----------------------------------------------------------------------------
//
// `StickyWaker`: a waker slot for one consumer and any number of wakers,
// like `AtomicWaker` (future/atomic_waker.h), except that a wake leaves the
// waker registered (`wake_by_ref`) instead of taking it out. A consumer that
// parks again from the same task therefore re-registers for free: no
// read-modify-write, no clone. The mpsc receiver uses it (it parks once per
// empty queue; with `AtomicWaker` every park cost two CAS and a waker clone,
// and every wake a waker drop). Not API.
// Rust: no twin; `futures::task::AtomicWaker` takes the waker on wake.
//
//   StickyWaker w;
//   // consumer, in poll:         // any thread, after publishing data:
//   w.register_waker(cx.waker()); data.store(x, release);
//   if (data.load(acquire)) ...   w.wake();
//   return Pending{};
//   // consumer, when it stops waiting for good (or a waiting future drops):
//   Waker old = w.take();
//
// Guarantee ("no lost wake-up"): every `wake()` that starts after
// `register_waker(w)` returned wakes `w` (or a waker registered after it),
// and does so after its caller's prior writes are visible to whoever that
// wake-up lets run. A wake with nothing registered wakes nothing (the
// consumer's re-check after registering covers it, as with AtomicWaker).
//
// Costs: a 32-bit word plus a `Waker`; no allocation, no lock.
// `register_waker` with a waker that `will_wake` the stored one: a compare,
// no atomic step. Otherwise two CAS and a clone. `wake`: two RMWs plus the
// waker's `wake_by_ref` (a concurrent second `wake` costs one RMW and leaves
// its wake-up to the first). `take`: two RMWs (waits out a wake in
// progress). Keeps the registered task alive until `take`, a replacement or
// the destructor. Freestanding (atomics only; `take` spins with a pause).
//
// Contract:
//   - `register_waker` and `take`: the consumer only, one call at a time.
//   - `wake`: any thread, any number concurrently, also concurrently with
//     `register_waker` and `take`.
//   - Not copyable or movable; must outlive every concurrent call.
// Cancellation: not a future. A consumer that stops waiting calls `take()`
// (or leaves the waker registered: later wakes are then spurious).
//
// Protocol. `waker_` is written only by the consumer; wakers only read it
// (`wake_by_ref`). The state word:
//   bit 0        kRegistering: the consumer is replacing or taking `waker_`
//                (it owns the field; wakers leave it alone).
//   bits 1..31   the number of wakes in progress or requested (kWakeOne).
//   register (same waker): return. The consumer reads its own field; a
//     waker reading it concurrently is a read too.
//   register (other waker) / take: CAS 0 -> kRegistering (so no waker is
//     reading `waker_`), write the field, then CAS kRegistering -> 0. If
//     wakes arrived meanwhile (they saw kRegistering and left), exchange the
//     word to 0 and wake the new waker for them. If the first CAS found a
//     wake in progress: register wakes the new waker itself (at worst a
//     spurious wake-up; the consumer re-registers on its next poll); take
//     waits until that wake is done.
//   wake: fetch_add(kWakeOne). From 0 this caller owns the waking: it calls
//     `waker_.wake_by_ref()`, then CASes kWakeOne -> 0; if more wakes were
//     requested meanwhile, it takes them (CAS to kWakeOne) and wakes again,
//     so a wake that found another in progress is never lost. From any
//     other value it returns: the owner (or the consumer) wakes for it.
//
// Memory orderings (`state_`, the only atomic):
//   - wake's fetch_add: acq_rel (release: publishes the caller's data to
//     whoever reads the word later: the waking owner's CAS, the consumer's
//     CAS; acquire: the owner sees the consumer's last write of `waker_`).
//   - the owner's closing CAS: acq_rel on success and failure-acquire: it
//     reads every later fetch_add, so a re-wake follows their data.
//   - the consumer's entry CAS: acquire (the last waker's reads of `waker_`
//     happen before our write: their closing RMW released); exit CAS and
//     exchange: acq_rel.
//   A wake-up thus happens after the data of every wake it stands for: the
//   task is woken (`wake_by_ref`: a release on the task's state) after an
//   acquire that read those wakes' fetch_adds.
#ifndef WEFT_CHANNELS_INTERNAL_STICKY_WAKER_H_
#define WEFT_CHANNELS_INTERNAL_STICKY_WAKER_H_

#include <cstdint>
#include <utility>

#include "future/waker.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft::channels_internal {

class StickyWaker {
 public:
  constexpr StickyWaker() noexcept = default;
  StickyWaker(const StickyWaker&) = delete;
  StickyWaker& operator=(const StickyWaker&) = delete;

  // StickyWaker::register_waker()
  //
  // Makes `w` the waker that later wakes reach. Free when the stored one
  // `will_wake` it. Consumer only.
  void register_waker(const Waker& w) {
    if (waker_.will_wake(w)) [[likely]] return;
    replace(w);
  }

  // StickyWaker::wake()
  //
  // Wakes the registered waker by reference (it stays registered). Any
  // thread.
  void wake() noexcept {
    const std::uint32_t prev = state_.fetch_add(kWakeOne, sync::kAcqRel);
    if (prev != 0) return;  // the waking owner or the consumer wakes for us
    std::uint32_t cur = kWakeOne;
    for (;;) {
      waker_.wake_by_ref();
      if (state_.compare_exchange_strong(cur, 0, sync::kAcqRel, sync::kAcquire)) return;
      // More wakes came in while we woke: take them and wake again.
      WEFT_ASSERT((cur & kRegistering) == 0, "StickyWaker: consumer entered during a wake");
      while (!state_.compare_exchange_weak(cur, kWakeOne, sync::kAcqRel, sync::kAcquire)) {
      }
      cur = kWakeOne;
    }
  }

  // StickyWaker::take()
  //
  // Moves the registered waker out (later wakes reach nothing until the next
  // registration). Waits out a wake in progress. Consumer only.
  Waker take() noexcept {
    enter();
    Waker w = std::move(waker_);
    leave(nullptr);
    return w;
  }

 private:
  static constexpr std::uint32_t kRegistering = 1;
  static constexpr std::uint32_t kWakeOne = 2;

  // Out of line: the rare path (a first registration, a receiver that moved
  // to another task).
  [[gnu::noinline]] void replace(const Waker& w) {
    std::uint32_t cur = 0;
    if (!state_.compare_exchange_strong(cur, kRegistering, sync::kAcquire, sync::kAcquire)) {
      // A wake is in progress on the old waker: make sure `w` is woken too;
      // its task polls again and registers then.
      WEFT_ASSERT((cur & kRegistering) == 0, "StickyWaker::register_waker called concurrently");
      w.wake_by_ref();
      return;
    }
    Waker old = std::exchange(waker_, w);
    leave(&waker_);
  }  // `old` is dropped here, outside the protocol

  // Takes the field: waits until no wake is in progress.
  void enter() noexcept {
    for (;;) {
      std::uint32_t cur = 0;
      if (state_.compare_exchange_weak(cur, kRegistering, sync::kAcquire, sync::kRelaxed)) return;
      sync::spin_hint();
    }
  }
  // Gives the field back; wakes `*wake_for` (if any) for wakes that arrived
  // while we held it.
  void leave(const Waker* wake_for) noexcept {
    std::uint32_t cur = kRegistering;
    if (state_.compare_exchange_strong(cur, 0, sync::kAcqRel, sync::kAcquire)) return;
    // Wakes arrived (they saw kRegistering and left it to us).
    (void)state_.exchange(0, sync::kAcqRel);
    if (wake_for != nullptr) wake_for->wake_by_ref();
  }

  sync::Atomic<std::uint32_t> state_{0};
  Waker waker_;  // written by the consumer only, while kRegistering or alone
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_STICKY_WAKER_H_
