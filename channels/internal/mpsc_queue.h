// -----------------------------------------------------------------------------
// File: channels/internal/mpsc_queue.h
// -----------------------------------------------------------------------------
//
// `MpscQueue<T>`: the lock-free multi-producer single-consumer queue under
// `mpsc` and `unbounded_mpsc`. Unbounded: a linked list of blocks of
// `kBlockSize` slots; consumed blocks are recycled to the end of the list, so
// a queue in steady state allocates nothing. Rust: tokio's
// `sync::mpsc::list` / `block` (same idea; different ready-flag and
// wake-up protocol, see below). Not API.
//
//   producers:  push(std::move(v))  -> kPushed | kPushedWake | kClosed
//   consumer:   T* v = peek();  use(std::move(*v));  pop();
//               park() / unpark()   (the "consumer sleeps" bit, see below)
//               close()             (producers fail from then on)
//
// The tail word (`tail_`, one atomic uint64):
//   bits 0..61  the next slot index to claim
//   bit 62      kParkedBit: the consumer is (or may be) asleep
//   bit 63      kClosedBit: closed; claims fail
//
// Push (any thread):
//   1. `tail_.fetch_add(1)` (acq_rel) claims index i and reads both bits.
//      If kClosedBit was set, nothing was claimed: return kClosed (the value
//      stays with the caller). The index counter still moved; the consumer
//      never reads past the index it saw when it closed.
//   2. Find i's block: load `fast_tail_` (acquire; the newest block a
//      producer located). If that is i's block (the common case), done. If
//      it is before it, walk `next` (acquire), linking new blocks at the end
//      (CAS acq_rel on `next`) as needed, then move `fast_tail_` forward to
//      i's block (CAS, forward only). If it is past i's block (this producer
//      claimed just before others moved on), walk from `block_tail_` (the
//      safe hint, always at or before every block still to be located).
//   3. Construct the value in the slot, then `ready.store(1, release)`: a
//      plain store, no read-modify-write.
//   4. If kParkedBit was set at step 1: clear it (`fetch_and`, acq_rel) and
//      return kPushedWake; the caller then wakes the consumer. Later pushes
//      see the bit clear and do not wake again.
// So a push is one RMW (the claim) unless the consumer just went to sleep.
//
// Consumer (one thread at a time; rx-owned fields need no atomics):
//   peek: `ready.load(acquire)` of slot `head_` (synchronises with step 3,
//   so the value is visible). Slots are consumed strictly in index order.
//
// Sleeping without lost wake-ups (park protocol):
//   The consumer, each time it is about to return Pending: registers its
//   waker (StickyWaker: free when unchanged), then park(): `tail_.fetch_or(kParkedBit)`
//   (acq_rel), which returns P, the tail index at that moment, then looks at
//   slot head_ again. Claim: if head_ >= P and the slot is not written, a
//   wake will come after it is. Its producer claims index head_ after the
//   fetch_or (in `tail_`'s modification order). Either the bit is still set
//   then: that producer sees it and wakes after writing; or some push cleared
//   it before: that fetch_and comes after the fetch_or in the modification
//   order and reads from its release sequence (all RMWs), so the
//   registration happens before the wake that push makes after clearing:
//   the consumer is woken (maybe early) and parks again. (A push that saw
//   the bit of an earlier park may clear the new one: the same holds.)
//   If head_ < P, the slot was claimed before the
//   bit was set and its producer may never look at the bit: the consumer
//   must not sleep on it (the channel spins briefly, then yields).
//   unpark(): `fetch_and(~kParkedBit)` (a dropped pending recv).
//
// Block recycling (why a block is never freed while a producer may read it):
//   - Two hints, both only ever moving forward along the list (CAS, compared
//     by `start`); `fast_tail_` is past a block before that block is
//     released.
//   - `block_tail_` advances past block B (CAS acq_rel) only when all of B's
//     slots are written: every producer that ever needs B has found it, so no
//     producer is stranded behind it. Producers check the ready flags; the
//     consumer, which clears each flag as it consumes the slot, moves it past
//     a block when it leaves it. Whoever moved it (one CAS wins) makes
//     sure `fast_tail_` is past B too, then reads the tail with an RMW
//     (`fetch_add(0)`, acq_rel) into `B.observed_tail` and sets `B.released`
//     (release). Any producer that read either hint as B (or as a block
//     before B) claimed its index before that RMW — otherwise the RMW chain
//     on `tail_` would make both hint updates visible to its hint loads, which
//     come after its claim — so its index < observed_tail.
//   - The consumer reclaims B (resets it and links it at the end of the
//     list if the end is within 3 blocks of `fast_tail_`, CAS acq_rel; else
//     frees it) only when `released` (acquire) and `head_ >=
//     observed_tail`: every producer that could have walked through B has
//     written its slot (the consumer read its ready flag with acquire), so it
//     is done walking. Blocks at or after `block_tail_` are never released,
//     so both hints always point at live blocks.
//   - A producer preempted in the middle of a write pins `block_tail_` (its
//     block is not all written) but not `fast_tail_`: only producers that
//     fell behind the fast hint walk from the pinned safe hint.
//
// Costs: push = 1 RMW + 1 release store (+ once per block: a step along the
// list, a CAS on the fast hint, and 32 loads + 2 RMWs to advance the safe
// hint). peek/pop = 1 acquire load and a relaxed store; no RMW. One block (kBlockSize * (sizeof(T) + align) +
// 40 bytes) per 32 slots in flight; consumed blocks are recycled (at most a
// few spares are kept beyond the producers; the rest is freed).
// Contract: T is nothrow-move-constructible (a claimed slot must be
// written); out of memory while growing aborts (a claimed slot cannot be
// given back). One consumer at a time. The destructor runs when no producer
// or consumer is active; it destroys every value still in the queue.
#ifndef WEFT_CHANNELS_INTERNAL_MPSC_QUEUE_H_
#define WEFT_CHANNELS_INTERNAL_MPSC_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft::channels_internal {

template <class T, std::size_t kBlockSize = 32>
class MpscQueue {
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "MpscQueue<T>: T must be nothrow move constructible (a claimed slot must be filled)");
  static_assert(kBlockSize >= 2 && (kBlockSize & (kBlockSize - 1)) == 0, "kBlockSize: a power of two");

 public:
  static constexpr std::uint64_t kClosedBit = std::uint64_t{1} << 63;
  static constexpr std::uint64_t kParkedBit = std::uint64_t{1} << 62;
  static constexpr std::uint64_t kIndexMask = kParkedBit - 1;

  enum class PushResult : std::uint8_t { kPushed, kPushedWake, kClosed };

  MpscQueue() {
    Block* b = new_block(0);
    fast_tail_.store(b, sync::kRelaxed);
    block_tail_.store(b, sync::kRelaxed);
    head_block_ = b;
    free_head_ = b;
  }
  MpscQueue(const MpscQueue&) = delete;
  MpscQueue& operator=(const MpscQueue&) = delete;

  ~MpscQueue() {
    while (T* v = peek()) {
      (void)v;
      pop();
    }
    for (Block* b = free_head_; b != nullptr;) {
      Block* next = b->next.load(sync::kRelaxed);
      delete b;
      b = next;
    }
  }

  // ---- producers (any thread) ----

  // Moves `v` into the queue, unless closed (kClosed: `v` is untouched).
  // (push, peek and pop are forced inline, their rare paths kept out of
  // line: GCC 12 otherwise called them out of line from coroutine bodies.)
  [[gnu::always_inline]] inline PushResult push(T&& v) noexcept {
    const std::uint64_t prev = tail_.fetch_add(1, sync::kAcqRel);
    if ((prev & kClosedBit) != 0) return PushResult::kClosed;
    const std::uint64_t i = prev & kIndexMask;
    Block* b = fast_tail_.load(sync::kAcquire);
    if (b->start != (i & ~kOffsetMask)) [[unlikely]] b = find_block(b, i);
    Slot& s = b->slots[i & kOffsetMask];
    ::new (static_cast<void*>(&s.value)) T(std::move(v));
    s.ready.store(1, sync::kRelease);
    if ((prev & kParkedBit) == 0) return PushResult::kPushed;
    tail_.fetch_and(~kParkedBit, sync::kAcqRel);  // one wake per park is enough
    return PushResult::kPushedWake;
  }

  // The next index a push would claim (acquire; a snapshot).
  std::uint64_t tail_index() const noexcept { return tail_.load(sync::kAcquire) & kIndexMask; }
  bool is_closed() const noexcept { return (tail_.load(sync::kAcquire) & kClosedBit) != 0; }

  // ---- consumer (one thread at a time) ----

  // The value at the head if it is written; nullptr otherwise (empty, or
  // claimed but not yet written).
  [[gnu::always_inline]] inline T* peek() noexcept {
    Block* b = head_block_;
    const std::uint64_t off = head_ & kOffsetMask;
    if (off == 0 && b->start != head_) [[unlikely]] {  // consumed all of `b`: move on
      b = advance_head_block(b);
      if (b == nullptr) return nullptr;
    }
    Slot& s = b->slots[off];
    if (s.ready.load(sync::kAcquire) == 0) return nullptr;
    return std::launder(reinterpret_cast<T*>(&s.value));
  }

  // Destroys the value at the head (peek() must have returned it) and
  // advances.
  [[gnu::always_inline]] inline void pop() noexcept {
    Slot& s = head_block_->slots[head_ & kOffsetMask];
    std::launder(reinterpret_cast<T*>(&s.value))->~T();
    s.ready.store(0, sync::kRelaxed);  // ready for reuse (the line is hot now)
    head_ += 1;
  }

  // The index of the next value to consume.
  std::uint64_t head_index() const noexcept { return head_; }

  // Sets kParkedBit; returns the tail index at that moment (see park
  // protocol). Register the waker first.
  std::uint64_t park() noexcept { return tail_.fetch_or(kParkedBit, sync::kAcqRel) & kIndexMask; }
  void unpark() noexcept { tail_.fetch_and(~kParkedBit, sync::kRelaxed); }
  // An RMW that changes nothing (acq_rel): a producer that changed other
  // state the consumer checks after park() (the sender count, the
  // semaphore) and is about to wake it calls this first, so that either the
  // consumer's park() reads from it (and sees that state) or it reads from
  // the park() (and its wake happens after the consumer's registration).
  void sync_with_park() noexcept { (void)tail_.fetch_or(0, sync::kAcqRel); }

  // Sets kClosedBit; returns the tail index at that moment: exactly the
  // slots below it will be written. Idempotent.
  std::uint64_t close() noexcept { return tail_.fetch_or(kClosedBit, sync::kAcqRel) & kIndexMask; }

  static constexpr std::size_t block_size() noexcept { return kBlockSize; }

 private:
  static constexpr std::uint64_t kOffsetMask = kBlockSize - 1;
  static constexpr int kReclaimTries = 3;

  struct Slot {
    sync::Atomic<std::uint8_t> ready{0};  // 1: `value` constructed (release)
    alignas(T) unsigned char value[sizeof(T)];
  };

  struct Block {
    explicit Block(std::uint64_t s) noexcept : start(s) {}
    std::uint64_t start;                      // first index; set before publication
    sync::Atomic<Block*> next{nullptr};       // release on link, acquire on walk
    sync::Atomic<bool> released{false};       // block_tail_ moved past (release)
    std::uint64_t observed_tail = 0;          // published by `released`
    Slot slots[kBlockSize];

    // (The ready flags were cleared one by one as the slots were consumed.)
    void reset(std::uint64_t s) noexcept {
      start = s;
      next.store(nullptr, sync::kRelaxed);
      released.store(false, sync::kRelaxed);
      observed_tail = 0;
    }
    bool all_written() const noexcept {
      for (const Slot& sl : slots) {
        if (sl.ready.load(sync::kAcquire) == 0) return false;
      }
      return true;
    }
  };

  static Block* new_block(std::uint64_t start) noexcept {
    Block* b = new (std::nothrow) Block(start);
    WEFT_HARDENING_ASSERT(b != nullptr, "mpsc: out of memory growing the queue");
    return b;
  }

  // From `b` (the fast hint, not i's block) to the block of index `i`;
  // then moves both hints forward.
  // peek's block change: the next block, or nullptr if not linked yet.
  [[gnu::noinline]] Block* advance_head_block(Block* b) noexcept {
    Block* next = b->next.load(sync::kAcquire);
    if (next == nullptr) return nullptr;
    head_block_ = next;
    // Its ready flags are cleared now, so no producer can see it "all
    // written": move the safe hint past it here if it is still there.
    try_advance_safe_hint(b, next);
    reclaim_passed_blocks();
    return next;
  }

  [[gnu::noinline]] Block* find_block(Block* b, std::uint64_t i) noexcept {
    const std::uint64_t target = i & ~kOffsetMask;
    if (b->start > target) b = block_tail_.load(sync::kAcquire);  // fell behind the fast hint
    while (b->start != target) {
      WEFT_ASSERT(b->start < target, "mpsc queue: hint is past the claimed index");
      Block* next = b->next.load(sync::kAcquire);
      if (next == nullptr) next = grow(b);
      b = next;
    }
    Block* f = fast_tail_.load(sync::kAcquire);
    while (f->start < target) {
      if (fast_tail_.compare_exchange_weak(f, b, sync::kAcqRel, sync::kAcquire)) break;
    }
    advance_safe_hint(b);
    return b;
  }

  // Moves `block_tail_` past the fully written blocks before `limit`,
  // releasing each for recycling (see "Block recycling").
  void advance_safe_hint(Block* limit) noexcept {
    Block* s = block_tail_.load(sync::kAcquire);
    while (s != limit && s->start < limit->start && s->all_written()) {
      Block* next = s->next.load(sync::kAcquire);  // non-null: `limit` follows
      if (!try_advance_safe_hint(s, next)) return;
      s = next;
    }
  }

  // If `block_tail_` is `s` (every slot of which is written), moves it to
  // `next` and releases `s`. False if someone else moved it.
  bool try_advance_safe_hint(Block* s, Block* next) noexcept {
    Block* expected = s;
    if (!block_tail_.compare_exchange_strong(expected, next, sync::kAcqRel, sync::kAcquire)) return false;
    // The fast hint past `s` before `s` is released. Forward only (by
    // `start`): another advancer may have moved it beyond `next` already.
    Block* f = fast_tail_.load(sync::kAcquire);
    while (f->start <= s->start) {
      if (fast_tail_.compare_exchange_weak(f, next, sync::kAcqRel, sync::kAcquire)) break;
    }
    s->observed_tail = tail_.fetch_add(0, sync::kAcqRel) & kIndexMask;
    s->released.store(true, sync::kRelease);  // last touch of `s`
    return true;
  }

  // Links a new block after `b`; if another thread linked one first, keeps
  // the new block as a spare at the end of the list. Returns b's next.
  Block* grow(Block* b) noexcept {
    Block* nb = new_block(b->start + kBlockSize);
    Block* expected = nullptr;
    if (b->next.compare_exchange_strong(expected, nb, sync::kAcqRel, sync::kAcquire)) return nb;
    append(expected, nb);
    return expected;
  }

  // Links `nb` (owned, unpublished) at the end of the list, trying at most
  // kReclaimTries blocks from `from` on; frees it if the end is further away
  // (so at most a few spare blocks wait beyond the producers, and an idle
  // queue after a burst gives its memory back).
  void append(Block* from, Block* nb) noexcept {
    Block* cur = from;
    for (int t = 0; t < kReclaimTries; ++t) {
      nb->start = cur->start + kBlockSize;
      Block* expected = nullptr;
      if (cur->next.compare_exchange_strong(expected, nb, sync::kAcqRel, sync::kAcquire)) return;
      cur = expected;
    }
    delete nb;
  }

  // Consumer: recycles the blocks before `head_block_` that no producer can
  // still be reading.
  void reclaim_passed_blocks() noexcept {
    while (free_head_ != head_block_) {
      Block* b = free_head_;
      if (!b->released.load(sync::kAcquire) || b->observed_tail > head_) return;
      free_head_ = b->next.load(sync::kRelaxed);  // non-null: head_block_ follows
      b->reset(0);
      // Append near the producers: the fast hint is a live block (never
      // released, and only this thread reclaims), and the walk from it to
      // the end is short however far producers ran ahead.
      append(fast_tail_.load(sync::kAcquire), b);
    }
  }

  // Producer side (own cache line).
  alignas(64) sync::Atomic<std::uint64_t> tail_{0};
  sync::Atomic<Block*> fast_tail_{nullptr};   // newest located block (a hint)
  sync::Atomic<Block*> block_tail_{nullptr};  // safe hint: <= every block still to be located
  // Consumer side (own cache line); rx-owned, plain.
  alignas(64) std::uint64_t head_ = 0;
  Block* head_block_ = nullptr;
  Block* free_head_ = nullptr;  // oldest block not yet recycled (<= head_block_)
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_MPSC_QUEUE_H_
