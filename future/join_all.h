// -----------------------------------------------------------------------------
// File: future/join_all.h
// -----------------------------------------------------------------------------
//
// `join_all(std::vector<F>)` and `select_all(std::vector<F>)`: `join` and
// `select` over a number of futures of one type known only at run time.
// Rust: `futures::future::join_all`, `futures::future::select_all`.
//
//   join_all(v)    Ready(std::vector<Output>) once every future finished, in
//                  the input order.                          JoinAll<F>
//   select_all(v)  Ready(SelectAllOutput<F>{output, index, remaining}) as
//                  soon as one finished: its output, its index in `v`, and
//                  the other futures, not cancelled, in their input order,
//                  ready to be selected again.               SelectAll<F>
//
// Costs:        hosted (heap). `join_all` allocates once when it is built
//               (an array of n slots, each the future or, once it finished,
//               its output; the input vector is released), and once more at
//               completion for the vector it returns; polling allocates
//               nothing else. `select_all` keeps the input vector and
//               allocates nothing, except to rebuild `remaining` when `F`'s
//               move constructor may throw. Both are `Unpin` (the children
//               live on the heap and never move), whatever `F` is.
// Wakeups:      each poll polls every child that has not finished, in order
//               (`join_all` skips the finished ones and a finished prefix at
//               no cost); O(n) per poll. To poll only the children whose
//               waker fired, use `FuturesUnordered`.
// Contract:     must not be polled after Ready (debug assert). `select_all`
//               needs at least one future, and `F` must be `Unpin`, since
//               the remaining futures are handed back (moved) after they
//               were polled. `select_all` polls in a rotating order, as
//               `select` does (future/select.h, "Fairness").
// Cancellation: destroying a `JoinAll` destroys the unfinished children and
//               the outputs stored so far (so it is not cancel-safe);
//               destroying a `SelectAll` destroys every child, and it is
//               cancel-safe when `F` is. A finished `join_all` child is
//               destroyed as soon as it is Ready.
//
// Example:
//
//   std::vector<weft::Ready<int>> v;
//   for (int i = 0; i < 3; ++i) v.push_back(weft::ready(i * 10));
//   auto all = weft::join_all(std::move(v));
//   EXPECT_EQ(testing::poll_once(all).value(), (std::vector<int>{0, 10, 20}));
//
#ifndef WEFT_FUTURE_JOIN_ALL_H_
#define WEFT_FUTURE_JOIN_ALL_H_

#include <cstddef>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/context.h"
#include "future/future.h"
#include "future/join.h"
#include "future/poll.h"
#include "future/select.h"
#include "tools/base/assert.h"

namespace weft {

// JoinAll<F>
//
// The future returned by `join_all()`.
template <Future F>
class [[nodiscard("futures do nothing unless polled")]] JoinAll {
  using Out = OutputOf<F>;
  // Which member of a slot's union is alive. kEmpty only if storing an
  // output threw (hosted builds).
  enum class State : unsigned char { kRunning, kDone, kEmpty };
  struct Slot {
    future_internal::ChildSlot<F, Out> u;
    State state;
  };

 public:
  using Output = std::vector<Out>;
  static constexpr bool kUnpin = true;  // the children live on the heap
  // Not cancel-safe: the outputs of finished children would be lost.

  explicit JoinAll(std::vector<F> futs) : n_(futs.size()) {
    if (n_ == 0) return;
    slots_ = std::allocator<Slot>().allocate(n_);
    // If a move throws, destroy what was built and free the array.
    struct Guard {
      JoinAll* self;
      std::size_t built = 0;
      ~Guard() {
        if (self == nullptr) return;
        for (std::size_t i = 0; i < built; ++i) std::destroy_at(std::addressof(self->slots_[i].u.fut));
        std::allocator<Slot>().deallocate(self->slots_, self->n_);
        self->slots_ = nullptr;
      }
    } guard{this};
    for (; guard.built < n_; ++guard.built) {
      Slot* s = slots_ + guard.built;
      std::construct_at(s);
      std::construct_at(std::addressof(s->u.fut), std::move(futs[guard.built]));
      s->state = State::kRunning;
    }
    guard.self = nullptr;
    running_ = n_;
  }

  JoinAll(JoinAll&& o) noexcept
      : slots_(std::exchange(o.slots_, nullptr)),
        n_(std::exchange(o.n_, 0)),
        running_(std::exchange(o.running_, 0)),
        first_running_(std::exchange(o.first_running_, 0)),
        taken_(std::exchange(o.taken_, true)) {}
  JoinAll& operator=(JoinAll&& o) noexcept {
    if (this != &o) {
      release();
      slots_ = std::exchange(o.slots_, nullptr);
      n_ = std::exchange(o.n_, 0);
      running_ = std::exchange(o.running_, 0);
      first_running_ = std::exchange(o.first_running_, 0);
      taken_ = std::exchange(o.taken_, true);
    }
    return *this;
  }

  ~JoinAll() { release(); }

  Poll<Output> poll(Context& cx) {
    WEFT_ASSERT(!taken_, "JoinAll must not be polled after it returned ready");
    for (std::size_t i = first_running_; i < n_ && running_ != 0; ++i) {
      Slot& s = slots_[i];
      if (s.state != State::kRunning) continue;
      Poll<Out> p = s.u.fut.poll(cx);
      if (p.is_pending()) continue;
      std::destroy_at(std::addressof(s.u.fut));  // a finished child goes at once
      s.state = State::kEmpty;
      std::construct_at(std::addressof(s.u.out), std::move(p).value());
      s.state = State::kDone;
      --running_;
    }
    while (first_running_ < n_ && slots_[first_running_].state != State::kRunning) ++first_running_;
    if (running_ != 0) return Pending{};
    Output out;
    out.reserve(n_);
    for (std::size_t i = 0; i < n_; ++i) out.push_back(std::move(slots_[i].u.out));
    release();
    taken_ = true;
    return out;
  }

  // How many children have not finished yet.
  std::size_t running() const noexcept { return running_; }

 private:
  void release() noexcept {
    if (slots_ == nullptr) return;
    for (std::size_t i = 0; i < n_; ++i) {
      if (slots_[i].state == State::kDone) {
        std::destroy_at(std::addressof(slots_[i].u.out));
      } else if (slots_[i].state == State::kRunning) {
        std::destroy_at(std::addressof(slots_[i].u.fut));
      }
      std::destroy_at(slots_ + i);
    }
    std::allocator<Slot>().deallocate(slots_, n_);
    slots_ = nullptr;
  }

  Slot* slots_ = nullptr;
  std::size_t n_ = 0;
  std::size_t running_ = 0;
  std::size_t first_running_ = 0;  // every child before it has finished
  bool taken_ = false;
};

// join_all()
//
// Polls every future of `futs` concurrently; Ready with all their outputs, in
// order, once all are done. An empty vector is Ready (empty) at once.
template <Future F>
JoinAll<F> join_all(std::vector<F> futs) {
  return JoinAll<F>(std::move(futs));
}

// SelectAllOutput<F>
//
// What `select_all` completes with: the winner's output, its index in the
// input vector, and the other futures (input order, winner removed).
template <class F>
struct SelectAllOutput {
  OutputOf<F> output;
  std::size_t index;
  std::vector<F> remaining;
};

// SelectAll<F>
//
// The future returned by `select_all()`.
template <Future F>
class [[nodiscard("futures do nothing unless polled")]] SelectAll {
  static_assert(Unpin<F>,
                "select_all hands the remaining futures back after polling them, so they must be "
                "Unpin (declare `static constexpr bool kUnpin = true;` if F holds no "
                "self-reference)");

 public:
  using Output = SelectAllOutput<F>;
  static constexpr bool kUnpin = true;  // the children live on the heap
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  explicit SelectAll(std::vector<F> futs)
      : futs_(std::move(futs)),
        start_(futs_.empty() ? 0 : future_internal::next_select_seed() % futs_.size()) {
    WEFT_ASSERT(!futs_.empty(), "select_all needs at least one future");
  }

  Poll<Output> poll(Context& cx) {
    WEFT_ASSERT(!taken_, "SelectAll must not be polled after it returned ready");
    const std::size_t n = futs_.size();
    const std::size_t start = start_;
    start_ = start + 1 == n ? 0 : start + 1;
    for (std::size_t k = 0; k < n; ++k) {
      std::size_t i = start + k;
      if (i >= n) i -= n;
      Poll<OutputOf<F>> p = futs_[i].poll(cx);
      if (p.is_ready()) return win(i, std::move(p).value());
    }
    return Pending{};
  }

 private:
  Poll<Output> win(std::size_t i, OutputOf<F>&& v) {
    taken_ = true;
    std::vector<F> rest = std::move(futs_);
    if constexpr (std::is_nothrow_move_constructible_v<F>) {
      // Shift the tail down by one, in place: no allocation.
      for (std::size_t j = i; j + 1 < rest.size(); ++j) {
        std::destroy_at(std::addressof(rest[j]));
        std::construct_at(std::addressof(rest[j]), std::move(rest[j + 1]));
      }
      rest.pop_back();
    } else {
      std::vector<F> kept;
      kept.reserve(rest.size() - 1);
      for (std::size_t j = 0; j < rest.size(); ++j) {
        if (j != i) kept.push_back(std::move(rest[j]));
      }
      rest = std::move(kept);
    }
    return Output{std::move(v), i, std::move(rest)};
  }

  std::vector<F> futs_;
  std::size_t start_;
  bool taken_ = false;
};

// select_all()
//
// Ready as soon as one of `futs` finishes: its output, its index, and the
// other futures (not cancelled). `futs` must not be empty.
template <Future F>
SelectAll<F> select_all(std::vector<F> futs) {
  return SelectAll<F>(std::move(futs));
}

}  // namespace weft

#endif  // WEFT_FUTURE_JOIN_ALL_H_
