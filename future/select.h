// -----------------------------------------------------------------------------
// File: future/select.h
// -----------------------------------------------------------------------------
//
// `select(a, b, ...)` polls several futures (arms) concurrently and completes
// with the output of the first one that finishes, saying which arm it was;
// the other arms (the losers) are destroyed, i.e. cancelled, at that moment.
// Rust: `tokio::select!` / `futures::select!` (without the pattern syntax);
// `select_biased(...)` is `tokio::select! { biased; ... }`.
//
// Output: `Selected<Outs...>`, an alias of `std::variant<Outs...>` built with
// `std::in_place_index`, so arms may share an output type. `out.index()` is
// the winning arm; `std::get<I>(out)` its output (`std::visit` works too, but
// cannot tell apart arms of the same type).
//
// Fairness: `select` polls the arms in a rotating order. Its first poll starts
// at an arm taken from a process-wide counter (one relaxed atomic load and
// store, no read-modify-write; a lost update only makes the rotation less
// even), and each later poll of the same `Select` starts one arm further on.
// So a loop that builds a new `select` each time over arms that are all
// ready lets each arm win in turn instead of starving the last one (Rust's
// `select!` picks a random start for the same reason). `select_biased`
// always polls arm 0 first, then 1, ...: deterministic, and the right choice
// when one arm must take priority (e.g. a shutdown signal).
//
// Cancel safety as a type property: every arm must be `CancelSafe` (see
// future/future.h), because losing arms are dropped. Passing one that is not
// is a compile error that says so; wrap it as `weft::unsafe_cancel(f)` to
// state that losing whatever it was doing is acceptable. A `Select` is itself
// cancel-safe (its arms are). The weft futures that are cancel-safe so far:
//   ready, pending, yield_now                         (future/ready.h)
//   map / inspect / fuse of cancel-safe futures       (future/map.h)
//   select / select_biased (of cancel-safe arms)      (this file)
//   UnsafeCancel (`unsafe_cancel(f)`, by declaration) (future/future.h)
// and not: poll_fn, lazy (user code weft cannot judge), then, flatten, join,
// try_join, join_all (a finished part's output would be lost), Task.
//
// Costs:        no allocation. sizeof(Select<A, B>) is sizeof(A) + sizeof(B)
//               (+ padding) + one byte of state + one byte of rotation
//               (none for `select_biased`).
// Wakeups:      each poll polls the arms in turn until one is Ready; the
//               arms polled register the task's waker themselves. Every arm
//               is polled on every poll until one wins (per-arm wakers are
//               `FuturesUnordered`'s job).
// Contract:     must not move after the first poll unless every arm is
//               `Unpin` (debug-checked); must not be polled after it returned
//               Ready (debug assert). 1 to 255 arms.
// Cancellation: the losers are destroyed before `poll` returns Ready (the
//               winner too, after its output was moved out); destroying a
//               pending `Select` destroys every arm. Freestanding.
//
// Example:
//
//   auto s = weft::select_biased(weft::pending<int>(), weft::ready(std::string("hi")));
//   auto out = testing::poll_once(s).value();      // Selected<int, std::string>
//   ASSERT_EQ(out.index(), 1u);                    // arm 1 won; arm 0 was dropped
//   EXPECT_EQ(std::get<1>(out), "hi");
//
#ifndef WEFT_FUTURE_SELECT_H_
#define WEFT_FUTURE_SELECT_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// Selected<Outs...>
//
// The output of `select`: which arm won (`index()`) and its output
// (`std::get<I>`). Arms with the same output type stay distinct.
template <class... Outs>
using Selected = std::variant<Outs...>;

// SelectOrder: the order in which a `SelectWith` polls its arms.
enum class SelectOrder {
  kRotating,  // `select`: start one arm further on at each poll (fair)
  kBiased,    // `select_biased`: always arm 0 first (priority)
};

namespace future_internal {

// The start of the next `select`'s rotation, shared by the process. Only
// relaxed loads and stores: it is a fairness hint, not a count.
inline std::atomic<std::uint32_t> select_rotation_seed{0};

inline std::uint32_t next_select_seed() noexcept {
  const std::uint32_t s = select_rotation_seed.load(std::memory_order_relaxed);
  select_rotation_seed.store(s + 1, std::memory_order_relaxed);
  return s;
}

struct NoRotation {};

// Returned by `select()` when an arm is not cancel-safe; its body's
// static_assert names the problem. Not a future, so `requires { select(...) }`
// -style checks that ask for a Future see the rejection.
struct SelectRejected {};

template <std::size_t I, class F>
constexpr bool check_select_arm() {
  static_assert(Future<std::remove_cvref_t<F>>, "select: every arm must be a weft Future");
  static_assert(!Future<std::remove_cvref_t<F>> || CancelSafe<F>,
                "select: this arm is not cancel-safe (dropping it when another arm wins could "
                "lose data); if you accept that, pass it as weft::unsafe_cancel(f)");
  return true;
}

template <class... Fs>
constexpr bool check_select_arms() {
  return []<std::size_t... I>(std::index_sequence<I...>) {
    return (check_select_arm<I, Fs>() && ...);
  }(std::index_sequence_for<Fs...>{});
}

}  // namespace future_internal

// SelectWith<kOrder, Fs...>
//
// The future returned by `select()` (`Select<Fs...>`) and `select_biased()`
// (`SelectBiased<Fs...>`). Name it only to store it in a member.
template <SelectOrder kOrder, Future... Fs>
class [[nodiscard("futures do nothing unless polled")]] SelectWith {
  static constexpr std::size_t kN = sizeof...(Fs);
  static_assert(kN >= 1, "select needs at least one arm");
  static_assert(kN <= 255, "select takes at most 255 arms; use select_all for more");
  static_assert(future_internal::kAllCancelSafe<Fs...>,
                "select: every arm must be cancel-safe; wrap an arm that is not in "
                "weft::unsafe_cancel(f) if losing it is acceptable");
  static constexpr bool kBiased = kOrder == SelectOrder::kBiased;
  using Arms = std::tuple<Fs...>;
  using Rotation = std::conditional_t<kBiased, future_internal::NoRotation, std::uint8_t>;

 public:
  using Output = Selected<OutputOf<Fs>...>;
  static constexpr bool kUnpin = future_internal::kAllUnpin<Fs...>;
  static constexpr bool kCancelSafe = true;  // every arm is

  template <class... Gs>
    requires(sizeof...(Gs) == kN && (std::is_constructible_v<Fs, Gs &&> && ...))
  explicit SelectWith(Gs&&... gs) {
    std::construct_at(std::addressof(arms_), std::forward<Gs>(gs)...);
    live_ = true;
    if constexpr (!kBiased) start_ = static_cast<std::uint8_t>(future_internal::next_select_seed() % kN);
  }

  SelectWith(SelectWith&& o) noexcept((std::is_nothrow_move_constructible_v<Fs> && ...))
      : start_(o.start_), moved_(o.moved_) {
    if (o.live_) {
      std::construct_at(std::addressof(arms_), std::move(o.arms_));
      live_ = true;
    }
  }
  SelectWith& operator=(SelectWith&&) = delete;

  ~SelectWith() {
    if (live_) std::destroy_at(std::addressof(arms_));
  }

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "Select was moved after its first poll");
    WEFT_ASSERT(live_, "Select must not be polled after it returned ready");
    if constexpr (kBiased) {
      return poll_from<0>(cx, 0, kN);
    } else {
      const std::size_t start = start_;
      start_ = static_cast<std::uint8_t>(start + 1 == kN ? 0 : start + 1);
      Poll<Output> p = poll_from<0>(cx, start, kN);
      if (p.is_ready() || start == 0) return p;
      return poll_from<0>(cx, 0, start);
    }
  }

 private:
  // Polls arms I.. in order, those with index in [lo, hi); the first Ready
  // one wins.
  template <std::size_t I>
  Poll<Output> poll_from(Context& cx, std::size_t lo, std::size_t hi) {
    if constexpr (I == kN) {
      return Pending{};
    } else {
      if (I >= lo && I < hi) {
        auto p = std::get<I>(arms_).poll(cx);
        if (p.is_ready()) return win<I>(std::move(p).value());
      }
      return poll_from<I + 1>(cx, lo, hi);
    }
  }

  template <std::size_t I, class V>
  Poll<Output> win(V&& v) {
    Output out(std::in_place_index<I>, std::forward<V>(v));
    live_ = false;
    std::destroy_at(std::addressof(arms_));  // cancels the losers now
    return out;
  }

  union {
    Arms arms_;
  };
  bool live_ = false;
  [[no_unique_address]] Rotation start_{};
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

template <class... Fs>
using Select = SelectWith<SelectOrder::kRotating, Fs...>;
template <class... Fs>
using SelectBiased = SelectWith<SelectOrder::kBiased, Fs...>;

// select()
//
// The first arm to finish wins; the others are cancelled. Arms are polled in
// a rotating order (see "Fairness" above). Every arm must be `CancelSafe`.
template <class... Fs>
  requires(sizeof...(Fs) >= 1 && (CancelSafe<Fs> && ...))
Select<std::remove_cvref_t<Fs>...> select(Fs&&... fs) {
  return Select<std::remove_cvref_t<Fs>...>(std::forward<Fs>(fs)...);
}

// The rejected overload: an arm is not a cancel-safe future. Calling it fails
// to compile with a message naming the fix (it is never instantiated by a
// mere `requires { select(...) }` check, which sees a non-future result).
template <class... Fs>
  requires(!(sizeof...(Fs) >= 1 && (CancelSafe<Fs> && ...)))
future_internal::SelectRejected select(Fs&&...) {
  static_assert(sizeof...(Fs) >= 1, "select needs at least one arm");
  static_assert(future_internal::check_select_arms<Fs...>());
  return {};
}

// select_biased()
//
// `select` that always polls arm 0 first, then arm 1, ... (priority order).
template <class... Fs>
  requires(sizeof...(Fs) >= 1 && (CancelSafe<Fs> && ...))
SelectBiased<std::remove_cvref_t<Fs>...> select_biased(Fs&&... fs) {
  return SelectBiased<std::remove_cvref_t<Fs>...>(std::forward<Fs>(fs)...);
}

template <class... Fs>
  requires(!(sizeof...(Fs) >= 1 && (CancelSafe<Fs> && ...)))
future_internal::SelectRejected select_biased(Fs&&...) {
  static_assert(sizeof...(Fs) >= 1, "select_biased needs at least one arm");
  static_assert(future_internal::check_select_arms<Fs...>());
  return {};
}

}  // namespace weft

#endif  // WEFT_FUTURE_SELECT_H_
