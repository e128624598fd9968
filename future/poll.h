// -----------------------------------------------------------------------------
// File: future/poll.h
// -----------------------------------------------------------------------------
//
// `Poll<T>`: the result of polling a future, `Ready(T)` or `Pending`.
// `Unit` stands for "no value" (Rust's `()`). Rust: `core::task::Poll`.
//
//   Poll<int> p = Pending{};     // not yet
//   Poll<int> q = 42;            // ready with 42 (or Poll<int>::ready(42))
//   if (q.is_ready()) use(std::move(q).value());
//
// Costs: `sizeof(Poll<T>)` is `sizeof(std::optional<T>)`; no allocation.
// Small trivially copyable `T`s are stored fully initialised (see PlainSlot).
// Contract: `value()` on a pending Poll is a contract violation (debug
// assert). Freestanding.
#ifndef WEFT_FUTURE_POLL_H_
#define WEFT_FUTURE_POLL_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "tools/base/assert.h"

namespace weft {

// Unit
//
// The empty value of a future that produces nothing (Rust's `()`).
struct Unit {
  friend constexpr bool operator==(Unit, Unit) noexcept { return true; }
};

// Pending
//
// Tag that converts to any `Poll<T>`: `return Pending{};`.
struct Pending {};

namespace future_internal {

// Storage of a small, trivially copyable value: always fully initialised, so
// a Pending result written by one function and read by another is one plain
// store and load (std::optional writes only its flag, and the wider reload
// that follows stalls on store-to-load forwarding).
template <class T>
struct PlainSlot {
  T value{};
  bool engaged = false;

  constexpr bool has_value() const noexcept { return engaged; }
  constexpr T& operator*() noexcept { return value; }
  constexpr const T& operator*() const noexcept { return value; }
  template <class... A>
  constexpr void emplace(A&&... a) {
    value = T(static_cast<A&&>(a)...);
    engaged = true;
  }
  friend constexpr bool operator==(const PlainSlot& a, const PlainSlot& b)
    requires requires(const T& x) { x == x; }
  {
    return a.engaged == b.engaged && (!a.engaged || a.value == b.value);
  }
};

template <class T>
inline constexpr bool kPlainPoll = std::is_trivially_copyable_v<T> && std::is_default_constructible_v<T> &&
                                   sizeof(T) <= 2 * sizeof(void*);

}  // namespace future_internal

// Poll<T>
//
// Either ready with a `T`, or pending. `T` must be an object type.
template <class T>
class [[nodiscard]] Poll {
  static_assert(std::is_object_v<T>, "Poll<T>: T must be an object type (use Unit for void)");

 public:
  using value_type = T;

  constexpr Poll(Pending) noexcept {}
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Poll>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Pending>)
  constexpr Poll(U&& v) {
    v_.emplace(std::forward<U>(v));
  }

  static constexpr Poll ready(T v) { return Poll(std::move(v)); }
  static constexpr Poll pending() noexcept { return Poll(Pending{}); }

  constexpr bool is_ready() const noexcept { return v_.has_value(); }
  constexpr bool is_pending() const noexcept { return !v_.has_value(); }

  constexpr T& value() & noexcept {
    WEFT_ASSERT(is_ready(), "Poll::value() called on a pending Poll");
    return *v_;
  }
  constexpr const T& value() const& noexcept {
    WEFT_ASSERT(is_ready(), "Poll::value() called on a pending Poll");
    return *v_;
  }
  constexpr T&& value() && noexcept {
    WEFT_ASSERT(is_ready(), "Poll::value() called on a pending Poll");
    return std::move(*v_);
  }

  // map(f): Ready(f(v)) or Pending.
  template <class F>
  constexpr auto map(F&& f) && -> Poll<std::invoke_result_t<F, T&&>> {
    if (is_pending()) return Pending{};
    return std::forward<F>(f)(std::move(*v_));
  }

  friend constexpr bool operator==(const Poll& a, const Poll& b)
    requires requires(const T& x) { x == x; }
  {
    return a.v_ == b.v_;
  }

 private:
  std::conditional_t<future_internal::kPlainPoll<T>, future_internal::PlainSlot<T>, std::optional<T>> v_;
};

template <class T>
constexpr Poll<std::decay_t<T>> ready_poll(T&& v) {
  return Poll<std::decay_t<T>>(std::forward<T>(v));
}

}  // namespace weft

#endif  // WEFT_FUTURE_POLL_H_
