// -----------------------------------------------------------------------------
// File: future/atomic_waker.h
// -----------------------------------------------------------------------------
//
// `AtomicWaker`: one waker slot that a single party (the consumer) fills with
// `register_waker` while any number of threads call `wake()` / `take()`
// concurrently, without a mutex. Rust: `futures::task::AtomicWaker` (tokio
// has a copy). Used by the mpsc receiver (channels/mpsc.h) and by
// `FuturesUnordered` for the task polling the set.
//
//   AtomicWaker aw;
//   // consumer, in poll:           // producers, after publishing data:
//   aw.register_waker(cx.waker());  data.store(x, release);
//   if (data.load(acquire)) ...     aw.wake();
//   return Pending{};
//
// Guarantee ("no lost wake-up"): if a thread does `X; wake()` and the
// consumer does `register_waker(w); check X`, then either the check sees X,
// or that `wake()` wakes `w` (or a waker registered after it). Both sides do
// read-modify-writes on the one state word, so they are totally ordered and
// whichever comes second sees the first. A wake with nothing registered is
// not remembered (the consumer's re-check after registering covers it).
//
// Costs: a 32-bit word plus a `Waker` (two pointers); no allocation, no
// lock. `register_waker` is two CAS, and clones nothing when the stored waker
// `will_wake` the new one (an executor's task waker across polls); `wake` /
// `take` are two RMWs plus the waker's own call. Freestanding (atomics only).
//
// Contract:
//   - `register_waker`: the consumer only, never concurrently with itself
//     (asserted when detected). From any thread, one at a time.
//   - `wake`, `take`: any thread, any number concurrently, also concurrently
//     with `register_waker`.
//   - `clear_exclusive`: only when no other call can run any more.
//   - Not copyable or movable; must outlive every concurrent call. Waker
//     vtable calls (wake, drop of a replaced waker) happen after the state
//     word is released, never inside the protocol's critical state.
// Cancellation: not a future. A consumer that gives up waiting just stops
// registering; the stored waker is dropped by the next `wake`/`take`, a
// later registration (replaced), `clear_exclusive`, or the destructor.
//
// Protocol (the state word is a tiny lock around `waker_`):
//   kWaiting      nobody touches `waker_`; it holds a waker or is empty.
//   kRegistering  the consumer owns `waker_` (it swaps the new waker in).
//   kWaking       a waker/taker owns `waker_` (it moves the waker out).
//   kRegistering|kWaking  a wake arrived during a registration: the
//                 registrant takes the waker out and wakes it itself.
//   register: CAS kWaiting -> kRegistering, store the waker, CAS
//     kRegistering -> kWaiting. If that fails, kWaking was set meanwhile:
//     move the waker out, exchange the state to kWaiting, wake it. If the
//     first CAS finds kWaking, a wake is in progress: wake the new waker by
//     reference (at worst a spurious wake).
//   take/wake: fetch_or(kWaking). From kWaiting: move the waker out,
//     fetch_and(~kWaking), wake or return it. From any other state the
//     registrant or another waker is responsible for the wake.
//
// Memory orderings (`state_`, the only atomic):
//   - register's entry CAS: acquire (success and failure): reads the last
//     taker's release of `waker_` (and so sees what it published first).
//   - register's exit CAS: acq_rel on success (release: publishes the new
//     `waker_` to the next taker), acquire on failure (a waker set kWaking:
//     sees its prior writes, including the data it published).
//   - register's reset exchange after a failed exit: acq_rel.
//   - take/wake's fetch_or: acq_rel (acquire: sees the registrant's
//     `waker_`; release: publishes the producer's data to the consumer's
//     next RMW on the word).
//   - take/wake's fetch_and: release (hands `waker_` back to the registrant).
//   Every access to `waker_` is thus bracketed by an acquire on entry and a
//   release on exit of its owner: never accessed concurrently.
//
// Atomics: plain `std::atomic` as elsewhere in future/ (future does not
// depend on the //tools/base:sync shim); `fetch_or(x)` style, no operators.
//
// Example:
//
//   struct Inbox {
//     std::atomic<bool> ready{false};
//     weft::AtomicWaker waker;
//     void post() { ready.store(true, std::memory_order_release); waker.wake(); }
//     weft::Poll<weft::Unit> poll_ready(weft::Context& cx) {
//       if (ready.load(std::memory_order_acquire)) return weft::Unit{};
//       waker.register_waker(cx.waker());
//       if (ready.load(std::memory_order_acquire)) return weft::Unit{};
//       return weft::Pending{};
//     }
//   };
#ifndef WEFT_FUTURE_ATOMIC_WAKER_H_
#define WEFT_FUTURE_ATOMIC_WAKER_H_

#include <atomic>
#include <cstdint>
#include <utility>

#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

class AtomicWaker {
 public:
  constexpr AtomicWaker() noexcept = default;
  AtomicWaker(const AtomicWaker&) = delete;
  AtomicWaker& operator=(const AtomicWaker&) = delete;

  // AtomicWaker::register_waker()
  //
  // Stores (a clone of) `w`, replacing and dropping the previous waker; if a
  // wake is in progress, `w` is woken right away. Consumer only (not
  // concurrently with itself).
  void register_waker(const Waker& w) {
    std::uint32_t cur = kWaiting;
    if (state_.compare_exchange_strong(cur, kRegistering, std::memory_order_acquire,
                                       std::memory_order_acquire)) {
      Waker old;
      if (!waker_.will_wake(w)) {
        old = std::move(waker_);
        waker_ = w;
      }
      std::uint32_t expected = kRegistering;
      if (!state_.compare_exchange_strong(expected, kWaiting, std::memory_order_acq_rel,
                                          std::memory_order_acquire)) {
        // A wake came in while we held the slot: it left the waking to us.
        WEFT_ASSERT(expected == (kRegistering | kWaking), "AtomicWaker: unexpected state");
        Waker taken = std::move(waker_);
        state_.exchange(kWaiting, std::memory_order_acq_rel);
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
  // Moves the registered waker out (an empty Waker if none, or if another
  // thread is handling it). Any thread.
  Waker take() noexcept {
    const std::uint32_t prev = state_.fetch_or(kWaking, std::memory_order_acq_rel);
    if (prev != kWaiting) return Waker();  // registrant or another waker will act
    Waker w = std::move(waker_);
    state_.fetch_and(~kWaking, std::memory_order_release);
    return w;
  }

  // AtomicWaker::wake()
  //
  // Wakes (and consumes) the registered waker, if any. Any thread.
  void wake() { take().wake(); }

  // AtomicWaker::clear_exclusive()
  //
  // Drops the stored waker now (e.g. so that a long-lived owner does not keep
  // a finished task alive). Only when no register/wake/take can run any more.
  void clear_exclusive() noexcept { waker_ = Waker(); }

 private:
  static constexpr std::uint32_t kWaiting = 0;
  static constexpr std::uint32_t kRegistering = 1;
  static constexpr std::uint32_t kWaking = 2;

  std::atomic<std::uint32_t> state_{kWaiting};
  Waker waker_;  // guarded by the state protocol above
};

}  // namespace weft

#endif  // WEFT_FUTURE_ATOMIC_WAKER_H_
