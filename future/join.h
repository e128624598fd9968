// -----------------------------------------------------------------------------
// File: future/join.h
// -----------------------------------------------------------------------------
//
// `join(a, b, ...)` polls several futures concurrently (in one task) and
// completes with all their outputs, as a `std::tuple`, once every one of them
// has finished. Rust: `futures::future::join`, `join3`..., `join!`.
//
// Costs:        no allocation. Each child is stored in a slot that holds
//               either the future or, once it finished, its output (a union,
//               like Rust's `MaybeDone`), so sizeof(Join<A, B>) is
//               max(sizeof(A), sizeof(Output of A)) + the same for B + one
//               bit mask (a byte up to 7 children) + padding.
// Wakeups:      every poll of a `Join` polls each child that has not
//               finished yet, in argument order; a finished child is
//               destroyed at once and never polled again. (Polling only the
//               children whose own waker fired needs a waker per child:
//               that is `FuturesUnordered`'s job, not `join`'s.)
// Contract:     must not move after the first poll unless every child is
//               `Unpin` (debug-checked); must not be polled after it returned
//               Ready (debug assert). At least one child; at most 63.
// Cancellation: destroying a `Join` destroys every child still running and
//               every output already stored; no waker is left behind if the
//               children leave none. `Join` is NOT cancel-safe: dropping it
//               after one child finished loses that child's output (so it
//               cannot be a `select` arm unless wrapped in `unsafe_cancel`).
// Freestanding.
//
// Example:
//
//   auto j = weft::join(weft::ready(1), weft::yield_now(), weft::ready('x'));
//   EXPECT_TRUE(testing::poll_once(j).is_pending());   // yield_now is not done
//   auto [n, unit, c] = testing::poll_once(j).value();  // only yield_now re-polled
//   EXPECT_EQ(n, 1);
//   EXPECT_EQ(c, 'x');
//
#ifndef WEFT_FUTURE_JOIN_H_
#define WEFT_FUTURE_JOIN_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

namespace future_internal {

// The smallest unsigned type with at least `N` bits.
template <std::size_t N>
using MaskFor = std::conditional_t<
    (N <= 8), std::uint8_t,
    std::conditional_t<(N <= 16), std::uint16_t,
                       std::conditional_t<(N <= 32), std::uint32_t, std::uint64_t>>>;

// ChildSlot<F, V>
//
// Storage for a child of a join: the future `F` or the value `V` it produced,
// or nothing. Which member is alive is kept by the owner (so that N children
// share one mask of bookkeeping instead of a tag each).
template <class F, class V>
union ChildSlot {
  ChildSlot() noexcept {}
  ChildSlot(const ChildSlot&) = delete;
  ChildSlot& operator=(const ChildSlot&) = delete;
  ~ChildSlot() {}

  F fut;
  V out;
};

// JoinChild<F, V>: a child future `F` whose result is stored as `V`.
template <class F, class V>
struct JoinChild {
  using Fut = F;
  using Value = V;
};

template <std::size_t I, class C>
struct JoinLeaf {
  ChildSlot<typename C::Fut, typename C::Value> slot;
};

template <class Seq, class... Cs>
struct JoinLeaves;
template <std::size_t... I, class... Cs>
struct JoinLeaves<std::index_sequence<I...>, Cs...> : JoinLeaf<I, Cs>... {};

// JoinCore<Cs...>
//
// The state shared by `Join` (freestanding) and `TryJoin` (status.h): N
// children, each a `JoinChild<F, V>`, each in a `ChildSlot`.
//
// Invariants, on one mask `state_` of N + 1 bits: bit I (I < N) is set
// exactly while child I's future is alive; bit N (`kHolding`) is set while
// the slots hold something, and then every slot whose bit is clear holds its
// stored value. `finished()` (no bit set) means the owner returned Ready (or
// failed) and must not be polled again.
//
//   (1) construction:   every future built, then kHolding set
//   (2) finish<I>(v):   future I destroyed, v stored in its slot, bit I cleared
//   (3) take():         values moved out and destroyed; state_ = 0
//   (4) destroy_all():  every live future and value destroyed; state_ = 0
//
// If storing a value throws (hosted builds) the core is abandoned: every
// other live member is destroyed and state_ becomes 0.
template <class... Cs>
class JoinCore {
  static constexpr std::size_t kN = sizeof...(Cs);
  static_assert(kN >= 1, "join needs at least one future");
  static_assert(kN <= 63, "join takes at most 63 futures; use join_all for more");
  using Mask = MaskFor<kN + 1>;
  using Seq = std::make_index_sequence<kN>;
  static constexpr Mask kHolding = static_cast<Mask>(Mask{1} << kN);
  static constexpr Mask kRunning = static_cast<Mask>(kHolding - 1);

  template <std::size_t I>
  using C = std::tuple_element_t<I, std::tuple<Cs...>>;

 public:
  using Values = std::tuple<typename Cs::Value...>;

  template <class... Gs>
  explicit JoinCore(Gs&&... gs) {
    construct(Seq{}, std::forward<Gs>(gs)...);
  }

  // Moves every live member (futures, stored values) of `o`; `o` keeps its
  // moved-from members, which its destructor destroys.
  JoinCore(JoinCore&& o) noexcept(
      ((std::is_nothrow_move_constructible_v<typename Cs::Fut> &&
        std::is_nothrow_move_constructible_v<typename Cs::Value>) &&
       ...)) {
    move_from(o, Seq{});
  }
  JoinCore& operator=(JoinCore&&) = delete;

  ~JoinCore() { destroy_all(); }

  template <std::size_t I>
  auto& slot() noexcept {
    return static_cast<JoinLeaf<I, C<I>>&>(leaves_).slot;
  }

  static constexpr Mask bit(std::size_t i) noexcept { return static_cast<Mask>(Mask{1} << i); }

  bool running(std::size_t i) const noexcept { return (state_ & bit(i)) != 0; }
  bool any_running() const noexcept { return (state_ & kRunning) != 0; }
  bool finished() const noexcept { return state_ == 0; }

  // Destroys child I's future and stores `v` in its place.
  template <std::size_t I, class V>
  void finish(V&& v) {
    auto& s = slot<I>();
    std::destroy_at(std::addressof(s.fut));
    if constexpr (std::is_nothrow_constructible_v<typename C<I>::Value, V&&>) {
      std::construct_at(std::addressof(s.out), std::forward<V>(v));
    } else {
      struct Abandon {  // the slot is empty if the value's constructor throws
        JoinCore* self;
        ~Abandon() {
          if (self != nullptr) self->abandon(I);
        }
      } guard{this};
      std::construct_at(std::addressof(s.out), std::forward<V>(v));
      guard.self = nullptr;
    }
    state_ = static_cast<Mask>(state_ & ~bit(I));
  }

  // Moves every stored value out (no child may be running) and destroys
  // them; the core is `finished()` afterwards.
  Values take() {
    WEFT_ASSERT(state_ == kHolding, "JoinCore::take called while a child is still running");
    return take(Seq{});
  }

  // Destroys every live future and value (cancellation, or a failure).
  void destroy_all() noexcept {
    if (state_ == 0) return;
    destroy_all(Seq{});
    state_ = 0;
  }

 private:
  // If a constructor throws, this destroys the slots already built (the
  // first `built`, laid out as `layout` says) before the exception leaves.
  struct BuildGuard {
    JoinCore* self;
    Mask layout;
    std::size_t built = 0;
    ~BuildGuard() {
      if (self != nullptr) self->destroy_prefix(layout, built, Seq{});
    }
  };

  template <std::size_t... I, class... Gs>
  void construct(std::index_sequence<I...>, Gs&&... gs) {
    constexpr Mask kAll = static_cast<Mask>(kRunning | kHolding);
    BuildGuard guard{this, kAll};
    ((std::construct_at(std::addressof(slot<I>().fut), std::forward<Gs>(gs)), ++guard.built), ...);
    guard.self = nullptr;
    state_ = kAll;
  }

  template <std::size_t... I>
  void move_from(JoinCore& o, std::index_sequence<I...>) {
    BuildGuard guard{this, o.state_};
    ((move_one<I>(o), ++guard.built), ...);
    guard.self = nullptr;
    state_ = o.state_;
  }

  template <std::size_t I>
  void move_one(JoinCore& o) {
    if ((o.state_ & bit(I)) != 0) {
      std::construct_at(std::addressof(slot<I>().fut), std::move(o.template slot<I>().fut));
    } else if ((o.state_ & kHolding) != 0) {
      std::construct_at(std::addressof(slot<I>().out), std::move(o.template slot<I>().out));
    }
  }

  template <std::size_t... I>
  void destroy_prefix(Mask layout, std::size_t n, std::index_sequence<I...>) noexcept {
    ((I < n ? destroy_one<I>(layout) : void()), ...);
  }

  template <std::size_t... I>
  Values take(std::index_sequence<I...>) {
    Values v(std::move(slot<I>().out)...);
    (std::destroy_at(std::addressof(slot<I>().out)), ...);
    state_ = 0;
    return v;
  }

  template <std::size_t... I>
  void destroy_all(std::index_sequence<I...>) noexcept {
    (destroy_one<I>(state_), ...);
  }

  // Destroys slot I as `layout` describes it.
  template <std::size_t I>
  void destroy_one(Mask layout) noexcept {
    if ((layout & bit(I)) != 0) {
      std::destroy_at(std::addressof(slot<I>().fut));
    } else if ((layout & kHolding) != 0) {
      std::destroy_at(std::addressof(slot<I>().out));
    }
  }

  // After slot `empty` failed to receive its value: destroys every other
  // live member and gives up.
  void abandon(std::size_t empty) noexcept {
    state_ = static_cast<Mask>(state_ & ~bit(empty));
    abandon(empty, Seq{});
    state_ = 0;
  }
  template <std::size_t... I>
  void abandon(std::size_t empty, std::index_sequence<I...>) noexcept {
    ((I != empty ? destroy_one<I>(state_) : void()), ...);
  }

  JoinLeaves<Seq, Cs...> leaves_;
  Mask state_ = 0;
};

}  // namespace future_internal

// Join<Fs...>
//
// The future returned by `join()`. Name it only to store it in a member.
// Output: `std::tuple<OutputOf<Fs>...>`, in argument order.
template <Future... Fs>
class [[nodiscard("futures do nothing unless polled")]] Join {
  using Core = future_internal::JoinCore<future_internal::JoinChild<Fs, OutputOf<Fs>>...>;

 public:
  using Output = std::tuple<OutputOf<Fs>...>;
  static constexpr bool kUnpin = future_internal::kAllUnpin<Fs...>;
  // Not cancel-safe (no kCancelSafe): a finished child's output would be lost.

  template <class... Gs>
    requires(sizeof...(Gs) == sizeof...(Fs) && (std::is_constructible_v<Fs, Gs &&> && ...))
  explicit Join(Gs&&... gs) : core_(std::forward<Gs>(gs)...) {}

  Join(Join&&) = default;
  Join& operator=(Join&&) = delete;

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Join was moved after its first poll");
    WEFT_ASSERT(!core_.finished(), "Join must not be polled after it returned ready");
    poll_children(cx, std::index_sequence_for<Fs...>{});
    if (core_.any_running()) return Pending{};
    return core_.take();
  }

 private:
  template <std::size_t... I>
  void poll_children(Context& cx, std::index_sequence<I...>) {
    (poll_child<I>(cx), ...);
  }

  template <std::size_t I>
  void poll_child(Context& cx) {
    if (!core_.running(I)) return;
    auto p = core_.template slot<I>().fut.poll(cx);
    if (p.is_ready()) core_.template finish<I>(std::move(p).value());
  }

  Core core_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// join()
//
// Polls every future concurrently; Ready with all outputs once all are done.
template <class... Fs>
  requires(sizeof...(Fs) >= 1 && (Future<std::remove_cvref_t<Fs>> && ...))
Join<std::remove_cvref_t<Fs>...> join(Fs&&... fs) {
  return Join<std::remove_cvref_t<Fs>...>(std::forward<Fs>(fs)...);
}

}  // namespace weft

#endif  // WEFT_FUTURE_JOIN_H_
