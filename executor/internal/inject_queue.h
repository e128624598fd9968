// -----------------------------------------------------------------------------
// File: executor/internal/inject_queue.h
// -----------------------------------------------------------------------------
//
// `InjectQueue<T>`: the global FIFO of a multi-threaded executor, where
// tasks scheduled from outside a worker (or overflowing a worker's local
// queue) wait until some worker takes them. A queue of `T*` in blocks of
// `kBlockSize` pointers, protected by a `sync::SpinLock` (spins, then
// yields: a producer and a worker meeting on it never make a futex call); a
// lock-free length lets workers skip the lock when it is empty.
// Rust: tokio's `runtime/scheduler/inject.rs` (an intrusive list under a
// mutex).
//
//   InjectQueue<Task> q;
//   q.push(&a);                           // false once closed (caller keeps a)
//   Task* t = q.pop();                    // FIFO; nullptr if empty
//   q.close();                            // refuse new pushes (shutdown)
//
// Why pointers in blocks and not a list through the items (as before, and
// as tokio): a worker taking a batch walked the items' links under the lock,
// one cache miss per item on lines the spawning thread had just written, and
// a spawning thread outside the pool waited for it (perf, a batch of 1000
// from outside on 2 workers: the lock was 13% of the spawner's time). Now a
// batch is a copy of consecutive pointers; pops do not touch the items
// under the lock (`for_each_if`, for a task dump, reads them).
//
// Memory ordering: the lock orders the slots and the items they point to.
// `len_` is updated with seq_cst read-modify-writes inside the lock and read
// with seq_cst loads outside it, so "push, then look at the idle state" (a
// producer) and "announce parking, then look at the queues" (a worker about
// to sleep) cannot both miss each other (the Dekker pattern the idle
// coordination in executor/internal/idle.h relies on).
//
// Costs: push/pop take the lock (uncontended: an exchange and a store; a
// push that fills a block takes the spare or allocates one, under the lock);
// `is_empty()`/`len()` are one atomic load. `pop_n` copies a batch under
// one lock. Memory: one block (8 * kBlockSize + 8 bytes) per kBlockSize
// queued items; an empty queue keeps its current block and one spare, the
// rest are freed as they empty. Out of memory while growing aborts (a push
// cannot fail for lack of memory: a task scheduled from outside has nowhere
// else to go).
// Contract: `pop_n`'s and `for_each_if`'s callbacks must not throw or touch
// the queue; the queue does not own its items (its destructor asserts it is
// empty in debug builds: drain it first). Hosted (threads: the lock
// yields).
#ifndef WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
#define WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#include <utility>

#include "executor/internal/sync.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// InjectQueue<T>
template <class T>
class InjectQueue {
 public:
  // Pointers per block: a block is 2 KiB.
  static constexpr std::size_t kBlockSize = 255;

  InjectQueue() = default;
  // Not copyable or movable: workers hold its address.
  InjectQueue(const InjectQueue&) = delete;
  InjectQueue& operator=(const InjectQueue&) = delete;
  ~InjectQueue() {
    WEFT_ASSERT(len_.load(std::memory_order_relaxed) == 0, "InjectQueue destroyed while it still holds items");
    while (head_ != nullptr) delete std::exchange(head_, head_->next);
    delete spare_;
  }

  // Appends `t`; false (and `t` untouched) if the queue is closed.
  // `counted`: also adds one to `counted_pushes()` (in the same critical
  // section: a pool counts its new, not yet owned tasks this way).
  bool push(T* t, bool counted = false) noexcept {
    std::lock_guard<SpinLock> lock(mu_);
    if (closed_) return false;
    append_locked(t);
    if (counted) counted_pushes_ += 1;
    len_.fetch_add(1, std::memory_order_seq_cst);
    return true;
  }

  // How many pushes were made with `counted` (a snapshot, under the lock).
  std::uint64_t counted_pushes() const noexcept {
    std::lock_guard<SpinLock> lock(mu_);
    return counted_pushes_;
  }

  // Under the lock: if `check()` returns true, calls `f(const T&)` for each
  // queued item, oldest first, and returns true; else returns false (keep
  // both short; they must not touch the queue).
  template <class Check, class F>
  bool for_each_if(Check&& check, F&& f) const {
    std::lock_guard<SpinLock> lock(mu_);
    if (!check()) return false;
    std::size_t i = head_index_;
    for (const Block* b = head_; b != nullptr; b = b->next, i = 0) {
      const std::size_t end = b == tail_ ? tail_index_ : kBlockSize;
      for (; i < end; ++i) f(*b->slots[i]);
    }
    return true;
  }

  // Appends `n` items (oldest first) under one lock; false if closed (then
  // nothing was taken).
  bool push_batch(T* const* items, std::size_t n) noexcept {
    if (n == 0) return true;
    std::lock_guard<SpinLock> lock(mu_);
    if (closed_) return false;
    for (std::size_t i = 0; i < n; ++i) append_locked(items[i]);
    len_.fetch_add(n, std::memory_order_seq_cst);
    return true;
  }

  // Removes the oldest item; nullptr if empty. Works after `close()` too.
  T* pop() noexcept {
    T* t = nullptr;
    pop_n(1, [&](T* x) { t = x; });
    return t;
  }

  // Removes up to `max` items under one lock, calling `f(T*)` for each,
  // oldest first (inside the lock: keep `f` short). Returns the count.
  template <class F>
  std::size_t pop_n(std::size_t max, F&& f) {
    if (max == 0 || is_empty()) return 0;
    std::lock_guard<SpinLock> lock(mu_);
    // One length update for the batch (not a read-modify-write per item
    // while others wait for the lock).
    std::size_t n = 0;
    while (n < max && head_ != nullptr) {
      const std::size_t end = head_ == tail_ ? tail_index_ : kBlockSize;
      while (n < max && head_index_ < end) {
        f(head_->slots[head_index_++]);
        n += 1;
      }
      if (head_index_ < end) break;  // max reached
      if (head_ == tail_) {
        head_index_ = tail_index_ = 0;  // empty: start the block over
        break;
      }
      Block* done = std::exchange(head_, head_->next);
      head_index_ = 0;
      recycle(done);
    }
    if (n != 0) len_.fetch_sub(n, std::memory_order_seq_cst);
    return n;
  }

  // Refuses every later push. Idempotent; items already queued stay.
  void close() noexcept {
    std::lock_guard<SpinLock> lock(mu_);
    closed_ = true;
  }
  bool is_closed() const noexcept {
    std::lock_guard<SpinLock> lock(mu_);
    return closed_;
  }

  std::size_t len() const noexcept { return len_.load(std::memory_order_seq_cst); }
  bool is_empty() const noexcept { return len() == 0; }

 private:
  struct Block {
    Block* next = nullptr;
    T* slots[kBlockSize];
  };

  void append_locked(T* t) noexcept {
    if (tail_ == nullptr || tail_index_ == kBlockSize) {
      Block* b = spare_ != nullptr ? std::exchange(spare_, nullptr) : new (std::nothrow) Block;
      WEFT_HARDENING_ASSERT(b != nullptr, "InjectQueue: out of memory while growing");
      b->next = nullptr;
      if (tail_ == nullptr) {
        head_ = b;
        head_index_ = 0;
      } else {
        tail_->next = b;
      }
      tail_ = b;
      tail_index_ = 0;
    }
    tail_->slots[tail_index_++] = t;
  }

  void recycle(Block* b) noexcept {
    if (spare_ == nullptr) {
      spare_ = b;
    } else {
      delete b;
    }
  }

  mutable SpinLock mu_;
  // All guarded by mu_. Items are head_->slots[head_index_..] up to
  // tail_->slots[..tail_index_); head_ == nullptr only before the first push.
  Block* head_ = nullptr;
  std::size_t head_index_ = 0;
  Block* tail_ = nullptr;
  std::size_t tail_index_ = 0;
  Block* spare_ = nullptr;
  bool closed_ = false;
  std::uint64_t counted_pushes_ = 0;
  Atomic<std::size_t> len_{0};  // written under mu_, read anywhere
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
