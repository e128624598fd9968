// -----------------------------------------------------------------------------
// File: executor/error.h
// -----------------------------------------------------------------------------
//
// Errors of the executors, as values (no exceptions in the freestanding core).
// Rust: `embassy_executor::SpawnError`.
//
//   SpawnError       why a spawn did not happen: `kBusy` (no free slot, or
//                    the task's storage still runs a task), `kNoMemory` (the
//                    future could not be built: a `Task` frame allocator,
//                    e.g. a `TaskArena`, is full).
//   SpawnResult<T>   either a `T` (what a successful spawn returns, e.g. a
//                    task handle) or a `SpawnError`; expected-like.
//
// A failed spawn never called the factory (`kBusy`) or has already destroyed
// what it built (`kNoMemory`), so there is no value to give back.
//
// Costs: `SpawnResult<T>` is `std::optional<T>` plus one byte.
// Contract: `value()` on an error and `error()` on a value are contract
// violations (debug asserts). Freestanding.
//
// Example:
//
//   weft::SpawnResult<int> r = weft::SpawnError::kBusy;
//   EXPECT_FALSE(r);
//   EXPECT_EQ(r.error(), weft::SpawnError::kBusy);
//   EXPECT_STREQ(weft::describe(r.error()), "busy: no free task slot");
//
#ifndef WEFT_EXECUTOR_ERROR_H_
#define WEFT_EXECUTOR_ERROR_H_

#include <cstdint>
#include <optional>
#include <type_traits>
#include <utility>

#include "tools/base/assert.h"

namespace weft {

// SpawnError
//
// Why a spawn did not happen.
enum class SpawnError : std::uint8_t {
  kBusy,      // no free slot in the executor, or the storage runs a task
  kNoMemory,  // the future could not be built (its frame allocator is full)
};

// describe(SpawnError): a short, static sentence for logs.
constexpr const char* describe(SpawnError e) noexcept {
  switch (e) {
    case SpawnError::kBusy:
      return "busy: no free task slot";
    case SpawnError::kNoMemory:
      return "no memory: the task's frame could not be allocated";
  }
  return "unknown spawn error";
}

// SpawnResult<T>
//
// A `T` or a `SpawnError`. Converts to true when it holds a `T`.
template <class T>
class [[nodiscard("a spawn can fail (SpawnError): check the result")]] SpawnResult {
 public:
  constexpr SpawnResult(T value) noexcept(std::is_nothrow_move_constructible_v<T>)
      : value_(std::move(value)) {}
  constexpr SpawnResult(SpawnError e) noexcept : error_(e) {}

  constexpr bool ok() const noexcept { return value_.has_value(); }
  constexpr explicit operator bool() const noexcept { return ok(); }

  constexpr SpawnError error() const noexcept {
    WEFT_ASSERT(!ok(), "SpawnResult::error() called on a successful spawn");
    return error_;
  }

  constexpr T& value() & noexcept {
    WEFT_ASSERT(ok(), "SpawnResult::value() called on a failed spawn");
    return *value_;
  }
  constexpr const T& value() const& noexcept {
    WEFT_ASSERT(ok(), "SpawnResult::value() called on a failed spawn");
    return *value_;
  }
  constexpr T&& value() && noexcept {
    WEFT_ASSERT(ok(), "SpawnResult::value() called on a failed spawn");
    return std::move(*value_);
  }
  constexpr T& operator*() & noexcept { return value(); }
  constexpr const T& operator*() const& noexcept { return value(); }
  constexpr T* operator->() noexcept { return &value(); }
  constexpr const T* operator->() const noexcept { return &value(); }

 private:
  std::optional<T> value_;
  SpawnError error_ = SpawnError::kBusy;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_ERROR_H_
