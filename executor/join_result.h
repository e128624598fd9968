// -----------------------------------------------------------------------------
// File: executor/join_result.h
// -----------------------------------------------------------------------------
//
// `JoinResult<T>`: what awaiting a `JoinHandle<T>` yields: the task's output,
// or "cancelled" (it was aborted, or its executor shut down first), or (hosted)
// the exception that escaped the task. Rust: `Result<T, tokio::task::JoinError>`
// (`JoinError::is_cancelled` / `is_panic`).
//
//   JoinResult<int> r = co_await handle;
//   if (r.is_ok()) use(r.value());
//   else if (r.is_cancelled()) ...;
//   else std::rethrow_exception(r.exception());
//   int v = std::move(r).get();   // value, or rethrows, or throws JoinCancelled
//
// Costs: `sizeof(T)` plus a `std::exception_ptr` and an index (a variant).
// Contract: `value()` on a result that is not ok is a contract violation
// (debug assert).
#ifndef WEFT_EXECUTOR_JOIN_RESULT_H_
#define WEFT_EXECUTOR_JOIN_RESULT_H_

#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

#include "tools/base/assert.h"

namespace weft {

// JoinCancelled
//
// Thrown by `JoinResult::get()` for a cancelled task.
struct JoinCancelled : std::exception {
  const char* what() const noexcept override { return "weft: the task was cancelled"; }
};

// JoinResult<T>
template <class T>
class JoinResult {
  static_assert(std::is_object_v<T>, "JoinResult<T>: T must be an object type");
  struct Cancelled {};

 public:
  using value_type = T;

  // An ok result holding `v`.
  template <class U = T>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, JoinResult>)
  JoinResult(U&& v) : v_(std::in_place_index<0>, std::forward<U>(v)) {}

  static JoinResult cancelled() noexcept { return JoinResult(Cancelled{}); }
  static JoinResult from_exception(std::exception_ptr e) noexcept { return JoinResult(std::move(e)); }

  bool is_ok() const noexcept { return v_.index() == 0; }
  bool is_cancelled() const noexcept { return v_.index() == 1; }
  bool is_exception() const noexcept { return v_.index() == 2; }
  explicit operator bool() const noexcept { return is_ok(); }

  T& value() & noexcept {
    WEFT_ASSERT(is_ok(), "JoinResult::value() called on a cancelled or failed task's result");
    return *std::get_if<0>(&v_);
  }
  const T& value() const& noexcept {
    WEFT_ASSERT(is_ok(), "JoinResult::value() called on a cancelled or failed task's result");
    return *std::get_if<0>(&v_);
  }
  T&& value() && noexcept {
    WEFT_ASSERT(is_ok(), "JoinResult::value() called on a cancelled or failed task's result");
    return std::move(*std::get_if<0>(&v_));
  }
  T* operator->() noexcept { return &value(); }
  T& operator*() & noexcept { return value(); }

  // The exception that escaped the task (null unless `is_exception()`).
  std::exception_ptr exception() const noexcept {
    const std::exception_ptr* e = std::get_if<2>(&v_);
    return e != nullptr ? *e : nullptr;
  }

  // The value; rethrows the task's exception; throws `JoinCancelled`.
  T get() && {
    if (is_exception()) std::rethrow_exception(*std::get_if<2>(&v_));
    if (is_cancelled()) throw JoinCancelled{};
    return std::move(*std::get_if<0>(&v_));
  }

 private:
  explicit JoinResult(Cancelled) noexcept : v_(std::in_place_index<1>) {}
  explicit JoinResult(std::exception_ptr e) noexcept : v_(std::in_place_index<2>, std::move(e)) {}

  std::variant<T, Cancelled, std::exception_ptr> v_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_JOIN_RESULT_H_
