// -----------------------------------------------------------------------------
// File: pin/pinned.h
// -----------------------------------------------------------------------------
//
// `Pinned<T>` is immovable in-place storage for one `T`, built from a factory
// (or from constructor arguments). Because C++17 guarantees copy elision for
// prvalues, a factory can return an immovable `T` (copy AND move deleted) by
// value and it is constructed directly inside the `Pinned`, at the address it
// will keep for life. `make_pinned(f)` returns a `Pinned<T>` by value for the
// same reason. Rust: `core::pin::pin!` (stack pinning) and `Pin<&mut T>`.
//
// Why: a self-referential state machine (see pin/pin.h, "Why pinning exists")
// must be built where it will stay. Returning it from a function would move
// it, unless the return is a prvalue that elision constructs in place.
//
// Costs:        none. `sizeof(Pinned<T>) == sizeof(T)`; no allocation.
// Contract:     `Pinned<T>` is neither copyable nor movable, so the `T` inside
//               never moves; `as_pin()` is therefore always sound. A factory
//               must return a `T` prvalue (`return T(...);`), not a reference.
// Cancellation: destroying the `Pinned<T>` destroys the `T` in place.
//
// Example:
//
//   weft::Pinned<ReadLine> a{[] { return ReadLine("one\n"); }};  // no move
//   weft::Pinned b = weft::make_pinned([] { return ReadLine("two\n"); });
//   weft::Pinned<ReadLine> c{std::in_place, "three\n"};  // constructor args
//   weft::Pin<ReadLine*> p = b.as_pin();
//   EXPECT_EQ(p->line, "two");            // the view still points into `b`
//   EXPECT_EQ(a.get().line.data(), a.get().buf);
//
#ifndef WEFT_PIN_PINNED_H_
#define WEFT_PIN_PINNED_H_

#include <concepts>
#include <type_traits>
#include <utility>

#include "pin/pin.h"

namespace weft {

// Pinned<T>
//
// Owns a `T` that never moves. Not copyable or movable: that is the point.
template <class T>
class Pinned {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "Pinned<T> holds one object (not a reference or an array)");

 public:
  // Pinned(factory)
  //
  // Constructs the value from `factory()`, a `T` prvalue, with no move.
  template <class F>
    requires std::same_as<std::invoke_result_t<F>, std::remove_cv_t<T>>
  explicit Pinned(F&& factory) noexcept(noexcept(std::forward<F>(factory)()))
      : value_(std::forward<F>(factory)()) {}

  // Pinned(std::in_place, args...)
  //
  // Constructs the value as `T(args...)`, or `T{args...}` for an aggregate
  // (clang 14 lacks C++20's parenthesised aggregate initialisation).
  template <class... Args>
    requires std::constructible_from<T, Args...>
  explicit Pinned(std::in_place_t, Args&&... args) noexcept(
      std::is_nothrow_constructible_v<T, Args...>)
      : value_(std::forward<Args>(args)...) {}
  template <class... Args>
    requires(!std::constructible_from<T, Args...> && std::is_aggregate_v<T> &&
             requires(Args&&... a) { T{std::forward<Args>(a)...}; })
  explicit Pinned(std::in_place_t, Args&&... args) noexcept
      : value_{std::forward<Args>(args)...} {}

  // Not copyable or movable.
  Pinned(const Pinned&) = delete;
  Pinned(Pinned&&) = delete;
  Pinned& operator=(const Pinned&) = delete;
  Pinned& operator=(Pinned&&) = delete;
  ~Pinned() = default;

  // Pinned::as_pin()
  //
  // The pinned value. Always sound: the storage cannot move.
  Pin<T*> as_pin() noexcept { return Pin<T*>::new_unchecked(&value_); }
  Pin<const T*> as_pin() const noexcept { return Pin<const T*>::new_unchecked(&value_); }

  // Pinned::get()
  //
  // `const T&`; a mutable `T&` only when `T` is `Unpin` (use
  // `as_pin().get_unchecked_mut()` otherwise).
  const T& get() const noexcept { return value_; }
  T& get() noexcept
    requires Unpin<T>
  {
    return value_;
  }

  const T* operator->() const noexcept { return &value_; }
  T* operator->() noexcept
    requires Unpin<T>
  {
    return &value_;
  }
  const T& operator*() const noexcept { return value_; }
  T& operator*() noexcept
    requires Unpin<T>
  {
    return value_;
  }

 private:
  T value_;
};

// `Pinned p{[] { return MakeFoo(); }};` deduces `Pinned<Foo>`.
template <class F>
Pinned(F&&) -> Pinned<std::invoke_result_t<F>>;

// make_pinned()
//
// Returns `Pinned<T>` (T = the factory's result) by value. Works although
// `Pinned` cannot move: the result is a prvalue, so `auto p = make_pinned(f);`
// constructs `p` (and the `T` inside it) in place.
template <class F>
  requires(!std::is_reference_v<std::invoke_result_t<F>> &&
           !std::is_void_v<std::invoke_result_t<F>>)
Pinned<std::invoke_result_t<F>> make_pinned(F&& factory) noexcept(
    noexcept(std::forward<F>(factory)())) {
  return Pinned<std::invoke_result_t<F>>(std::forward<F>(factory));
}

}  // namespace weft

#endif  // WEFT_PIN_PINNED_H_
