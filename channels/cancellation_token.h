// -----------------------------------------------------------------------------
// File: channels/cancellation_token.h
// -----------------------------------------------------------------------------
//
// `CancellationToken`: a copyable handle to a cancellation flag that tasks
// can wait on, arranged in a tree (cancelling a token cancels its children).
// Rust: `tokio_util::sync::CancellationToken` (and its `DropGuard`).
//
//   CancellationToken token;             // a new root
//   token.cancel();  token.is_cancelled();
//   co_await token.cancelled();          // future (Output = Unit): Ready once cancelled
//   auto child = token.child_token();    // cancelled when `token` is; cancelling
//                                        // `child` leaves `token` alone
//   auto guard = token.drop_guard();     // cancels `token` when destroyed,
//   guard.disarm();                      //   unless disarmed (returns the token)
//
// Copies share one node; the node lives while a copy (or a `cancelled()`
// future, which holds one) does. A child created from an already-cancelled
// token is cancelled. When the last copy of a token goes, its node leaves the
// tree and its children move up to its parent, so dropped children never
// pile up under a long-lived parent (and a chain of tokens each made from
// the previous one keeps only the live ones).
//
// Costs: one allocation per root or `child_token()` (the node: a mutex, tree
// links, two counters, a `Notify`; 192 bytes on x86-64); copying is one
// relaxed atomic increment. `is_cancelled()` is one acquire load. `cancel()` takes
// the locks of the cancelled subtree (at most three at a time) and wakes its
// waiters after releasing them. `cancelled()` allocates nothing: its waiter
// node lives inside the future (a `Notified`, channels/notify.h); the future
// is 88 bytes (a token copy and the `Notified`).
//
// Tree and locks (internal invariants):
//   - each node has a mutex guarding its `parent` pointer, its `children`
//     list and the setting of its `cancelled` flag;
//   - `k` is in `p.children` <=> `k.parent == p`; both change only with
//     both `p` and `k` locked;
//   - a cancelled node has no children: cancelling a node cancels and
//     detaches its subtree (a grandchild with children of its own is adopted
//     by the node being cancelled and handled as its child, so at most three
//     locks are held: node, child, grandchild). A token cancelled on its own
//     stays in its parent's list until the parent is cancelled or it dies;
//   - lock order is parent -> child (ancestors first). A thread that holds a
//     child's lock never waits for its parent's: to lock a node and its
//     parent it locks the node, reads the parent, unlocks, locks parent then
//     node, and retries if the parent changed meanwhile. The `Notify` of a
//     node is only used with no node lock held.
//   - memory: `refs` counts the node's "tree reference" (held while it has
//     handles), each child's reference to its parent, and temporaries;
//     `handles` counts CancellationToken objects.
// Memory ordering: `cancelled` is stored with release (under the node's
// lock) before the node's `notify_waiters()`, and read with acquire, so a
// task that sees the token cancelled sees what the canceller wrote before
// `cancel()`. The flag of the token `cancel()` is called on is set last,
// after every flag of its subtree: whoever sees that token cancelled sees
// all its descendants cancelled (not so for an inner token of the subtree,
// whose own descendants may be cancelled a moment after it).
// `handles`/`refs` increments are relaxed; decrements acq_rel
// (the last one sees every other owner's writes before freeing).
//
// Contract: all operations are thread-safe. A moved-from token may only be
// destroyed or assigned to. A `cancelled()` future is polled by one task at
// a time and may move only before its first poll.
// Cancellation: `cancelled()` is cancel-safe (waiting consumes nothing);
// destroying it unlinks its waiter node and drops its waker.
//
// Example:
//
//   weft::CancellationToken root;
//   weft::CancellationToken child = root.child_token();
//   auto waiting = child.cancelled();
//   EXPECT_TRUE(testing::poll_once(waiting).is_pending());
//   root.cancel();
//   EXPECT_TRUE(child.is_cancelled());
//   EXPECT_TRUE(testing::poll_once(waiting).is_ready());
//
#ifndef WEFT_CHANNELS_CANCELLATION_TOKEN_H_
#define WEFT_CHANNELS_CANCELLATION_TOKEN_H_

#include <cstddef>
#include <utility>

#include "channels/internal/waiter_list.h"
#include "channels/notify.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

class CancellationToken;

namespace channels_internal {

// A node of the token tree (see the invariants at the top of the file). Its
// `ListLink` is its place in its parent's `children` (guarded by the
// parent's lock), or, once cancelled and detached (no parent), in a local
// list of the thread that cancelled it.
struct CancelNode : ListLink<CancelNode> {
  sync::Mutex mu;
  CancelNode* parent = nullptr;        // mu; holds a reference on the parent
  IntrusiveList<CancelNode> children;  // mu; uncounted (a child unlinks before it dies)
  sync::Atomic<bool> cancelled{false};
  sync::Atomic<std::size_t> handles{1};
  sync::Atomic<std::size_t> refs{1};  // the tree reference
  Notify notify;                      // waiters of cancelled()

  void retain() noexcept { refs.fetch_add(1, sync::kRelaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, sync::kAcqRel) == 1) delete this;
  }
  // Drops a reference that is known not to be the last one.
  void release_not_last() noexcept {
    [[maybe_unused]] const std::size_t before = refs.fetch_sub(1, sync::kAcqRel);
    WEFT_ASSERT(before > 1, "CancellationToken: a node lost its last reference while still in use");
  }
};

// Cancels `x` and its whole subtree (iteratively: grandchildren with
// children of their own are adopted by `x` and handled as its children).
inline void cancel_tree(CancelNode* x) {
  IntrusiveList<CancelNode> detached;  // cancelled descendants, to notify
  {
    sync::Lock lx(x->mu);
    if (x->cancelled.load(sync::kRelaxed)) return;
    while (CancelNode* c = x->children.pop_front()) {
      sync::Lock lc(c->mu);  // parent -> child
      c->parent = nullptr;
      x->release_not_last();                            // c's reference on x (the caller holds x)
      if (c->cancelled.load(sync::kRelaxed)) continue;  // cancelled on its own: detaching is enough
      while (CancelNode* g = c->children.pop_front()) {
        sync::Lock lg(g->mu);  // child -> grandchild
        if (g->cancelled.load(sync::kRelaxed)) {
          g->parent = nullptr;
        } else if (g->children.empty()) {
          g->parent = nullptr;
          g->cancelled.store(true, sync::kRelease);
          g->retain();
          detached.push_back(g);
        } else {
          g->parent = x;  // adopted: cancelled later as a child of x
          x->retain();
          x->children.push_back(g);
        }
        c->release_not_last();  // g's reference on c (c keeps its tree reference)
      }
      c->cancelled.store(true, sync::kRelease);
      c->retain();
      detached.push_back(c);
    }
    x->cancelled.store(true, sync::kRelease);
  }
  // No lock held: wake the waiters.
  x->notify.notify_waiters();
  while (CancelNode* n = detached.pop_front()) {
    n->notify.notify_waiters();
    n->release();
  }
}

// The last handle of `x` is gone: take it out of the tree, moving its
// children to its parent (or making them roots).
inline void detach_node(CancelNode* x) {
  CancelNode* p = nullptr;
  for (;;) {
    x->mu.lock();
    p = x->parent;
    if (p == nullptr || p->mu.try_lock()) break;  // try_lock never waits: no inversion
    p->retain();                                  // keeps p alive while neither is locked
    x->mu.unlock();
    p->mu.lock();
    x->mu.lock();
    if (x->parent == p) {
      p->release_not_last();  // x's own reference on p remains
      break;
    }
    x->mu.unlock();
    p->mu.unlock();
    p->release();
  }
  // x locked, and p (its parent, if any) locked.
  if (p != nullptr) p->children.remove(x);
  while (CancelNode* k = x->children.pop_front()) {
    sync::Lock lk(k->mu);
    k->parent = p;
    if (p != nullptr) {
      p->retain();
      p->children.push_back(k);
    }
    x->release_not_last();  // k's reference on x (x still has its tree reference)
  }
  x->parent = nullptr;
  x->mu.unlock();
  if (p != nullptr) {
    p->mu.unlock();
    p->release();  // x's reference on p
  }
}

}  // namespace channels_internal

class WaitForCancellation;
class DropGuard;

// CancellationToken
//
// See the top of this file. Copyable (another handle to the same token) and
// movable.
class CancellationToken {
 public:
  // A new root token, not cancelled.
  CancellationToken() : node_(new Node()) {}

  CancellationToken(const CancellationToken& o) noexcept : node_(o.node_) {
    if (node_ != nullptr) node_->handles.fetch_add(1, sync::kRelaxed);
  }
  CancellationToken(CancellationToken&& o) noexcept : node_(std::exchange(o.node_, nullptr)) {}
  CancellationToken& operator=(const CancellationToken& o) noexcept {
    CancellationToken copy(o);
    std::swap(node_, copy.node_);
    return *this;
  }
  CancellationToken& operator=(CancellationToken&& o) noexcept {
    CancellationToken moved(std::move(o));
    std::swap(node_, moved.node_);
    return *this;
  }
  ~CancellationToken() { drop(); }

  // CancellationToken::cancel()
  //
  // Cancels this token and every token below it, and wakes their
  // `cancelled()` futures. Idempotent.
  void cancel() const { channels_internal::cancel_tree(checked()); }

  // CancellationToken::is_cancelled()
  bool is_cancelled() const noexcept { return checked()->cancelled.load(sync::kAcquire); }

  // CancellationToken::cancelled()
  //
  // A future (`Output = Unit`) that is Ready once this token is cancelled.
  // It holds a copy of the token (the token itself may go first).
  WaitForCancellation cancelled() const;

  // CancellationToken::child_token()
  //
  // A new token cancelled when this one is (already cancelled if this one
  // is); cancelling it does not cancel this one.
  CancellationToken child_token() const {
    Node* p = checked();
    Node* c = new Node();
    {
      sync::Lock lock(p->mu);
      if (p->cancelled.load(sync::kRelaxed)) {
        c->cancelled.store(true, sync::kRelaxed);  // nobody else sees c yet
      } else {
        c->parent = p;
        p->retain();
        p->children.push_back(c);
      }
    }
    return CancellationToken(c);
  }

  // CancellationToken::drop_guard()
  //
  // A guard that cancels this token when destroyed (unless disarmed).
  DropGuard drop_guard() const&;
  DropGuard drop_guard() &&;

  // Live direct children (for tests and metrics).
  std::size_t child_count() const {
    Node* n = checked();
    sync::Lock lock(n->mu);
    return n->children.size();
  }

  // True if both handles refer to the same token.
  friend bool operator==(const CancellationToken& a, const CancellationToken& b) noexcept {
    return a.node_ == b.node_;
  }

 private:
  friend class WaitForCancellation;
  using Node = channels_internal::CancelNode;

  explicit CancellationToken(Node* n) noexcept : node_(n) {}

  Node* checked() const noexcept {
    WEFT_HARDENING_ASSERT(node_ != nullptr, "CancellationToken used after it was moved from");
    return node_;
  }
  void drop() noexcept {
    Node* n = std::exchange(node_, nullptr);
    if (n == nullptr) return;
    if (n->handles.fetch_sub(1, sync::kAcqRel) != 1) return;
    channels_internal::detach_node(n);
    n->release();  // the tree reference
  }

  Node* node_;
};

// WaitForCancellation
//
// The future returned by `CancellationToken::cancelled()`. Cancel-safe:
// waiting consumes nothing, so dropping it loses nothing.
class [[nodiscard("futures do nothing unless polled")]] WaitForCancellation {
 public:
  using Output = Unit;
  static constexpr bool kCancelSafe = true;

  explicit WaitForCancellation(CancellationToken token)
      : token_(std::move(token)), notified_(token_.checked()->notify.notified()) {}
  // Moving is allowed only before the first poll (asserted by Notified).
  WaitForCancellation(WaitForCancellation &&) noexcept = default;

  Poll<Unit> poll(Context & cx) {
    // `notified_` was created (counting notify_waiters calls) before this
    // check, so a cancel() that the check misses still completes it.
    if (token_.is_cancelled()) {
      if (!cx.poll_proceed()) return Pending{};
      return Unit{};
    }
    if (notified_.poll(cx).is_pending()) return Pending{};
    WEFT_ASSERT(token_.is_cancelled(), "WaitForCancellation woken without a cancellation");
    return Unit{};
  }

 private:
  CancellationToken token_;
  Notified notified_;
};

inline WaitForCancellation CancellationToken::cancelled() const {
  return WaitForCancellation(*this);
}

// DropGuard
//
// Cancels its token when destroyed, unless `disarm()` was called first.
// Movable (the moved-from guard is disarmed), not copyable.
class [[nodiscard("a DropGuard cancels its token when it is destroyed")]] DropGuard {
 public:
  explicit DropGuard(CancellationToken token) noexcept : token_(std::move(token)), armed_(true) {}
  DropGuard(DropGuard && o) noexcept
      : token_(std::move(o.token_)), armed_(std::exchange(o.armed_, false)) {}
  DropGuard& operator=(DropGuard&&) = delete;
  DropGuard(const DropGuard&) = delete;
  DropGuard& operator=(const DropGuard&) = delete;
  ~DropGuard() {
    if (armed_) token_.cancel();
  }

  // DropGuard::disarm()
  //
  // Keeps the token from being cancelled and hands it back (the guard is
  // then inert).
  CancellationToken disarm() noexcept {
    armed_ = false;
    return std::move(token_);
  }

 private:
  CancellationToken token_;
  bool armed_;
};

inline DropGuard CancellationToken::drop_guard() const& { return DropGuard(*this); }
inline DropGuard CancellationToken::drop_guard() && { return DropGuard(std::move(*this)); }

}  // namespace weft

#endif  // WEFT_CHANNELS_CANCELLATION_TOKEN_H_
