// -----------------------------------------------------------------------------
// File: channels/internal/waiter_list.h
// -----------------------------------------------------------------------------
//
// `IntrusiveList<T>`: the doubly linked list every channel and sync
// primitive keeps its waiting futures in. The node lives inside the waiting
// future (which does not move after its first poll), so waiting allocates
// nothing; a future destroyed while queued unlinks itself in O(1).
// Rust: tokio's `util::linked_list::LinkedList` (also intrusive).
//
//   struct Waiter : ListLink<Waiter> { Waker waker; ... };
//   IntrusiveList<Waiter> waiters;          // guarded by the owner's lock
//   waiters.push_back(&w);  waiters.remove(&w);  Waiter* f = waiters.pop_front();
//
// Costs: two pointers and a flag per node; every operation O(1) except
// `for_each`. Not thread-safe: the owning primitive guards the list (and
// every node's `ListLink` fields) with its lock; a node is read or written
// only under that lock. Freestanding.
#ifndef WEFT_CHANNELS_INTERNAL_WAITER_LIST_H_
#define WEFT_CHANNELS_INTERNAL_WAITER_LIST_H_

#include <cstddef>

#include "tools/base/assert.h"

namespace weft::channels_internal {

template <class T>
class IntrusiveList;

// Derive a node type from ListLink<Node>.
template <class T>
class ListLink {
 public:
  constexpr ListLink() noexcept = default;
  // A link is never copied with its node: a copy starts unlinked.
  ListLink(const ListLink&) noexcept {}
  ListLink& operator=(const ListLink&) noexcept { return *this; }

  // True while the node is in a list (read under the owner's lock).
  bool linked() const noexcept { return linked_; }

 private:
  friend class IntrusiveList<T>;
  T* prev_ = nullptr;
  T* next_ = nullptr;
  bool linked_ = false;
};

template <class T>
class IntrusiveList {
 public:
  constexpr IntrusiveList() noexcept = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;
  ~IntrusiveList() { WEFT_ASSERT(empty(), "IntrusiveList destroyed with waiters still linked"); }

  bool empty() const noexcept { return head_ == nullptr; }
  std::size_t size() const noexcept { return size_; }
  T* front() const noexcept { return head_; }
  T* back() const noexcept { return tail_; }

  void push_back(T* n) noexcept {
    ListLink<T>& l = link(n);
    WEFT_ASSERT(!l.linked_, "IntrusiveList: node is already in a list");
    l.prev_ = tail_;
    l.next_ = nullptr;
    l.linked_ = true;
    if (tail_ != nullptr) {
      link(tail_).next_ = n;
    } else {
      head_ = n;
    }
    tail_ = n;
    ++size_;
  }

  void push_front(T* n) noexcept {
    ListLink<T>& l = link(n);
    WEFT_ASSERT(!l.linked_, "IntrusiveList: node is already in a list");
    l.prev_ = nullptr;
    l.next_ = head_;
    l.linked_ = true;
    if (head_ != nullptr) {
      link(head_).prev_ = n;
    } else {
      tail_ = n;
    }
    head_ = n;
    ++size_;
  }

  // The first node, unlinked; nullptr when empty.
  T* pop_front() noexcept {
    T* n = head_;
    if (n != nullptr) remove(n);
    return n;
  }

  // Unlinks `n`, which must be in this list.
  void remove(T* n) noexcept {
    ListLink<T>& l = link(n);
    WEFT_ASSERT(l.linked_, "IntrusiveList::remove: node is not in a list");
    if (l.prev_ != nullptr) {
      link(l.prev_).next_ = l.next_;
    } else {
      head_ = l.next_;
    }
    if (l.next_ != nullptr) {
      link(l.next_).prev_ = l.prev_;
    } else {
      tail_ = l.prev_;
    }
    l.prev_ = l.next_ = nullptr;
    l.linked_ = false;
    --size_;
  }

  // Moves every node of `other` to the back of this list, in order.
  void splice_back(IntrusiveList& other) noexcept {
    if (other.empty()) return;
    if (empty()) {
      head_ = other.head_;
    } else {
      link(tail_).next_ = other.head_;
      link(other.head_).prev_ = tail_;
    }
    tail_ = other.tail_;
    size_ += other.size_;
    other.head_ = other.tail_ = nullptr;
    other.size_ = 0;
  }

  // f(T*) for each node, front to back; `f` must not unlink other nodes
  // (unlinking the node it is given is allowed).
  template <class F>
  void for_each(F&& f) {
    for (T* n = head_; n != nullptr;) {
      T* next = link(n).next_;
      f(n);
      n = next;
    }
  }

 private:
  static ListLink<T>& link(T* n) noexcept { return *static_cast<ListLink<T>*>(n); }

  T* head_ = nullptr;
  T* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_WAITER_LIST_H_
