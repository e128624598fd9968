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
//   <an RMW both sides make>      <an RMW both sides make>
//   if (data.load(acquire)) ...   w.wake();
//   return Pending{};
//   // consumer, when it stops waiting (a pending future dropped):
//   Waker old = w.take();
//   // the last producer, once no wake will ever be needed again:
//   w.wake_final();
//
// Guarantee ("no lost wake-up"): on return from `register_waker(w)`, `w` is
// registered or has been woken by reference (a wake was in progress; the
// task polls again and registers then). A registered waker is woken by every
// later `wake()` (a wake that finds another in progress is handed to it, and
// that one wakes again after it) until `take()` (wakes overlapping a take are
// dropped: the consumer stopped waiting; a final wake may still reach the
// taken waker, harmlessly), a replacement, or `wake_final()`.
// A wake with nothing registered is not remembered. Unlike AtomicWaker's,
// registering an unchanged waker is not an atomic step, so it does not order
// the consumer's later checks against a producer's wake: the caller must
// (the mpsc receiver's park() RMW on the queue's tail does, and producers
// that wake after changing other state first make an RMW on that word:
// `MpscQueue::sync_with_park`).
//
// Costs: a 32-bit word, the waker as two atomic pointers, a flag; no
// allocation, no lock. `register_waker` with a waker that `will_wake` the
// stored one: two relaxed loads and a compare. Otherwise a clone, two CAS
// (and the old waker's drop). `wake`: two RMWs plus the waker's
// `wake_by_ref` (a concurrent second `wake`: one RMW). `take`: one or two
// RMWs; it never waits. Keeps the registered waker (so its task) alive
// until `take`, a replacement, `wake_final` or the destructor: a waker that
// owns the consumer forms a cycle that only `wake_final` (or `take`) breaks.
// Freestanding (atomics only).
//
// Contract:
//   - `register_waker` and `take`: the consumer only, one call at a time.
//   - `wake`, `wake_final`: any thread, any number concurrently, also
//     concurrently with the consumer's calls. `wake_final` at most once.
//   - A waker's `wake_by_ref` runs while the wake owns the word: it must not
//     block on the consumer, and if it calls back into this slot, a
//     `wake()` is handed over (the owner wakes once more) and `take()` or
//     `register_waker` do not wait (they leave the drop to the owner, or
//     wake the new waker); a `wake_by_ref` that always triggers another
//     `wake()` would loop.
//   - Not copyable or movable; must outlive every concurrent call.
// Cancellation: not a future. A consumer that stops waiting calls `take()`
// (or leaves the waker registered: later wakes are then spurious).
//
// Protocol. The state word:
//   bit 0        kRegistering: the consumer is replacing the waker.
//   bit 1        kDropRequest: set by `take`; alone (from idle) it means the
//                consumer holds the field; with wakes in progress it asks
//                the waking owner to drop the waker.
//   bit 2        kFinal: `wake_final` happened; the slot is inert.
//   bits 3..31   wakes in progress or requested (kWakeOne).
//   Only the consumer stores a waker. Wakers read it (`wake_by_ref`) while
//   they own the word, and a waking owner moves it out on kDropRequest or
//   kFinal. The consumer's fast path reads it without the word: relaxed
//   atomic loads (no data race); a stale "registered" can only come from a
//   final drop (no wake is needed after it) or from a drop it requested
//   itself (`drop_pending_` then sends it to the slow path).
//   register (same waker): return. register (other): clone, CAS 0 ->
//     kRegistering, store, CAS kRegistering -> 0; if wakes arrived meanwhile
//     (they saw kRegistering and left), turn the word into one wake (keeping
//     kFinal) and run the owner's loop below for the new waker. If the first
//     CAS fails, wake the new waker by reference (finalised: do nothing).
//   take: fetch_or(kDropRequest). From idle: move the waker out, CAS
//     kDropRequest -> 0 (or fetch_and(kFinal): arriving wakes are moot).
//     Else return nothing; the owner drops it.
//   wake: fetch_add(kWakeOne) (wake_final: kWakeOne | kFinal). From 0 this
//     caller owns the word: on kDropRequest/kFinal it moves the waker out,
//     sets the word to idle (keeping kFinal) and, if final, wakes it by
//     value; else it calls `wake_by_ref`, then CASes kWakeOne -> 0; if more
//     wakes came in it takes them (CAS to kWakeOne) and wakes again; if a
//     take or the final wake came in, it drops as above. From any other
//     value it returns: the owner or the consumer acts for it.
//
// Memory orderings (`state_`; the waker's two pointers are relaxed and
// ordered by it). Every write to `state_` is a read-modify-write, so release
// sequences run through all of them (a plain store would break that):
//   - wake's fetch_add: acq_rel (release: publishes the caller's data to
//     whoever reads the word later: the waking owner's CAS, the consumer's
//     CAS; acquire: the owner sees the consumer's last store of the waker).
//   - the owner's closing CAS: acq_rel, failure acquire: it reads every
//     later fetch_add, so a re-wake follows their data.
//   - the consumer's entry CAS (acquire) / take's fetch_or (acq_rel): the
//     last owner's reads of the waker happen before our stores (its closing
//     RMW released); exit CAS and fetch_and: acq_rel.
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
  ~StickyWaker() { (void)Waker::from_raw(load_raw()); }  // drops what is left

  // StickyWaker::register_waker()
  //
  // On return `w` is registered, or has been woken by reference (a wake was
  // in progress: its task polls again and registers then). Free when the
  // stored waker `will_wake` `w`. Consumer only.
  void register_waker(const Waker& w) {
    // Relaxed reads of our own field: only we write it, except a waking
    // owner that drops it on our request (drop_pending_) or after the last
    // wake (wake_final: a stale "registered" then changes nothing).
    if (!drop_pending_ && data_.load(sync::kRelaxed) == w.data() &&
        vtable_.load(sync::kRelaxed) == w.vtable()) [[likely]] {
      return;
    }
    replace(w);
  }

  // StickyWaker::wake()
  //
  // Wakes the registered waker by reference (it stays registered). Any
  // thread.
  void wake() noexcept { wake_with(kWakeOne); }

  // StickyWaker::wake_final()
  //
  // The last wake this slot will need (the channel's last sender is gone):
  // wakes the waker and drops it, so that a waker that owns the consumer
  // (a reference cycle) does not keep both alive. Any thread.
  void wake_final() noexcept { wake_with(kWakeOne | kFinal); }

  // StickyWaker::take()
  //
  // Unregisters: later wakes reach nothing until the next registration.
  // Returns the waker, or an empty one if a wake was in progress (that
  // wake's owner drops the waker when its wake_by_ref returns). Never waits.
  // Consumer only.
  Waker take() noexcept {
    std::uint32_t cur = state_.fetch_or(kDropRequest, sync::kAcqRel);
    if (cur != 0) {
      // A wake in progress: its owner drops the waker. (Finalised: it was
      // dropped already.) Until we hold the word again the field is not
      // ours (drop_pending_).
      drop_pending_ = true;
      return Waker();
    }
    // The word was idle: kDropRequest alone now means the consumer holds
    // the field (wakes arriving leave it to us; they are moot).
    drop_pending_ = false;
    Waker w = Waker::from_raw(exchange_raw(noop_raw()));
    cur = kDropRequest;
    if (!state_.compare_exchange_strong(cur, 0, sync::kAcqRel, sync::kAcquire)) {
      (void)state_.fetch_and(kFinal, sync::kAcqRel);  // wakes meanwhile are moot; kFinal stays
    }
    return w;
  }

 private:
  static constexpr std::uint32_t kRegistering = 1;
  static constexpr std::uint32_t kDropRequest = 2;  // take() during a wake
  static constexpr std::uint32_t kFinal = 4;        // wake_final: drop after waking
  static constexpr std::uint32_t kWakeOne = 8;      // wakes in progress or requested

  static RawWaker noop_raw() noexcept { return RawWaker{nullptr, &future_internal::kNoopVTable}; }
  RawWaker load_raw() const noexcept { return RawWaker{data_.load(sync::kRelaxed), vtable_.load(sync::kRelaxed)}; }
  RawWaker exchange_raw(RawWaker r) noexcept {
    const RawWaker old = load_raw();
    data_.store(r.data, sync::kRelaxed);
    vtable_.store(r.vtable, sync::kRelaxed);
    return old;
  }

  // wake_with() and own() are forced inline into `wake()` and
  // `wake_final()`: GCC kept `own` out of line behind a five-register
  // prologue, once per wake of a parked receiver. `wake()` itself stays out
  // of line: forced into the sender's push, it made GCC outline the push
  // (unbounded mpsc: +17% instructions per message).
  [[gnu::always_inline]] void wake_with(std::uint32_t add) noexcept {
    const std::uint32_t prev = state_.fetch_add(add, sync::kAcqRel);
    // Busy (a waking owner or the consumer acts for us) or dropped for good.
    if (prev != 0) return;
    own(add);
  }

  // We own the word (its value was `cur`: wakes, maybe kDropRequest or
  // kFinal; never kRegistering): wake until no wake is left, or drop.
  [[gnu::always_inline]] void own(std::uint32_t cur) noexcept {
    for (;;) {
      if (cur & (kDropRequest | kFinal)) {
        // Drop the waker: the consumer stopped waiting (take), or no wake
        // will be needed any more (final: wake it one last time, by value).
        // Wakes that came in meanwhile are moot, or covered by that one.
        Waker gone = Waker::from_raw(exchange_raw(noop_raw()));
        const std::uint32_t last = state_.fetch_and(kFinal, sync::kAcqRel);  // kFinal stays
        if (last & kFinal) std::move(gone).wake();
        return;  // `gone` is dropped here, outside the protocol
      }
      const RawWaker r = load_raw();
      r.vtable->wake_by_ref(r.data);
      // Close. `cur` is our last view of the word; loop back to wake again
      // (more wakes came in) or to drop (a take or the final wake came in).
      for (;;) {
        WEFT_ASSERT((cur & kRegistering) == 0, "StickyWaker: consumer entered during a wake");
        if (cur & (kDropRequest | kFinal)) break;
        if (cur == kWakeOne) {
          if (state_.compare_exchange_weak(cur, 0, sync::kAcqRel, sync::kAcquire)) return;
          continue;
        }
        if (state_.compare_exchange_weak(cur, kWakeOne, sync::kAcqRel, sync::kAcquire)) {
          cur = kWakeOne;
          break;
        }
      }
    }
  }

  // Out of line: the rare path (a first registration, a receiver that moved
  // to another task, a registration after take()).
  [[gnu::noinline]] void replace(const Waker& w) {
    Waker fresh = w;  // the clone is made outside the protocol
    std::uint32_t cur = 0;
    if (!state_.compare_exchange_strong(cur, kRegistering, sync::kAcquire, sync::kAcquire)) {
      WEFT_ASSERT((cur & kRegistering) == 0, "StickyWaker::register_waker called concurrently");
      // Finalised: no wake will come or be needed (the caller's check after
      // its RMW sees why). Else a wake is in progress: `w` is woken instead
      // of stored; its task polls again and registers then.
      if ((cur & kFinal) == 0) fresh.wake_by_ref();
      return;
    }
    drop_pending_ = false;  // the word was idle: any requested drop is done
    Waker old = Waker::from_raw(exchange_raw(std::move(fresh).into_raw()));
    leave();
  }  // `old` is dropped here, outside the protocol

  // Gives the word back after replace(). Wakes that arrived meanwhile (they
  // saw kRegistering and left it to us) make us their waking owner: the new
  // waker is woken (or, on kFinal, dropped after waking) while we still
  // hold the word, so a wake_final cannot drop it under us.
  void leave() noexcept {
    std::uint32_t cur = kRegistering;
    if (state_.compare_exchange_strong(cur, 0, sync::kAcqRel, sync::kAcquire)) return;
    // However many wakes arrived, one wake-up covers them.
    while (!state_.compare_exchange_weak(cur, kWakeOne | (cur & kFinal), sync::kAcqRel, sync::kAcquire)) {
    }
    own(kWakeOne | (cur & kFinal));
  }

  sync::Atomic<std::uint32_t> state_{0};
  // The registered waker (an owned reference), as two atomics so that the
  // consumer's unsynchronised fast-path read is not a data race with a
  // waking owner that drops it (relaxed: the state word orders them).
  sync::Atomic<const void*> data_{nullptr};
  sync::Atomic<const RawWakerVTable*> vtable_{&future_internal::kNoopVTable};
  bool drop_pending_ = false;  // consumer-only: a take() left its drop to a waker
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_STICKY_WAKER_H_
