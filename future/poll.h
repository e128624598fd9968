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
  constexpr Poll(U&& v) : v_(std::in_place, std::forward<U>(v)) {}

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
  std::optional<T> v_;
};

template <class T>
constexpr Poll<std::decay_t<T>> ready_poll(T&& v) {
  return Poll<std::decay_t<T>>(std::forward<T>(v));
}

}  // namespace weft

#endif  // WEFT_FUTURE_POLL_H_
