// -----------------------------------------------------------------------------
// File: executor/internal/local_queue.h
// -----------------------------------------------------------------------------
//
// `LocalQueue<T, N>`: a worker's bounded run queue in the work-stealing
// `ThreadPool`. One owner thread pushes at the tail and pops at the head;
// any other thread may *steal half* of the queue (from the head) into its
// own `LocalQueue` with one compare-and-swap. Rust: tokio's
// `runtime/scheduler/multi_thread/queue.rs`, which this follows closely.
//
// Why not a Chase-Lev deque: Chase-Lev gives the owner LIFO order and lets a
// thief take one item per CAS. The pool gets LIFO locality from its LIFO
// slot instead (the task just woken by the running task runs next), and
// wants the queue itself FIFO (fairness: a task that keeps waking itself
// cannot starve the rest of the queue) and thieves that move half of a
// queue in one claim (fewer steals, less contention on the victim).
//
//   LocalQueue<Task*> q;                       // capacity 256
//   q.push_back(t, [&](Task* const* items, std::size_t n) {
//     inject.push_batch(items, n);             // full: half the queue + t
//   });
//   Task* next = q.pop();                      // owner, FIFO; nullptr if empty
//   Task* got = victim.steal_into(q);          // thief: moves ~half, returns one
//
// Layout: `head_` packs two 32-bit indices, `steal` (high half) and `real`
// (low half); `tail_` is 32 bits; indices grow without bound and wrap
// (all arithmetic is modulo 2^32; slot = index % N).
//
//   real: the next item the owner pops (and the start of what is stealable);
//   steal: the first item still being copied out by a thief; `steal != real`
//          means a steal is in progress, and no other thief may start one;
//   tail: one past the last pushed item; written only by the owner.
//
//   Items live in [real, tail). Slots in [steal, real) are being read by a
//   thief and must not be overwritten: the owner treats the queue as full
//   when `tail - steal == N`.
//
// Transitions (one CAS on `head_` each; `real` only moves forwards):
//
//   (1) owner pop:         (s, r) -> (r+1, r+1) if s == r, else (s, r+1)
//   (2) thief claim:       (r, r) -> (r, r+n)   only if no steal in progress
//   (3) thief copies items [r, r+n) into its own queue, then
//   (4) thief release:     (s, r') -> (r', r')  (s = its claim start)
//   (5) owner overflow:    (r, r) -> (r+N/2, r+N/2) when full and no steal is
//                          in progress: the owner moves N/2 items plus the new
//                          one to the overflow sink (the pool's inject queue)
//
// Memory ordering:
//   - push: the owner writes the slot (relaxed), then `tail_.store(release)`;
//     thieves read `tail_` with acquire, so a slot they claim is initialised.
//   - every CAS on `head_` is acq_rel (acquire on failure): a thief's release
//     in (4) publishes that it finished reading slots [s, r'); the owner
//     reads `head_` with acquire before reusing a slot, so it never
//     overwrites a slot a thief is still copying.
//   - `steal_into` publishes the copied items in the destination with its
//     own `tail_.store(release)`, exactly like a push.
//   - the overflow claim (5) needs no acquire: the owner reads back slots it
//     wrote itself.
//   - `len()`/`is_empty()` from other threads are snapshots (acquire loads).
//   Slots are `Atomic<T>` accessed relaxed: the indices above order
//   them; relaxed atomics keep a torn or racy read impossible by construction.
//
// Costs: no allocation (the ring is inline: N pointers plus two words, each
// index on its own cache line); push/pop are one CAS at most and no CAS on
// push unless the queue is full; a steal is two CAS plus copying n items.
// Contract: `T` is a pointer type (nullptr means "none"). Only the owner
// thread calls `push_back`, `push_back_batch`, `pop`, `remaining_slots`, and
// `steal_into` with this queue as the *destination*; `steal_into` on a
// victim, `len`, `is_empty` are callable from any thread. The queue does not
// own its items: whoever empties it decides what a leftover item means.
// Hosted or freestanding (atomics only).
#ifndef WEFT_EXECUTOR_INTERNAL_LOCAL_QUEUE_H_
#define WEFT_EXECUTOR_INTERNAL_LOCAL_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "executor/internal/sync.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// LocalQueue<T, N>
//
// See the header comment. `N` is a power of two, at least 4.
template <class T, std::uint32_t N = 256>
class LocalQueue {
  static_assert(std::is_pointer_v<T>, "LocalQueue<T>: T must be a pointer type");
  static_assert(N >= 4 && (N & (N - 1)) == 0, "LocalQueue<T, N>: N must be a power of two >= 4");

 public:
  static constexpr std::uint32_t kCapacity = N;

  LocalQueue() noexcept : LocalQueue(0) {}
  // Starts every index at `start` (tests use it to cross the 2^32 wrap).
  explicit LocalQueue(std::uint32_t start) noexcept {
    head_.store(pack(start, start), std::memory_order_relaxed);
    tail_.store(start, std::memory_order_relaxed);
    for (auto& s : buffer_) s.store(nullptr, std::memory_order_relaxed);
  }
  // Not copyable or movable: thieves hold its address.
  LocalQueue(const LocalQueue&) = delete;
  LocalQueue& operator=(const LocalQueue&) = delete;

  // LocalQueue::push_back() (owner)
  //
  // Appends `item`. When the queue is full, calls `overflow(const T* items,
  // std::size_t n)` instead, handing over either N/2 of the oldest items and
  // `item` (n = N/2 + 1, oldest first), or just `item` (n = 1) while a thief
  // is busy copying (tokio does the same: the thief is about to free room,
  // and the item still goes to a queue every worker polls). The items must
  // be consumed inside the call.
  template <class Overflow>
  void push_back(T item, Overflow&& overflow) {
    WEFT_ASSERT(item != nullptr, "LocalQueue::push_back: item must not be null");
    for (;;) {
      const std::uint64_t head = head_.load(std::memory_order_acquire);
      const std::uint32_t steal = steal_of(head);
      const std::uint32_t real = real_of(head);
      const std::uint32_t tail = tail_.load(std::memory_order_relaxed);  // we are the only writer
      if (static_cast<std::uint32_t>(tail - steal) < N) {
        buffer_[tail & kMask].store(item, std::memory_order_relaxed);
        tail_.store(tail + 1, std::memory_order_release);
        return;
      }
      if (steal != real) {
        // A thief is copying out; it will free room soon. Do not wait for it.
        T one[1] = {item};
        overflow(static_cast<const T*>(one), std::size_t{1});
        return;
      }
      if (push_overflow(item, real, tail, overflow)) return;
      // A thief claimed items between our load and our CAS: there is room now.
    }
  }

  // LocalQueue::push_back_batch() (owner)
  //
  // Appends `n` items; requires `n <= remaining_slots()` (the pool moves a
  // batch from the inject queue this way).
  void push_back_batch(const T* items, std::size_t n) noexcept {
    WEFT_ASSERT(n <= remaining_slots(), "LocalQueue::push_back_batch: more items than free slots");
    std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < n; ++i) {
      buffer_[tail & kMask].store(items[i], std::memory_order_relaxed);
      tail += 1;
    }
    tail_.store(tail, std::memory_order_release);
  }

  // LocalQueue::pop() (owner)
  //
  // Removes and returns the oldest item, or nullptr if the queue is empty.
  T pop() noexcept {
    std::uint64_t head = head_.load(std::memory_order_acquire);
    std::uint32_t idx;
    for (;;) {
      const std::uint32_t steal = steal_of(head);
      const std::uint32_t real = real_of(head);
      const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
      if (real == tail) return nullptr;
      const std::uint32_t next_real = real + 1;
      // (1): while no thief is copying, `steal` follows `real`.
      const std::uint64_t next = steal == real ? pack(next_real, next_real) : pack(steal, next_real);
      if (head_.compare_exchange_weak(head, next, std::memory_order_acq_rel, std::memory_order_acquire)) {
        idx = real;
        break;
      }
    }
    return buffer_[idx & kMask].load(std::memory_order_relaxed);
  }

  // LocalQueue::steal_into() (thief; `dst` is the thief's own queue)
  //
  // Moves about half (the larger half: ceil(len / 2)) of this queue's items
  // into `dst` and returns one of them for the thief to run at once, or
  // nullptr when there was nothing to take, another thief is already
  // stealing from this queue, or `dst` is more than half full. `*moved`
  // (optional) receives the number of items taken, the returned one included.
  T steal_into(LocalQueue& dst, std::uint32_t* moved = nullptr) noexcept {
    WEFT_ASSERT(&dst != this, "LocalQueue::steal_into: a queue cannot steal from itself");
    const std::uint32_t dst_tail = dst.tail_.load(std::memory_order_relaxed);  // the thief owns dst
    // Room check: dst's own thieves may hold slots, count them as used.
    const std::uint32_t dst_steal = steal_of(dst.head_.load(std::memory_order_acquire));
    if (static_cast<std::uint32_t>(dst_tail - dst_steal) > N / 2) {
      if (moved != nullptr) *moved = 0;
      return nullptr;
    }

    std::uint32_t n = steal_into2(dst, dst_tail);
    if (moved != nullptr) *moved = n;
    if (n == 0) return nullptr;
    n -= 1;  // the newest stolen item is returned, not queued
    const T ret = dst.buffer_[(dst_tail + n) & kMask].load(std::memory_order_relaxed);
    if (n != 0) dst.tail_.store(dst_tail + n, std::memory_order_release);
    return ret;
  }

  // Number of items (a snapshot when called by a non-owner).
  std::uint32_t len() const noexcept {
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    const std::uint32_t tail = tail_.load(std::memory_order_acquire);
    return tail - real_of(head);
  }
  bool is_empty() const noexcept { return len() == 0; }

  // Free slots for `push_back_batch` (owner).
  std::uint32_t remaining_slots() const noexcept {
    const std::uint32_t steal = steal_of(head_.load(std::memory_order_acquire));
    const std::uint32_t tail = tail_.load(std::memory_order_relaxed);
    return N - (tail - steal);
  }

 private:
  static constexpr std::uint32_t kMask = N - 1;

  static constexpr std::uint32_t steal_of(std::uint64_t head) noexcept {
    return static_cast<std::uint32_t>(head >> 32);
  }
  static constexpr std::uint32_t real_of(std::uint64_t head) noexcept {
    return static_cast<std::uint32_t>(head);
  }
  static constexpr std::uint64_t pack(std::uint32_t steal, std::uint32_t real) noexcept {
    return (static_cast<std::uint64_t>(steal) << 32) | real;
  }

  // (5): moves N/2 items plus `item` to `overflow`; false if a thief got in
  // first (then the caller retries the push).
  template <class Overflow>
  bool push_overflow(T item, std::uint32_t head, std::uint32_t tail, Overflow& overflow) {
    constexpr std::uint32_t kTaken = N / 2;
    WEFT_ASSERT(static_cast<std::uint32_t>(tail - head) == N, "LocalQueue: overflow of a queue that is not full");
    std::uint64_t expect = pack(head, head);
    if (!head_.compare_exchange_strong(expect, pack(head + kTaken, head + kTaken), std::memory_order_release,
                                             std::memory_order_relaxed)) {
      return false;
    }
    T batch[kTaken + 1];
    for (std::uint32_t i = 0; i < kTaken; ++i) batch[i] = buffer_[(head + i) & kMask].load(std::memory_order_relaxed);
    batch[kTaken] = item;
    overflow(static_cast<const T*>(batch), std::size_t{kTaken + 1});
    return true;
  }

  // (2)-(4): claims ceil(len/2) items, copies them to dst's slots starting at
  // `dst_tail` (not yet published), releases the claim; returns the count.
  std::uint32_t steal_into2(LocalQueue& dst, std::uint32_t dst_tail) noexcept {
    std::uint64_t prev = head_.load(std::memory_order_acquire);
    std::uint64_t next;
    std::uint32_t n;
    for (;;) {
      const std::uint32_t src_steal = steal_of(prev);
      const std::uint32_t src_real = real_of(prev);
      const std::uint32_t src_tail = tail_.load(std::memory_order_acquire);
      if (src_steal != src_real) return 0;  // another thief is copying
      n = src_tail - src_real;
      n -= n / 2;
      if (n == 0) return 0;
      if (n > N / 2) n = N / 2;  // a snapshot across a pop/push race can look larger
      next = pack(src_steal, src_real + n);
      if (head_.compare_exchange_weak(prev, next, std::memory_order_acq_rel, std::memory_order_acquire)) break;
    }
    const std::uint32_t first = steal_of(next);
    for (std::uint32_t i = 0; i < n; ++i) {
      dst.buffer_[(dst_tail + i) & kMask].store(buffer_[(first + i) & kMask].load(std::memory_order_relaxed),
                                                std::memory_order_relaxed);
    }
    // (4): the owner may have popped past our claim meanwhile; keep its `real`.
    prev = next;
    for (;;) {
      const std::uint32_t real = real_of(prev);
      if (head_.compare_exchange_weak(prev, pack(real, real), std::memory_order_acq_rel, std::memory_order_acquire)) {
        return n;
      }
      WEFT_ASSERT(steal_of(prev) != real_of(prev), "LocalQueue: a steal was released by someone else");
    }
  }

  // Each index on its own cache line: thieves hammer `head_`, the owner `tail_`.
  alignas(64) Atomic<std::uint64_t> head_;
  alignas(64) Atomic<std::uint32_t> tail_;
  alignas(64) Atomic<T> buffer_[N];
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_LOCAL_QUEUE_H_
