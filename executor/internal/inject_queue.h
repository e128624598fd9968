// -----------------------------------------------------------------------------
// File: executor/internal/inject_queue.h
// -----------------------------------------------------------------------------
//
// `InjectQueue<T>`: the global FIFO of a multi-threaded executor, where tasks
// scheduled from outside a worker (or overflowing a worker's local queue)
// wait until some worker takes them. A chain of blocks of 62 pointers (512
// bytes each) under a `sync::SpinLock` (spins, then yields: a producer and a
// worker meeting on it never make a futex call); a lock-free length lets
// workers skip the lock when it is empty. Rust: tokio's
// `runtime/scheduler/inject.rs` (which links the tasks themselves).
//
//   InjectQueue<Node> q;
//   q.push(&a);                           // false once closed (caller keeps a)
//   Node* n = q.pop();                    // FIFO; nullptr if empty
//   q.pop_n(32, [&](Node* t) { ... });    // a batch, oldest first
//   q.close();                            // refuse new pushes (shutdown)
//
// Why blocks of pointers rather than an intrusive list through the items: a
// worker taking a batch under the lock copies pointers from one or two
// blocks instead of following a link in every item (a cache miss per task
// header, freshly written by the producer's core), so the lock is held for a
// fraction of the time and a producer pushing meanwhile rarely waits; and a
// push writes nothing into the item.
//
// Memory ordering: the lock orders items and their slots. `len_` is
// updated with seq_cst read-modify-writes inside the lock and read with
// seq_cst loads outside it, so "push, then look at the idle state" (a
// producer) and "announce parking, then look at the queues" (a worker about
// to sleep) cannot both miss each other (the Dekker pattern the idle
// coordination in executor/internal/idle.h relies on).
//
// Costs: push/pop take the lock (uncontended: an exchange and a store); a
// block is allocated when the last one fills (one emptied block is kept as
// a spare, so a queue that stays short never allocates after warm-up;
// allocation happens outside the lock); `is_empty()`/`len()` are one atomic
// load. `pop_n` moves a batch under one lock with one length update.
// Contract: an item is in at most one queue at a time; the queue does not own
// its items (its destructor asserts it is empty in debug builds: drain it
// first). Out of memory for a block is fatal (std::bad_alloc in a noexcept
// function), as for any standard container here. Hosted.
#ifndef WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
#define WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <mutex>
#include <utility>

#include "executor/internal/sync.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// InjectQueue<T>
template <class T>
class InjectQueue {
 public:
  static constexpr std::size_t kBlockSlots = 62;

  InjectQueue() = default;
  // Not copyable or movable: workers hold its address.
  InjectQueue(const InjectQueue&) = delete;
  InjectQueue& operator=(const InjectQueue&) = delete;
  ~InjectQueue() {
    WEFT_ASSERT(len_.load(std::memory_order_relaxed) == 0, "InjectQueue destroyed while it still holds items");
    while (head_ != nullptr) delete std::exchange(head_, head_->next);
    while (spare_ != nullptr) delete std::exchange(spare_, spare_->next);
  }

  // Appends `t`; false (and `t` untouched) if the queue is closed.
  bool push(T* t) noexcept { return push_batch(&t, 1); }

  // Appends `n` items (oldest first) under one lock; false if closed (then
  // nothing was taken).
  bool push_batch(T* const* items, std::size_t n) noexcept {
    if (n == 0) return true;
    Block* fresh = nullptr;  // blocks allocated outside the lock, chained
    std::size_t fresh_slots = 0;
    for (;;) {
      std::size_t missing;
      {
        std::lock_guard<SpinLock> lock(mu_);
        if (closed_) break;
        while (fresh != nullptr) {  // donate them (an unused one stays spare)
          Block* b = std::exchange(fresh, fresh->next);
          b->next = spare_;
          spare_ = b;
          spares_ += 1;
        }
        fresh_slots = 0;
        const std::size_t free = free_slots_locked();
        if (free >= n) {
          append_locked(items, n);
          len_.fetch_add(n, std::memory_order_seq_cst);
          return true;
        }
        missing = n - free;
      }
      while (fresh_slots < missing) {
        Block* b = new Block;
        b->next = fresh;
        fresh = b;
        fresh_slots += kBlockSlots;
      }
    }
    while (fresh != nullptr) delete std::exchange(fresh, fresh->next);
    return false;
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
    Block* dead = nullptr;  // freed after the lock
    std::size_t n = 0;
    {
      std::lock_guard<SpinLock> lock(mu_);
      while (n < max && head_ != nullptr) {
        std::size_t end = head_ == tail_ ? tail_pos_ : kBlockSlots;
        while (n < max && head_pos_ < end) {
          f(head_->slots[head_pos_]);
          head_pos_ += 1;
          n += 1;
        }
        if (head_pos_ < end) break;  // took `max`
        if (head_ == tail_) {
          head_pos_ = tail_pos_ = 0;  // empty: reuse the block
          break;
        }
        Block* done = std::exchange(head_, head_->next);
        head_pos_ = 0;
        if (spares_ == 0) {
          done->next = nullptr;
          spare_ = done;
          spares_ = 1;
        } else {
          done->next = dead;
          dead = done;
        }
      }
      if (n != 0) len_.fetch_sub(n, std::memory_order_seq_cst);
    }
    while (dead != nullptr) delete std::exchange(dead, dead->next);
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
    T* slots[kBlockSlots];
  };

  // Free slots without allocating: the tail block's and the spares'.
  std::size_t free_slots_locked() const noexcept {
    const std::size_t in_tail = tail_ == nullptr ? 0 : kBlockSlots - tail_pos_;
    return in_tail + spares_ * kBlockSlots;
  }
  void append_locked(T* const* items, std::size_t n) noexcept {
    for (std::size_t i = 0; i < n; ++i) {
      if (tail_ == nullptr || tail_pos_ == kBlockSlots) {
        WEFT_ASSERT(spare_ != nullptr, "InjectQueue: no block for a push (free_slots_locked lied)");
        Block* b = std::exchange(spare_, spare_->next);
        spares_ -= 1;
        b->next = nullptr;
        if (tail_ == nullptr) {
          head_ = b;
          head_pos_ = 0;
        } else {
          tail_->next = b;
        }
        tail_ = b;
        tail_pos_ = 0;
      }
      tail_->slots[tail_pos_] = items[i];
      tail_pos_ += 1;
    }
  }

  mutable SpinLock mu_;
  Block* head_ = nullptr;     // guarded by mu_; oldest item at head_->slots[head_pos_]
  std::size_t head_pos_ = 0;  // guarded by mu_
  Block* tail_ = nullptr;     // guarded by mu_; next push goes to tail_->slots[tail_pos_]
  std::size_t tail_pos_ = 0;  // guarded by mu_
  Block* spare_ = nullptr;    // guarded by mu_; emptied or pre-allocated blocks, chained
  std::size_t spares_ = 0;    // guarded by mu_; pop_n keeps at most one
  bool closed_ = false;       // guarded by mu_
  Atomic<std::size_t> len_{0};  // written under mu_, read anywhere
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
