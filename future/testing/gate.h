// -----------------------------------------------------------------------------
// File: future/testing/gate.h
// -----------------------------------------------------------------------------
//
// Test futures shared by the combinator tests (testonly):
//
//   Gate g;                               // opened by hand: g.fire()
//   GateFuture<int> f(&g, 5);             // Pending until g is open, then Ready(5);
//                                         // counts polls (g.polls) and drops (g.drops)
//   GateFuture<int, /*kUnpin=*/false, /*kCancelSafe=*/false>   // trait variants
//   Tracked t(&live, 7);                  // counts live instances in `live`
#ifndef WEFT_FUTURE_TESTING_GATE_H_
#define WEFT_FUTURE_TESTING_GATE_H_

#include <utility>

#include "future/context.h"
#include "future/poll.h"
#include "future/waker.h"

namespace weft::testing {

// A gate a test opens by hand: the future waiting on it registers the waker,
// counts its polls, and counts its destruction (dropping its waker then).
struct Gate {
  bool open = false;
  int polls = 0;
  int drops = 0;
  Waker waker;
  void fire() {
    open = true;
    std::move(waker).wake();
  }
};

template <class T = int, bool kUnpinV = true, bool kSafe = true>
class GateFuture {
 public:
  using Output = T;
  static constexpr bool kUnpin = kUnpinV;
  static constexpr bool kCancelSafe = kSafe;

  GateFuture(Gate* g, T v) : g_(g), v_(std::move(v)) {}
  GateFuture(GateFuture&& o) noexcept : g_(std::exchange(o.g_, nullptr)), v_(std::move(o.v_)) {}
  ~GateFuture() {
    if (g_ != nullptr) {
      ++g_->drops;
      g_->waker = Waker();
    }
  }

  Poll<T> poll(Context& cx) {
    ++g_->polls;
    if (g_->open) return std::move(v_);
    register_waker(g_->waker, cx.waker());
    return Pending{};
  }

  Gate* gate() const { return g_; }

 private:
  Gate* g_;
  T v_;
};

// A value that counts how many of its instances are alive.
class Tracked {
 public:
  explicit Tracked(int* live, int v = 0) : live_(live), v_(v) { ++*live_; }
  Tracked(Tracked&& o) noexcept : live_(o.live_), v_(o.v_) { ++*live_; }
  Tracked(const Tracked& o) : live_(o.live_), v_(o.v_) { ++*live_; }
  ~Tracked() { --*live_; }
  int value() const { return v_; }

 private:
  int* live_;
  int v_;
};

}  // namespace weft::testing

#endif  // WEFT_FUTURE_TESTING_GATE_H_
