// -----------------------------------------------------------------------------
// File: future/future.h
// -----------------------------------------------------------------------------
//
// The `Future` concept and the traits every future carries.
// Rust: `core::future::Future`, `Unpin`, and (new) cancel safety as a type
// property.
//
//   template <class F>
//   concept Future = requires(F& f, Context& cx) {
//     typename F::Output;
//     { f.poll(cx) } -> std::same_as<Poll<typename F::Output>>;
//   };
//
// Contract of every future (DESIGN.md, "Core contracts"):
//   - `poll` is called on an object that does not move after its first poll
//     (weft's combinators check it in debug builds with `MovedCheck`, unless
//     the future is `Unpin`);
//   - once `poll` returned Ready it must not be polled again (debug assert
//     with a sentence naming the combinator; `fuse()` makes re-polling safe);
//   - a `Pending` result means the future stored `cx.waker()` (or a clone)
//     and will wake it when progress is possible; no lost wake-ups;
//   - destroying a future cancels it, at any `Pending` point, leaving no
//     waker registered, no buffer leaked and no half-done side effect.
//
// Cancel safety: a future is *cancel-safe* when dropping it before it is
// Ready loses nothing (no received message, no partly written data). Types
// declare it with `static constexpr bool kCancelSafe = true;` (or specialise
// `CancelSafeTrait`). `select` accepts only cancel-safe arms; an arm that is
// not can be passed as `unsafe_cancel(f)`, which says "I accept losing it".
// The weft futures that are cancel-safe say so in their header comment.
//
// Costs: none (concepts and traits). Freestanding.
#ifndef WEFT_FUTURE_FUTURE_H_
#define WEFT_FUTURE_FUTURE_H_

#include <concepts>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/poll.h"
#include "pin/moved_check.h"
#include "pin/pin.h"

namespace weft {

// Future
//
// A type with `using Output = ...;` and `Poll<Output> poll(Context&)`.
template <class F>
concept Future = std::is_object_v<F> && requires(F& f, Context& cx) {
  typename F::Output;
  { f.poll(cx) } -> std::same_as<Poll<typename F::Output>>;
};

// The output type of a future (cv-ref ignored).
template <class F>
using OutputOf = typename std::remove_cvref_t<F>::Output;

// CancelSafeTrait<F> / CancelSafe
//
// True for futures that declare `static constexpr bool kCancelSafe = true;`.
template <class F>
struct CancelSafeTrait : std::bool_constant<requires { requires F::kCancelSafe; }> {};

template <class F>
concept CancelSafe = Future<std::remove_cvref_t<F>> && CancelSafeTrait<std::remove_cvref_t<F>>::value;

// UnsafeCancel<F>
//
// Wraps a future that is not cancel-safe to use it where cancel-safety is
// required (a `select` arm): the caller accepts that dropping it may lose
// data. Polls `F` unchanged. Rust: what every `tokio::select!` arm silently is.
template <Future F>
class UnsafeCancel {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kCancelSafe = true;  // by the caller's explicit choice
  static constexpr bool kUnpin = Unpin<F>;

  template <class G>
    requires std::is_constructible_v<F, G&&>
  constexpr explicit UnsafeCancel(G&& f) : f_(std::forward<G>(f)) {}

  Poll<Output> poll(Context& cx) { return f_.poll(cx); }
  F& inner() noexcept { return f_; }

 private:
  F f_;
};

template <class F>
constexpr UnsafeCancel<std::remove_cvref_t<F>> unsafe_cancel(F&& f) {
  return UnsafeCancel<std::remove_cvref_t<F>>(std::forward<F>(f));
}

namespace future_internal {

// MoveGuard<kUnpin>: a `MovedCheck` for futures that are not Unpin, nothing
// for those that are (they may legitimately move between polls). Embed with
// [[no_unique_address]]; costs nothing in release builds.
template <bool kUnpin>
struct MoveGuard {
  constexpr void check(const void*, const char*) noexcept {}
};
template <>
struct MoveGuard<false> : MovedCheck {};

// DoneFlag: "returned Ready" for the poll-after-ready check; a bool in debug
// builds, empty in release builds (embed with [[no_unique_address]]).
struct DoneFlag {
#if WEFT_DEBUG_CHECKS
  bool done = false;
  constexpr bool is_set() const noexcept { return done; }
  constexpr void set() noexcept { done = true; }
#else
  constexpr bool is_set() const noexcept { return false; }
  constexpr void set() noexcept {}
#endif
};

// ReturnedBy<Fn>: converts to what `fn()` returns by calling it. A
// combinator that builds the future its callable returns (`then`,
// `stream::for_each`, ...) passes one to `optional::emplace` /
// `variant::emplace`, which then construct that future in place: the
// conversion's prvalue initialises the stored object directly (no move of
// the future; GCC and Clang elide it, as the proposed resolution of CWG 2327
// asks). (libstdc++'s `variant::emplace` still builds a temporary and
// move-assigns it when the conversion may throw and the alternative is
// small and trivially copyable: a memcpy. Callers that replace a variant's
// alternative therefore empty it first, so that `fn` runs in the same state
// on every path.)
template <class Fn>
struct ReturnedBy {
  Fn fn;
  constexpr operator std::invoke_result_t<Fn&>() noexcept(std::is_nothrow_invocable_v<Fn&>) { return fn(); }
};
template <class Fn>
ReturnedBy(Fn) -> ReturnedBy<Fn>;

// Whether every one of `Fs` is Unpin.
template <class... Fs>
inline constexpr bool kAllUnpin = (Unpin<Fs> && ...);

// Whether every one of `Fs` is cancel-safe.
template <class... Fs>
inline constexpr bool kAllCancelSafe = (CancelSafeTrait<Fs>::value && ...);

}  // namespace future_internal

}  // namespace weft

#endif  // WEFT_FUTURE_FUTURE_H_
