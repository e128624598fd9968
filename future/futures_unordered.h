// -----------------------------------------------------------------------------
// File: future/futures_unordered.h
// -----------------------------------------------------------------------------
//
// `FuturesUnordered<F>`: a set of futures polled concurrently; itself a
// `Stream` of their outputs in completion order. `buffer_unordered(s, n)`:
// a stream of futures run up to `n` at a time, outputs in completion order.
// Rust: `futures::stream::FuturesUnordered`, `StreamExt::buffer_unordered`.
//
//   push(f)      adds a future (polled at the set's next `poll_next`)
//   size()       futures not yet completed; `empty()`
//   poll_next    the output of some completed future, or the end when the
//                set is empty (`Ready(nullopt)`), or Pending
//
// How it polls only what was woken: every child is polled with a waker of its
// own, whose data is the child's node. Waking it pushes the node onto the
// set's ready queue (unless it is already there) and wakes the task that
// polls the set. `poll_next` pops nodes off that queue and polls only those:
// a poll costs O(children woken), not O(children).
//
// Fairness bound: one `poll_next` polls at most `size()` children (counted
// when it starts), and stops early when two children woke themselves while
// being polled (they are queued again, behind the others: FIFO); it then
// wakes its own task and returns Pending, so an always-ready child cannot keep
// it looping forever and the executor gets the thread back. A cooperative
// `Budget` in the Context is passed to the children and spent by their
// leaves, as everywhere.
//
// Costs: hosted (uses the heap). One allocation per pushed future (its node:
// the future, two list links, an atomic refcount, a flag and a queue link),
// freed when the future completes or the set is dropped, and one per set (the
// shared ready queue and the parent's waker slot), on the first push. A child
// wake is lock-free: a few atomic RMWs and, when the child was not queued
// yet, one wake of the parent. `push` and a child poll take no lock.
// sizeof(FuturesUnordered) is two pointers and a count.
//
// Contract:
//   - `FuturesUnordered` is `Unpin` (the futures live in their nodes and never
//     move; `F` need not be Unpin) and move-only. The set itself is used from
//     one thread at a time (push/poll_next/size); children's wakers may be
//     cloned to, woken from, and dropped on any thread, at any time, also
//     after the set is gone (a node is reference-counted; a wake after the
//     set is gone does nothing).
//   - `poll_next` returning the end means "empty now": unlike other streams,
//     a set may be pushed to and polled again after it.
//   - An exception from a child's `poll` propagates out of `poll_next`; that
//     child stays in the set (polled again if woken).
// Cancellation: dropping the set destroys every future still in it; their
// nodes are freed when the last waker clone referring to them is dropped.
// `BufferUnordered` drops its stream and its in-flight futures.
//
// Memory orderings (the invariants are in `future_internal::unordered`):
//   - `queued` (per node) is exchanged with acq_rel by wakers (false -> true:
//     this waker enqueues the node) and by the set before it polls the child
//     (true -> false). Both are RMWs on one atomic, so whatever a waker wrote
//     before its exchange is visible to the poll that follows the set's
//     exchange, or the waker saw `false` and queued the node again: no lost
//     wake-ups.
//   - Ready queue: Vyukov's intrusive MPSC queue. Producers: exchange `head`
//     (acq_rel), then store the old head's `next` (release). The consumer
//     loads `next` and `head` with acquire. A producer caught between the two
//     steps makes the queue briefly "inconsistent"; the consumer then wakes
//     its task and returns Pending rather than spin.
//   - Refcounts: increments relaxed, decrements acq_rel (the last owner sees
//     every write made through the other references before it frees).
//   - The parent's waker: an `AtomicWaker` (future/atomic_waker.h, which
//     documents its orderings); a child wake enqueues its node, then wakes it.
//
// Example:
//
//   weft::FuturesUnordered<weft::Task<int>> set;
//   for (int i = 0; i < 3; ++i) set.push(fetch(i));
//   int total = weft::block_on(weft::stream::fold(std::move(set), 0, std::plus<>()));
//
//   auto results = weft::stream::iter(weft::iter::range(0, 100))
//                  | weft::stream::map(fetch)            // a stream of futures
//                  | weft::stream::buffer_unordered(8)   // 8 in flight at a time
//                  | weft::stream::collect<std::vector>();
//
#ifndef WEFT_FUTURE_FUTURES_UNORDERED_H_
#define WEFT_FUTURE_FUTURES_UNORDERED_H_

#include <atomic>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "future/atomic_waker.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/stream.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

namespace future_internal::unordered {

template <class F>
struct Shared;

// Node<F>: one pushed future.
//
// Invariants:
//   - `refs` counts: 1 for the set while the node is in its list of all
//     nodes (`prev_all`/`next_all`, touched by the set only); 1 per waker
//     clone; 1 for the ready queue when the set released the node while it
//     was queued (the set's reference passes to the queue, and is dropped
//     when the node is popped, or when the queue is drained at the end).
//   - `fut` is touched by the set only; empty once released (completed, or
//     the set dropped); a released node is never polled.
//   - `queued` is true while the node is in the ready queue (or a waker is
//     pushing it), and forever once released, so no waker pushes it again.
//   - `shared` stays valid while the node lives (the node holds a weak
//     reference to it).
template <class F>
struct Node {
  std::atomic<Node*> next_ready{nullptr};
  std::atomic<std::size_t> refs{1};
  std::atomic<bool> queued{true};
  Node* prev_all = nullptr;
  Node* next_all = nullptr;
  Shared<F>* shared = nullptr;
  std::optional<F> fut;
};

// Shared<F>: the ready queue and the parent's waker, shared by the set and
// every node.
//
// Two counts, as `Arc`'s strong and weak: `strong` is 1 for the set plus 1
// per waker that is in the middle of a wake (it "upgrades" first, and does
// nothing if the set is gone). When it reaches 0, no one pushes any more, and
// the queue is drained, dropping the references it held. `weak` is 1 per live
// node plus 1 for all strong references together; at 0 the memory is freed.
template <class F>
struct Shared {
  std::atomic<std::size_t> strong{1};
  std::atomic<std::size_t> weak{1};
  AtomicWaker parent;  // the task polling the set
  std::atomic<Node<F>*> head;  // producers push here
  Node<F>* tail;               // the consumer (set) pops here
  Node<F> stub;

  Shared() : head(&stub), tail(&stub) {}

  enum class Pop { kEmpty, kInconsistent, kNode };

  // Any thread.
  void enqueue(Node<F>* n) noexcept {
    n->next_ready.store(nullptr, std::memory_order_relaxed);
    Node<F>* prev = head.exchange(n, std::memory_order_acq_rel);
    prev->next_ready.store(n, std::memory_order_release);
  }

  // The consumer only (Vyukov's intrusive MPSC pop).
  Pop dequeue(Node<F>** out) noexcept {
    Node<F>* t = tail;
    Node<F>* next = t->next_ready.load(std::memory_order_acquire);
    if (t == &stub) {
      if (next == nullptr) return Pop::kEmpty;
      tail = next;
      t = next;
      next = next->next_ready.load(std::memory_order_acquire);
    }
    if (next != nullptr) {
      tail = next;
      *out = t;
      return Pop::kNode;
    }
    if (head.load(std::memory_order_acquire) != t) return Pop::kInconsistent;
    enqueue(&stub);
    next = t->next_ready.load(std::memory_order_acquire);
    if (next != nullptr) {
      tail = next;
      *out = t;
      return Pop::kNode;
    }
    return Pop::kInconsistent;
  }

  // The consumer only: true if a node may be waiting (cheap, may be stale).
  bool maybe_nonempty() const noexcept {
    return tail != &stub || stub.next_ready.load(std::memory_order_acquire) != nullptr;
  }

  bool upgrade() noexcept {
    std::size_t n = strong.load(std::memory_order_relaxed);
    while (n != 0) {
      if (strong.compare_exchange_weak(n, n + 1, std::memory_order_acquire, std::memory_order_relaxed)) {
        return true;
      }
    }
    return false;
  }

  void release_strong() noexcept {
    if (strong.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    // Nobody pushes or wakes any more: drop the parent's waker and the
    // references the queue holds (all of its nodes were released by the set
    // before it let go).
    parent.clear_exclusive();
    for (;;) {
      Node<F>* n = nullptr;
      const Pop r = dequeue(&n);
      if (r == Pop::kEmpty) break;
      WEFT_HARDENING_ASSERT(r == Pop::kNode, "FuturesUnordered: ready queue inconsistent at drop");
      release_node(n);
    }
    release_weak();
  }

  void release_weak() noexcept {
    if (weak.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  static void release_node(Node<F>* n) noexcept {
    if (n->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
    Shared* s = n->shared;
    delete n;
    s->release_weak();
  }
};

// The child waker: data = the node.
template <class F>
struct NodeWaker {
  static Node<F>* node(const void* p) noexcept { return static_cast<Node<F>*>(const_cast<void*>(p)); }

  static RawWaker clone(const void* p) noexcept {
    node(p)->refs.fetch_add(1, std::memory_order_relaxed);
    return RawWaker{p, &kVTable};
  }
  static void wake_by_ref(const void* p) noexcept {
    Node<F>* n = node(p);
    Shared<F>* s = n->shared;
    if (!s->upgrade()) return;  // the set is gone
    if (!n->queued.exchange(true, std::memory_order_acq_rel)) {
      s->enqueue(n);
      s->parent.wake();
    }
    s->release_strong();
  }
  static void wake(const void* p) noexcept {
    wake_by_ref(p);
    drop(p);
  }
  static void drop(const void* p) noexcept { Shared<F>::release_node(node(p)); }

  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake_by_ref, &drop};
};

// The waker in a child's Context while the set polls it: it borrows the
// set's reference to the node (so it is released, not dropped), and has the
// same data and vtable as its clones, so a child's `register_waker` sees
// `will_wake` and does not clone again on every poll.
template <class F>
class BorrowedNodeWaker {
 public:
  explicit BorrowedNodeWaker(Node<F>* n) noexcept
      : w_(Waker::from_raw(RawWaker{n, &NodeWaker<F>::kVTable})) {}
  BorrowedNodeWaker(const BorrowedNodeWaker&) = delete;
  BorrowedNodeWaker& operator=(const BorrowedNodeWaker&) = delete;
  ~BorrowedNodeWaker() { (void)std::move(w_).into_raw(); }  // also when the child's poll throws

  const Waker& get() const noexcept { return w_; }

 private:
  Waker w_;
};

}  // namespace future_internal::unordered

// FuturesUnordered<F>
//
// A Stream of the outputs of the futures pushed into it, in completion order.
template <Future F>
class [[nodiscard("streams do nothing unless polled")]] FuturesUnordered {
  using Node = future_internal::unordered::Node<F>;
  using Shared = future_internal::unordered::Shared<F>;

 public:
  using Item = OutputOf<F>;
  static constexpr bool kUnpin = true;

  FuturesUnordered() noexcept = default;
  FuturesUnordered(FuturesUnordered&& o) noexcept
      : shared_(std::exchange(o.shared_, nullptr)), all_(std::exchange(o.all_, nullptr)), len_(std::exchange(o.len_, 0)) {}
  FuturesUnordered& operator=(FuturesUnordered&& o) noexcept {
    if (this != &o) {
      clear();
      shared_ = std::exchange(o.shared_, nullptr);
      all_ = std::exchange(o.all_, nullptr);
      len_ = std::exchange(o.len_, 0);
    }
    return *this;
  }
  ~FuturesUnordered() { clear(); }

  // Futures not yet completed.
  std::size_t size() const noexcept { return len_; }
  bool empty() const noexcept { return len_ == 0; }

  // Adds `f`; it is first polled by the next `poll_next`. One allocation.
  template <class G>
    requires std::is_constructible_v<F, G&&>
  void push(G&& f) {
    if (shared_ == nullptr) shared_ = new Shared;
    Node* n = new Node;
    n->fut.emplace(std::forward<G>(f));
    n->shared = shared_;
    shared_->weak.fetch_add(1, std::memory_order_relaxed);
    n->next_all = all_;
    if (all_ != nullptr) all_->prev_all = n;
    all_ = n;
    ++len_;
    shared_->enqueue(n);  // `queued` starts true
  }

  PollNext<Item> poll_next(Context& cx) {
    if (len_ == 0) return std::nullopt;
    Shared* s = shared_;
    s->parent.register_waker(cx.waker());
    const std::size_t bound = len_;
    std::size_t polled = 0;
    std::size_t yielded = 0;
    for (;;) {
      Node* n = nullptr;
      const typename Shared::Pop r = s->dequeue(&n);
      if (r == Shared::Pop::kEmpty) return Pending{};  // every child's waker is armed
      if (r == Shared::Pop::kInconsistent) {
        // A waker is between its two pushes; it will finish at once. Come back.
        cx.waker().wake_by_ref();
        return Pending{};
      }
      if (!n->fut) {  // released while queued: drop the queue's reference
        Shared::release_node(n);
        continue;
      }
      const bool was_queued = n->queued.exchange(false, std::memory_order_acq_rel);
      WEFT_ASSERT(was_queued, "FuturesUnordered: a popped node must have been queued");
      (void)was_queued;
      const future_internal::unordered::BorrowedNodeWaker<F> w(n);
      Context child(w.get(), cx.budget());
      Poll<Item> p = n->fut->poll(child);
      ++polled;
      if (p.is_ready()) {
        release(n);
        return std::optional<Item>(std::move(p).value());
      }
      if (n->queued.load(std::memory_order_relaxed)) ++yielded;  // it woke itself
      if (yielded >= 2 || polled >= bound) {
        if (s->maybe_nonempty()) cx.waker().wake_by_ref();
        return Pending{};
      }
    }
  }

 private:
  // Unlinks `n`, destroys its future and drops the set's reference (or hands
  // it to the ready queue if the node is queued).
  void release(Node* n) noexcept {
    if (n->prev_all != nullptr) {
      n->prev_all->next_all = n->next_all;
    } else {
      all_ = n->next_all;
    }
    if (n->next_all != nullptr) n->next_all->prev_all = n->prev_all;
    n->prev_all = n->next_all = nullptr;
    --len_;
    const bool was_queued = n->queued.exchange(true, std::memory_order_acq_rel);
    n->fut.reset();
    if (!was_queued) Shared::release_node(n);
  }

  void clear() noexcept {
    if (shared_ == nullptr) return;
    while (all_ != nullptr) release(all_);
    std::exchange(shared_, nullptr)->release_strong();
  }

  Shared* shared_ = nullptr;
  Node* all_ = nullptr;
  std::size_t len_ = 0;
};

namespace stream {

// BufferUnordered<S>: the stream returned by `buffer_unordered()`. `S`
// yields futures; up to `n` run at once in a `FuturesUnordered`; outputs in
// completion order. Ends when `S` has ended and every future completed.
template <Stream S>
class [[nodiscard("streams do nothing unless polled")]] BufferUnordered {
  using Fut = StreamItemOf<S>;
  static_assert(Future<Fut>, "stream::buffer_unordered: the stream must yield futures");

 public:
  using Item = OutputOf<Fut>;
  static constexpr bool kUnpin = Unpin<S>;

  BufferUnordered(S s, std::size_t n) : s_(std::move(s)), n_(n) {
    WEFT_ASSERT(n > 0, "stream::buffer_unordered: the limit must be at least 1");
  }

  PollNext<Item> poll_next(Context& cx) {
    moved_.check(this, "stream::BufferUnordered was moved after its first poll");
    WEFT_ASSERT(!ended_, "stream::BufferUnordered must not be polled after it returned the end");
    while (!stream_done_ && set_.size() < n_) {
      PollNext<Fut> p = s_.poll_next(cx);
      if (p.is_pending()) break;
      if (!p.value()) {
        stream_done_ = true;
        break;
      }
      set_.push(std::move(*p.value()));
    }
    PollNext<Item> q = set_.poll_next(cx);
    if (q.is_pending() || q.value()) return q;
    // The set is empty: the end if the stream has ended, else the stream is
    // Pending (its waker is registered).
    if (!stream_done_) return Pending{};
    ended_ = true;
    return std::nullopt;
  }

  // Futures in flight.
  std::size_t in_flight() const noexcept { return set_.size(); }

 private:
  S s_;
  FuturesUnordered<Fut> set_;
  std::size_t n_;
  bool stream_done_ = false;
  bool ended_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class S>
  requires Stream<std::remove_cvref_t<S>>
BufferUnordered<std::remove_cvref_t<S>> buffer_unordered(S&& s, std::size_t n) {
  return BufferUnordered<std::remove_cvref_t<S>>(std::forward<S>(s), n);
}
inline auto buffer_unordered(std::size_t n) {
  return future_internal::StreamClosure{
      [n]<class S>(S&& s) { return stream::buffer_unordered(std::forward<S>(s), n); }};
}

}  // namespace stream

}  // namespace weft

#endif  // WEFT_FUTURE_FUTURES_UNORDERED_H_
