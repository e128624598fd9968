// -----------------------------------------------------------------------------
// File: future/status.h
// -----------------------------------------------------------------------------
//
// Combinators for futures whose output is `absl::Status` or
// `absl::StatusOr<T>`: errors are values and short-circuit.
// Rust: `TryFutureExt::{and_then, or_else, map_err}`, `futures::try_join!`.
//
//   and_then(f, fn)   f OK with T: fn(T) (fn() for Status) returns a future
//                     of StatusOr<U> or Status, which is awaited; f's error
//                     is the result without calling fn.        AndThen<F, Fn>
//   or_else(f, fn)    f's error: fn(Status) returns a future of f's output
//                     type, which is awaited (recovery); f's OK output is
//                     the result without calling fn.           OrElse<F, Fn>
//   map_err(f, fn)    f's error is replaced by fn(Status) -> Status; an OK
//                     output passes through.                   MapErr<F, Fn>
//   try_join(a, ...)  like join, Ready(StatusOr<tuple<T...>>) (Unit for a
//                     child that outputs Status) once all are OK; at the
//                     first error it destroys every other child at once and
//                     is Ready with that error.                TryJoin<Fs...>
//
// Costs:        hosted (Abseil), no allocation of their own. `AndThen` and
//               `OrElse` hold one state at a time (a variant of the first
//               future with fn, and the second future), like `then`;
//               `MapErr` is f plus fn; `TryJoin` is laid out like `Join`
//               (future/join.h), storing each child's T rather than its
//               StatusOr<T>.
// Wakeups:      `TryJoin` polls the children that have not finished, in
//               order, and stops at the first error.
// Contract:     not Unpin unless their futures are: must not move after the
//               first poll (debug-checked); must not be polled after Ready
//               (debug assert). `map_err`'s fn must return an error for a
//               StatusOr output (absl turns an OK one into an internal
//               error; debug builds assert).
// Cancellation: destroying any of them destroys the futures alive inside.
//               `MapErr` is cancel-safe when f is; `AndThen`, `OrElse` and
//               `TryJoin` are not (a finished step's result would be lost).
//
// Example:
//
//   auto f = weft::and_then(weft::ready(absl::StatusOr<int>(20)),
//                           [](int x) { return weft::ready(absl::StatusOr<int>(x + 1)); });
//   auto j = weft::try_join(std::move(f), weft::ready(absl::OkStatus()));
//   auto [n, unit] = testing::poll_once(j).value().value();
//   EXPECT_EQ(n, 21);
//
#ifndef WEFT_FUTURE_STATUS_H_
#define WEFT_FUTURE_STATUS_H_

#include <cstddef>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "future/context.h"
#include "future/future.h"
#include "future/join.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

namespace future_internal {

// StatusTraits<T>: whether T is absl::Status or absl::StatusOr<U>, and U
// (Unit for Status).
template <class T>
struct StatusTraits {
  static constexpr bool kStatusLike = false;
};
template <>
struct StatusTraits<absl::Status> {
  static constexpr bool kStatusLike = true;
  static constexpr bool kIsStatusOr = false;
  using Value = Unit;
};
template <class T>
struct StatusTraits<absl::StatusOr<T>> {
  static constexpr bool kStatusLike = true;
  static constexpr bool kIsStatusOr = true;
  using Value = T;
};

template <class T>
concept StatusLike = StatusTraits<std::remove_cvref_t<T>>::kStatusLike;

template <class F>
concept StatusFuture = Future<std::remove_cvref_t<F>> && StatusLike<OutputOf<F>>;

template <class T>
using StatusValue = typename StatusTraits<T>::Value;

// The error of a non-OK Status / StatusOr, moved out.
inline absl::Status error_of(absl::Status&& s) { return std::move(s); }
template <class T>
absl::Status error_of(absl::StatusOr<T>&& s) {
  return std::move(s).status();
}

// The value of an OK Status / StatusOr, moved out.
inline Unit value_of(absl::Status&&) { return Unit{}; }
template <class T>
T value_of(absl::StatusOr<T>&& s) {
  return *std::move(s);
}

// fn(value) for a StatusOr, fn() for a Status.
template <class Fn, class S>
decltype(auto) invoke_with_value(Fn&& fn, S&& s) {
  if constexpr (StatusTraits<std::remove_cvref_t<S>>::kIsStatusOr) {
    return std::invoke(std::forward<Fn>(fn), *std::move(s));
  } else {
    return std::invoke(std::forward<Fn>(fn));
  }
}

template <class Fn, class S>
struct AndThenResult;
template <class Fn>
struct AndThenResult<Fn, absl::Status> {
  using type = std::invoke_result_t<Fn&&>;
};
template <class Fn, class T>
struct AndThenResult<Fn, absl::StatusOr<T>> {
  using type = std::invoke_result_t<Fn&&, T&&>;
};

}  // namespace future_internal

// AndThen<F, Fn>: the future returned by `and_then()`. States: First(F, Fn)
// -> Second(G) -> Done, one alive at a time (F is destroyed before `fn`
// runs; G is built in place).
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] AndThen {
  using In = OutputOf<F>;
  static_assert(future_internal::StatusLike<In>,
                "and_then: the future must output absl::Status or absl::StatusOr<T>");
  using G = typename future_internal::AndThenResult<Fn, In>::type;
  static_assert(Future<G>,
                "and_then: the function must return a future (wrap a value in weft::ready(...))");
  static_assert(future_internal::StatusLike<OutputOf<G>>,
                "and_then: the function's future must output absl::Status or absl::StatusOr<U>");

  struct First {
    F f;
    Fn fn;
  };
  struct Done {};

 public:
  using Output = OutputOf<G>;
  static constexpr bool kUnpin = Unpin<F> && Unpin<G>;

  AndThen(F f, Fn fn) : state_(std::in_place_index<0>, First{std::move(f), std::move(fn)}) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "AndThen was moved after its first poll");
    WEFT_ASSERT(state_.index() < 2, "AndThen must not be polled after it returned ready (or threw)");
    if (auto* first = std::get_if<0>(&state_)) {
      Poll<In> p = first->f.poll(cx);
      if (p.is_pending()) return Pending{};
      In r = std::move(p).value();
      if (!r.ok()) {
        state_.template emplace<2>();
        return Output(future_internal::error_of(std::move(r)));
      }
      Fn fn = std::move(first->fn);
      state_.template emplace<2>();  // F is destroyed before fn runs (see ReturnedBy)
      state_.template emplace<1>(future_internal::ReturnedBy{
          [&] { return future_internal::invoke_with_value(std::move(fn), std::move(r)); }});
    }
    Poll<Output> q = std::get_if<1>(&state_)->poll(cx);
    if (q.is_ready()) state_.template emplace<2>();
    return q;
  }

 private:
  std::variant<First, G, Done> state_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// and_then()
//
// On OK, continues with the future `fn(value)` returns; errors short-circuit.
template <class F, class Fn>
  requires future_internal::StatusFuture<F>
AndThen<std::remove_cvref_t<F>, Fn> and_then(F&& f, Fn fn) {
  return AndThen<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// OrElse<F, Fn>: the future returned by `or_else()`.
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] OrElse {
  using In = OutputOf<F>;
  static_assert(future_internal::StatusLike<In>,
                "or_else: the future must output absl::Status or absl::StatusOr<T>");
  using G = std::invoke_result_t<Fn&&, absl::Status&&>;
  static_assert(Future<G>,
                "or_else: the function must return a future (wrap a value in weft::ready(...))");
  static_assert(std::is_same_v<OutputOf<G>, In>,
                "or_else: the function's future must output the same type as the first future");

  struct First {
    F f;
    Fn fn;
  };
  struct Done {};

 public:
  using Output = In;
  static constexpr bool kUnpin = Unpin<F> && Unpin<G>;

  OrElse(F f, Fn fn) : state_(std::in_place_index<0>, First{std::move(f), std::move(fn)}) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "OrElse was moved after its first poll");
    WEFT_ASSERT(state_.index() < 2, "OrElse must not be polled after it returned ready (or threw)");
    if (auto* first = std::get_if<0>(&state_)) {
      Poll<In> p = first->f.poll(cx);
      if (p.is_pending()) return Pending{};
      if (p.value().ok()) {
        state_.template emplace<2>();
        return p;
      }
      Fn fn = std::move(first->fn);
      absl::Status err = future_internal::error_of(std::move(p).value());
      state_.template emplace<2>();  // F is destroyed before fn runs (see ReturnedBy)
      state_.template emplace<1>(
          future_internal::ReturnedBy{[&] { return std::invoke(std::move(fn), std::move(err)); }});
    }
    Poll<Output> q = std::get_if<1>(&state_)->poll(cx);
    if (q.is_ready()) state_.template emplace<2>();
    return q;
  }

 private:
  std::variant<First, G, Done> state_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// or_else()
//
// On error, continues with the future `fn(status)` returns; OK passes through.
template <class F, class Fn>
  requires future_internal::StatusFuture<F>
OrElse<std::remove_cvref_t<F>, Fn> or_else(F&& f, Fn fn) {
  return OrElse<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// MapErr<F, Fn>: the future returned by `map_err()`.
template <Future F, class Fn>
class [[nodiscard("futures do nothing unless polled")]] MapErr {
  using In = OutputOf<F>;
  static_assert(future_internal::StatusLike<In>,
                "map_err: the future must output absl::Status or absl::StatusOr<T>");
  static_assert(std::is_convertible_v<std::invoke_result_t<Fn&&, absl::Status&&>, absl::Status>,
                "map_err: the function must map absl::Status to absl::Status");

 public:
  using Output = In;
  static constexpr bool kUnpin = Unpin<F>;
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  MapErr(F f, Fn fn) : f_(std::move(f)), fn_(std::move(fn)) {}

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "MapErr was moved after its first poll");
    WEFT_ASSERT(!done_, "MapErr must not be polled after it returned ready");
    Poll<In> p = f_.poll(cx);
    if (p.is_pending()) return Pending{};
    done_ = true;
    if (p.value().ok()) return p;
    absl::Status err =
        std::invoke(std::move(fn_), future_internal::error_of(std::move(p).value()));
    if constexpr (future_internal::StatusTraits<In>::kIsStatusOr) {
      WEFT_ASSERT(!err.ok(), "map_err: the function returned OK for a StatusOr output");
    }
    return Output(std::move(err));
  }

 private:
  F f_;
  [[no_unique_address]] Fn fn_;
  bool done_ = false;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// map_err()
//
// Replaces an error with fn(error); OK passes through.
template <class F, class Fn>
  requires future_internal::StatusFuture<F>
MapErr<std::remove_cvref_t<F>, Fn> map_err(F&& f, Fn fn) {
  return MapErr<std::remove_cvref_t<F>, Fn>(std::forward<F>(f), std::move(fn));
}

// TryJoin<Fs...>
//
// The future returned by `try_join()`. Output:
// `absl::StatusOr<std::tuple<T...>>`, where T is U for a child that outputs
// `absl::StatusOr<U>` and `Unit` for one that outputs `absl::Status`.
template <Future... Fs>
class [[nodiscard("futures do nothing unless polled")]] TryJoin {
  static_assert((future_internal::StatusLike<OutputOf<Fs>> && ...),
                "try_join: every future must output absl::Status or absl::StatusOr<T>");
  using Core = future_internal::JoinCore<
      future_internal::JoinChild<Fs, future_internal::StatusValue<OutputOf<Fs>>>...>;

 public:
  using Output = absl::StatusOr<std::tuple<future_internal::StatusValue<OutputOf<Fs>>...>>;
  static constexpr bool kUnpin = future_internal::kAllUnpin<Fs...>;
  // Not cancel-safe: the values of finished children would be lost.

  template <class... Gs>
    requires(sizeof...(Gs) == sizeof...(Fs) && (std::is_constructible_v<Fs, Gs &&> && ...))
  explicit TryJoin(Gs&&... gs) : core_(std::forward<Gs>(gs)...) {}

  TryJoin(TryJoin&&) = default;
  TryJoin& operator=(TryJoin&&) = delete;

  Poll<Output> poll(Context& cx) {
    moved_.check(this, "TryJoin was moved after its first poll");
    WEFT_ASSERT(!core_.finished(), "TryJoin must not be polled after it returned ready");
    absl::Status err;
    if (poll_children(cx, err, std::index_sequence_for<Fs...>{})) {
      core_.destroy_all();  // cancels the others before returning the error
      return Output(std::move(err));
    }
    if (core_.any_running()) return Pending{};
    return Output(core_.take());
  }

 private:
  // True at the first child that failed (its error in `err`); later
  // children are not polled.
  template <std::size_t... I>
  bool poll_children(Context& cx, absl::Status& err, std::index_sequence<I...>) {
    return (poll_child<I>(cx, err) || ...);
  }

  template <std::size_t I>
  bool poll_child(Context& cx, absl::Status& err) {
    if (!core_.running(I)) return false;
    auto p = core_.template slot<I>().fut.poll(cx);
    if (p.is_pending()) return false;
    auto r = std::move(p).value();
    if (!r.ok()) {
      err = future_internal::error_of(std::move(r));
      return true;
    }
    core_.template finish<I>(future_internal::value_of(std::move(r)));
    return false;
  }

  Core core_;
  [[no_unique_address]] future_internal::MoveGuard<kUnpin> moved_;
};

// try_join()
//
// Like `join`, for futures of Status / StatusOr: Ready with every value once
// all are OK, or with the first error, at which point the rest are cancelled.
template <class... Fs>
  requires(sizeof...(Fs) >= 1 && (future_internal::StatusFuture<Fs> && ...))
TryJoin<std::remove_cvref_t<Fs>...> try_join(Fs&&... fs) {
  return TryJoin<std::remove_cvref_t<Fs>...>(std::forward<Fs>(fs)...);
}

}  // namespace weft

#endif  // WEFT_FUTURE_STATUS_H_
