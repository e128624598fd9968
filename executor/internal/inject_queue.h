// -----------------------------------------------------------------------------
// File: executor/internal/inject_queue.h
// -----------------------------------------------------------------------------
//
// `InjectQueue<T, Link>`: the global FIFO of a multi-threaded executor, where
// tasks scheduled from outside a worker (or overflowing a worker's local
// queue) wait until some worker takes them. Intrusive (the queue threads
// items through their own `next` link: no allocation) and protected by a
// `sync::SpinLock` (spins, then yields: a producer and a worker meeting on
// it never make a futex call); a lock-free length lets workers skip the lock when it is empty.
// Rust: tokio's `runtime/scheduler/inject.rs`.
//
//   struct Node { Node* next = nullptr; };
//   InjectQueue<Node> q;                  // Link defaults to `t->next`
//   q.push(&a);                           // false once closed (caller keeps a)
//   Node* n = q.pop();                    // FIFO; nullptr if empty
//   q.close();                            // refuse new pushes (shutdown)
//
// Memory ordering: the lock orders items and their links. `len_` is
// updated with seq_cst read-modify-writes inside the lock and read with
// seq_cst loads outside it, so "push, then look at the idle state" (a
// producer) and "announce parking, then look at the queues" (a worker about
// to sleep) cannot both miss each other (the Dekker pattern the idle
// coordination in executor/internal/idle.h relies on).
//
// Costs: no allocation; push/pop take the lock (uncontended: an exchange and
// a store); `is_empty()`/`len()` are one atomic load. `pop_n` moves a
// batch under one lock.
// Contract: an item is in at most one queue at a time; the queue does not own
// its items (its destructor asserts it is empty in debug builds: drain it
// first). Hosted (threads: the lock yields).
#ifndef WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
#define WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

#include "executor/internal/sync.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// NextLink<T>: the default link, a `T* next` member.
template <class T>
struct NextLink {
  static T* get(const T* t) noexcept { return t->next; }
  static void set(T* t, T* next) noexcept { t->next = next; }
};

// InjectQueue<T, Link>
//
// `Link` provides `static T* get(const T*)` and `static void set(T*, T*)`.
template <class T, class Link = NextLink<T>>
class InjectQueue {
 public:
  InjectQueue() = default;
  // Not copyable or movable: workers hold its address.
  InjectQueue(const InjectQueue&) = delete;
  InjectQueue& operator=(const InjectQueue&) = delete;
  ~InjectQueue() { WEFT_ASSERT(head_ == nullptr, "InjectQueue destroyed while it still holds items"); }

  // Appends `t`; false (and `t` untouched) if the queue is closed.
  // `counted`: also adds one to `counted_pushes()` (in the same critical
  // section: a pool counts its new, not yet owned tasks this way).
  bool push(T* t, bool counted = false) noexcept {
    Link::set(t, nullptr);
    std::lock_guard<SpinLock> lock(mu_);
    if (closed_) return false;
    append(t, t);
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
    for (const T* t = head_; t != nullptr; t = Link::get(t)) f(*t);
    return true;
  }

  // Appends `n` items (oldest first) under one lock; false if closed (then
  // nothing was linked or taken).
  bool push_batch(T* const* items, std::size_t n) noexcept {
    if (n == 0) return true;
    for (std::size_t i = 0; i + 1 < n; ++i) Link::set(items[i], items[i + 1]);
    Link::set(items[n - 1], nullptr);
    std::lock_guard<SpinLock> lock(mu_);
    if (closed_) return false;
    append(items[0], items[n - 1]);
    len_.fetch_add(n, std::memory_order_seq_cst);
    return true;
  }

  // Removes the oldest item; nullptr if empty. Works after `close()` too.
  T* pop() noexcept {
    if (is_empty()) return nullptr;
    std::lock_guard<SpinLock> lock(mu_);
    return pop_locked();
  }

  // Removes up to `max` items under one lock, calling `f(T*)` for each,
  // oldest first (inside the lock: keep `f` short). Returns the count.
  template <class F>
  std::size_t pop_n(std::size_t max, F&& f) {
    if (max == 0 || is_empty()) return 0;
    std::lock_guard<SpinLock> lock(mu_);
    // One walk reading the links, one cut, one update of the length (not a
    // read-modify-write per item while others wait for the lock).
    std::size_t n = 0;
    T* t = head_;
    while (n < max && t != nullptr) {
      T* next = Link::get(t);
      Link::set(t, nullptr);
      f(t);
      n += 1;
      t = next;
    }
    head_ = t;
    if (t == nullptr) tail_ = nullptr;
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
  void append(T* first, T* last) noexcept {
    if (tail_ == nullptr) {
      head_ = first;
    } else {
      Link::set(tail_, first);
    }
    tail_ = last;
  }
  T* pop_locked() noexcept {
    T* t = head_;
    if (t == nullptr) return nullptr;
    head_ = Link::get(t);
    if (head_ == nullptr) tail_ = nullptr;
    Link::set(t, nullptr);
    len_.fetch_sub(1, std::memory_order_seq_cst);
    return t;
  }

  mutable SpinLock mu_;
  T* head_ = nullptr;  // guarded by mu_
  T* tail_ = nullptr;  // guarded by mu_
  bool closed_ = false;  // guarded by mu_
  std::uint64_t counted_pushes_ = 0;  // guarded by mu_
  Atomic<std::size_t> len_{0};  // written under mu_, read anywhere
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_INJECT_QUEUE_H_
