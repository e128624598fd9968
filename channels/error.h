// -----------------------------------------------------------------------------
// File: channels/error.h
// -----------------------------------------------------------------------------
//
// The error and result types every channel shares. Errors hand back what
// was not delivered, as tokio's do, so nothing is lost silently.
// Rust: `tokio::sync::{mpsc,oneshot,broadcast}::error`, `Result<T, E>`.
//
//   Result<T, E>        Ok(T) or Err(E); `Result<void, E>` for "done or E"
//   SendError<T>        the channel is closed; `into_inner()` gives T back
//   TrySendError<T>     kFull or kClosed, with the value (`into_inner()`)
//   RecvError           kClosed (no value will come), or kLagged(n)
//                       (broadcast: n values were overwritten; go on)
//   TryRecvError        kEmpty, kClosed, or kLagged(n)
//
//   auto r = tx.try_send(std::move(msg));
//   if (!r) { if (r.error().is_full()) retry(std::move(r.error()).into_inner()); }
//
// Costs: no allocation; `Result<T, E>` is a tagged union (max(T, E) + 1).
// Freestanding (no exceptions: a wrong-side access is a hardening assert).
#ifndef WEFT_CHANNELS_ERROR_H_
#define WEFT_CHANNELS_ERROR_H_

#include <cstdint>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "tools/base/assert.h"

namespace weft {

template <class E>
struct Err {
  E error;
};
template <class E>
Err(E) -> Err<E>;

// GCC 12 reports a false -Wmaybe-uninitialized on `ok_` when a Result is
// moved inside a std::variant (e.g. a select's output) after inlining; the
// flag is always written by every constructor. Scoped to these templates.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

// Result<T, E>
template <class T, class E>
class [[nodiscard]] Result {
 public:
  Result(T v) noexcept(std::is_nothrow_move_constructible_v<T>) : ok_(true) {  // NOLINT: implicit Ok
    ::new (static_cast<void*>(&value_)) T(std::move(v));
  }
  template <class G>
    requires std::is_constructible_v<E, G&&>
  Result(Err<G>&& e) noexcept(std::is_nothrow_constructible_v<E, G&&>) : ok_(false) {  // NOLINT
    ::new (static_cast<void*>(&error_)) E(std::move(e.error));
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T> &&
                              std::is_nothrow_move_constructible_v<E>)
      : ok_(o.ok_) {
    if (ok_) {
      ::new (static_cast<void*>(&value_)) T(std::move(o.value_));
    } else {
      ::new (static_cast<void*>(&error_)) E(std::move(o.error_));
    }
  }
  Result(const Result& o)
    requires(std::is_copy_constructible_v<T> && std::is_copy_constructible_v<E>)
      : ok_(o.ok_) {
    if (ok_) {
      ::new (static_cast<void*>(&value_)) T(o.value_);
    } else {
      ::new (static_cast<void*>(&error_)) E(o.error_);
    }
  }
  Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<T> &&
                                         std::is_nothrow_move_constructible_v<E>) {
    if (this != &o) {
      destroy();
      ::new (static_cast<void*>(this)) Result(std::move(o));
    }
    return *this;
  }
  ~Result() { destroy(); }

  bool is_ok() const noexcept { return ok_; }
  bool is_err() const noexcept { return !ok_; }
  explicit operator bool() const noexcept { return ok_; }

  T& value() & noexcept { return check_ok(), value_; }
  const T& value() const& noexcept { return check_ok(), value_; }
  T&& value() && noexcept { return check_ok(), std::move(value_); }
  T& operator*() & noexcept { return value(); }
  const T& operator*() const& noexcept { return value(); }
  T&& operator*() && noexcept { return std::move(*this).value(); }
  T* operator->() noexcept { return &value(); }

  E& error() & noexcept { return check_err(), error_; }
  const E& error() const& noexcept { return check_err(), error_; }
  E&& error() && noexcept { return check_err(), std::move(error_); }

 private:
  void check_ok() const noexcept { WEFT_HARDENING_ASSERT(ok_, "Result::value() called on an error"); }
  void check_err() const noexcept { WEFT_HARDENING_ASSERT(!ok_, "Result::error() called on a value"); }
  void destroy() noexcept {
    if (ok_) {
      value_.~T();
    } else {
      error_.~E();
    }
  }

  union {
    T value_;
    E error_;
  };
  bool ok_;
};

// Result<void, E>: success carries nothing.
template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() noexcept : ok_(true) {}
  template <class G>
    requires std::is_constructible_v<E, G&&>
  Result(Err<G>&& e) noexcept(std::is_nothrow_constructible_v<E, G&&>) : ok_(false) {  // NOLINT
    ::new (static_cast<void*>(&error_)) E(std::move(e.error));
  }
  Result(Result&& o) noexcept(std::is_nothrow_move_constructible_v<E>) : ok_(o.ok_) {
    if (!ok_) ::new (static_cast<void*>(&error_)) E(std::move(o.error_));
  }
  Result& operator=(Result&& o) noexcept(std::is_nothrow_move_constructible_v<E>) {
    if (this != &o) {
      destroy();
      ::new (static_cast<void*>(this)) Result(std::move(o));
    }
    return *this;
  }
  ~Result() { destroy(); }

  bool is_ok() const noexcept { return ok_; }
  bool is_err() const noexcept { return !ok_; }
  explicit operator bool() const noexcept { return ok_; }

  E& error() & noexcept { return check_err(), error_; }
  const E& error() const& noexcept { return check_err(), error_; }
  E&& error() && noexcept { return check_err(), std::move(error_); }

 private:
  void check_err() const noexcept { WEFT_HARDENING_ASSERT(!ok_, "Result::error() called on success"); }
  void destroy() noexcept {
    if (!ok_) error_.~E();
  }

  union {
    E error_;
  };
  bool ok_;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// SendError<T>: the receiver is gone; the value comes back.
template <class T>
struct SendError {
  T value;
  T into_inner() && noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(value); }
};

// TrySendError<T>: full (bounded channels) or closed; the value comes back.
template <class T>
struct TrySendError {
  enum class Kind : std::uint8_t { kFull, kClosed };
  Kind kind;
  T value;

  static TrySendError full(T v) { return TrySendError{Kind::kFull, std::move(v)}; }
  static TrySendError closed(T v) { return TrySendError{Kind::kClosed, std::move(v)}; }
  bool is_full() const noexcept { return kind == Kind::kFull; }
  bool is_closed() const noexcept { return kind == Kind::kClosed; }
  T into_inner() && noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(value); }
};

// RecvError: no value will come (closed), or a broadcast receiver fell
// `lagged()` values behind and skipped them (it continues with the oldest
// value still held).
struct RecvError {
  enum class Kind : std::uint8_t { kClosed, kLagged };
  Kind kind = Kind::kClosed;
  std::uint64_t skipped = 0;

  static constexpr RecvError closed() noexcept { return RecvError{Kind::kClosed, 0}; }
  static constexpr RecvError lagged(std::uint64_t n) noexcept { return RecvError{Kind::kLagged, n}; }
  constexpr bool is_closed() const noexcept { return kind == Kind::kClosed; }
  constexpr bool is_lagged() const noexcept { return kind == Kind::kLagged; }
  constexpr std::uint64_t lagged_by() const noexcept { return skipped; }
  friend constexpr bool operator==(const RecvError&, const RecvError&) = default;
};

// TryRecvError: nothing there yet (empty), never again (closed), or lagged.
struct TryRecvError {
  enum class Kind : std::uint8_t { kEmpty, kClosed, kLagged };
  Kind kind = Kind::kEmpty;
  std::uint64_t skipped = 0;

  static constexpr TryRecvError empty() noexcept { return TryRecvError{Kind::kEmpty, 0}; }
  static constexpr TryRecvError closed() noexcept { return TryRecvError{Kind::kClosed, 0}; }
  static constexpr TryRecvError lagged(std::uint64_t n) noexcept { return TryRecvError{Kind::kLagged, n}; }
  constexpr bool is_empty() const noexcept { return kind == Kind::kEmpty; }
  constexpr bool is_closed() const noexcept { return kind == Kind::kClosed; }
  constexpr bool is_lagged() const noexcept { return kind == Kind::kLagged; }
  constexpr std::uint64_t lagged_by() const noexcept { return skipped; }
  friend constexpr bool operator==(const TryRecvError&, const TryRecvError&) = default;
};

// Closed: the error of operations whose only failure is "closed"
// (Semaphore::acquire after close, watch::Sender::send with no receivers...).
struct Closed {
  friend constexpr bool operator==(const Closed&, const Closed&) = default;
};

}  // namespace weft

#endif  // WEFT_CHANNELS_ERROR_H_
