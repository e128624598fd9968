// -----------------------------------------------------------------------------
// File: pin/pin.h
// -----------------------------------------------------------------------------
//
// `Pin<P>` wraps a pointer and gives no way to move the object it points to,
// unless that object's type opts into `Unpin`. `project()` reaches a field of
// a pinned struct. Rust: `core::pin::Pin`, `core::marker::Unpin`, and the
// `pin-project` crate.
//
//   - `Unpin` (concept) / `UnpinTrait<T>`: types that may move even when pinned.
//   - `Pin<T*>`, `Pin<PinBox<T>>`: the pinning pointer.
//   - `pin(x)`: pins an `Unpin` value (always allowed).
//   - `project(p, &T::f)` / `project_unpinned(p, &T::f)`: field access.
//   - `Pinned<T>` (pin/pinned.h) and `PinBox<T>` (pin/pin_box.h) own pinned
//     storage; `MovedCheck` (pin/moved_check.h) catches moves in debug builds.
//
// Why pinning exists
//
// A future is a state machine: the locals that live across a suspension point
// become fields of one object (a coroutine frame is the compiler-written
// version of the same thing). When one of those locals refers to another, the
// object points into itself:
//
//   struct ReadLine {          // the state of `co_await read_line(conn)`
//     char buf[256];           // the bytes received so far
//     std::string_view line;   // a view into `buf`: a self-reference
//   };
//
// Moving (or memcpy-ing) a `ReadLine` copies `line` verbatim, so the new
// object's view still points into the old object's buffer, which is about to
// die. Green threads had the same problem with stacks that grow by copying;
// Rust's async/await chose to compile borrows across `.await` into exactly
// such self-referential state machines, and made that sound by not forbidding
// every move, only making it possible to *promise* that a value will not move
// once something may point into it. That promise is `Pin`.
//
// C++ cannot reject a move at compile time the way Rust does, so weft keeps
// the promise in three ways: (1) `Pin<P>` grants no move-capable access to a
// non-`Unpin` pointee (only `const T&`, or names containing `unchecked`);
// (2) `Pinned<T>` and `PinBox<T>` build immovable objects in place through
// guaranteed copy elision, so they never need moving; (3) `MovedCheck`
// records an object's address at its first poll and asserts it never changes.
//
// Costs:    none. `sizeof(Pin<T*>) == sizeof(T*)`; every member is inline.
//           No allocation, no exceptions, no RTTI (freestanding).
// Contract: `Pin<P>::new_unchecked(p)` is a promise by the caller that the
//           pointee will not be moved or have its storage reused until it is
//           destroyed. A null pointer is a contract violation (WEFT_ASSERT).
//           Types opt into `Unpin` with `static constexpr bool kUnpin = true;`
//           (inherited by derived classes: redeclare it `false` in a derived
//           class that adds a self-reference) or by specialising `UnpinTrait`.
//
// Example (`ReadLine` as above, with a constructor that fills `buf`):
//
//   int ticks = 0;
//   weft::Pin<int*> pt = weft::pin(ticks);         // Unpin: pinning is free
//   *pt += 1;                                      // and so is mutation
//   weft::Pinned<ReadLine> rl{[] { return ReadLine("GET /\n"); }};  // in place
//   weft::Pin<ReadLine*> pr = rl.as_pin();         // not Unpin: const access
//   EXPECT_EQ(pr->line, "GET /");                  // `line` views `rl`'s `buf`
//
#ifndef WEFT_PIN_PIN_H_
#define WEFT_PIN_PIN_H_

#include <concepts>
#include <new>
#include <type_traits>
#include <utility>

#include "tools/base/assert.h"

namespace weft {

// UnpinTrait<T>
//
// `value` is true when a `T` may be moved even while pinned: it holds no
// pointer into itself and nothing outside relies on its address. True for
// scalars (arithmetic, enum, pointer, member pointer, nullptr_t), for arrays
// of `Unpin` elements, and for classes that declare
// `static constexpr bool kUnpin = true;`. Specialise it for types you cannot
// edit: `template <> struct weft::UnpinTrait<Foo> : std::true_type {};`.
template <class T>
struct UnpinTrait;

namespace pin_internal {

template <class T>
concept DeclaresUnpin = requires { typename std::bool_constant<T::kUnpin>; } &&
                        std::bool_constant<T::kUnpin>::value;

template <class T>
constexpr bool default_unpin() noexcept {
  if constexpr (std::is_scalar_v<T>) {
    return true;
  } else if constexpr (std::is_array_v<T>) {
    return UnpinTrait<std::remove_cv_t<std::remove_all_extents_t<T>>>::value;
  } else if constexpr (std::is_class_v<T> || std::is_union_v<T>) {
    return DeclaresUnpin<T>;
  } else {
    return false;
  }
}

}  // namespace pin_internal

template <class T>
struct UnpinTrait : std::bool_constant<pin_internal::default_unpin<T>()> {};

// Unpin
//
// Rust's `Unpin` auto trait, opt-in instead of automatic (C++ cannot see
// whether a class points into itself). cv-qualifiers are ignored.
template <class T>
concept Unpin = UnpinTrait<std::remove_cv_t<T>>::value;

template <class P>
class Pin;

namespace pin_internal {

// How `Pin<P>` reaches the pointee of a pointer-like `P`: raw pointers, or a
// class with `element_type` and either `get_unchecked_mut()` (`PinBox`) or an
// `operator->()` returning `element_type*` (`std::unique_ptr`).
template <class P>
struct PointerTraits {
  using element_type = typename P::element_type;
  static element_type* address(const P& p) noexcept {
    if constexpr (requires { p.get_unchecked_mut(); }) {
      return p.get_unchecked_mut();
    } else {
      return p.operator->();
    }
  }
};

template <class T>
struct PointerTraits<T*> {
  using element_type = T;
  static T* address(T* p) noexcept { return p; }
};

template <class P>
concept PinPointer = std::is_pointer_v<P> || requires(const P& p) {
  typename P::element_type;
  { PointerTraits<P>::address(p) } -> std::same_as<typename P::element_type*>;
};

// `M` with the const-qualification of `T` added (a field of a const object).
template <class T, class M>
using CopyConst = std::conditional_t<std::is_const_v<T>, const M, M>;

}  // namespace pin_internal

// Pin<P>
//
// A pointer `P` (`T*`, `const T*`, `PinBox<T>`, ...) whose pointee will not
// move again. Copyable and movable exactly when `P` is: copying a `Pin<T*>`
// copies the address, moving a `Pin<PinBox<T>>` moves the box, never the `T`.
template <class P>
class Pin {
  using Traits = pin_internal::PointerTraits<P>;

 public:
  using pointer = P;
  using element_type = typename Traits::element_type;

  static_assert(pin_internal::PinPointer<P>,
                "Pin<P> needs a raw pointer or a pointer-like class with element_type");
  static_assert(std::is_object_v<element_type>, "Pin<P> must point to an object type");

  // Pin::new_unchecked()
  //
  // Pins `*pointer`. The caller promises that the pointee is never moved (nor
  // its storage reused) until it is destroyed. Rust: `Pin::new_unchecked`.
  static Pin new_unchecked(P pointer) noexcept(std::is_nothrow_move_constructible_v<P>) {
    WEFT_ASSERT(Traits::address(pointer) != nullptr,
                "Pin::new_unchecked was given a null pointer");
    return Pin(std::move(pointer));
  }

  // Pin::from_unpin()
  //
  // Pins the pointee of an `Unpin` type: no promise needed. Rust: `Pin::new`.
  static Pin from_unpin(P pointer) noexcept(std::is_nothrow_move_constructible_v<P>)
    requires Unpin<element_type>
  {
    WEFT_ASSERT(Traits::address(pointer) != nullptr, "Pin::from_unpin was given a null pointer");
    return Pin(std::move(pointer));
  }

  // Pin::get_ref()
  //
  // Shared access: a `const T&` cannot be moved from.
  const element_type& get_ref() const noexcept { return *address(); }

  // Pin::get_mut()
  //
  // Mutable access, only for `Unpin` types (a `T&` allows `T(std::move(x))`).
  element_type& get_mut() const noexcept
    requires Unpin<element_type>
  {
    return *address();
  }

  // Pin::get_unchecked_mut()
  //
  // Mutable access for any type. The caller must not move out of the result
  // (no move construction or move assignment from it, no `std::swap`, no
  // memcpy). Calling members that mutate in place is fine; this is how a
  // future's `poll` reaches its own state. Rust: `Pin::get_unchecked_mut`.
  element_type* get_unchecked_mut() const noexcept { return address(); }

  // Pin::as_ref() / Pin::as_mut()
  //
  // Re-borrow as `Pin<const T*>` / `Pin<T*>`, e.g. to pin through a
  // `Pin<PinBox<T>>` without giving up the box.
  Pin<const element_type*> as_ref() const noexcept {
    return Pin<const element_type*>::new_unchecked(address());
  }
  Pin<element_type*> as_mut() const noexcept {
    return Pin<element_type*>::new_unchecked(address());
  }

  // Pin::operator->() / Pin::operator*()
  //
  // Const access; mutable access only when `T` is `Unpin`.
  const element_type* operator->() const noexcept
    requires(!Unpin<element_type>)
  {
    return address();
  }
  element_type* operator->() const noexcept
    requires Unpin<element_type>
  {
    return address();
  }
  const element_type& operator*() const noexcept
    requires(!Unpin<element_type>)
  {
    return *address();
  }
  element_type& operator*() const noexcept
    requires Unpin<element_type>
  {
    return *address();
  }

  // Pin::set()
  //
  // Replaces the pointee in place: destroys the old value, then move-constructs
  // `value` into the same storage. Nothing is moved *out* of pinned memory, so
  // this is allowed for every type, as Rust's `Pin::set`. The pointee must be a
  // complete object (not a base-class subobject). `noexcept`: if the move
  // constructor throws, the program terminates (the old value is already gone).
  void set(element_type value) noexcept
    requires(!std::is_const_v<element_type> && std::move_constructible<element_type>)
  {
    element_type* p = address();
    p->~element_type();
    ::new (static_cast<void*>(p)) element_type(std::move(value));
  }

  // Pin::set_with()
  //
  // `set()` for immovable types: destroys the old value, then constructs the
  // new one in place from `factory()` (a prvalue `T`, so no move happens).
  // Terminates if the factory throws.
  template <class F>
  void set_with(F&& factory) noexcept
    requires(!std::is_const_v<element_type> &&
             std::same_as<std::invoke_result_t<F>, std::remove_cv_t<element_type>>)
  {
    element_type* p = address();
    p->~element_type();
    ::new (static_cast<void*>(p)) element_type(std::forward<F>(factory)());
  }

  // Pin::into_inner() / Pin::into_inner_unchecked()
  //
  // Gives the pointer back. Only for `Unpin` types, or with the caller's
  // promise that the pointee is still treated as pinned.
  P into_inner() && noexcept(std::is_nothrow_move_constructible_v<P>)
    requires Unpin<element_type>
  {
    return std::move(pointer_);
  }
  P into_inner_unchecked() && noexcept(std::is_nothrow_move_constructible_v<P>) {
    return std::move(pointer_);
  }

 private:
  explicit Pin(P pointer) noexcept(std::is_nothrow_move_constructible_v<P>)
      : pointer_(std::move(pointer)) {}

  element_type* address() const noexcept { return Traits::address(pointer_); }

  P pointer_;
};

// pin()
//
// Pins an `Unpin` value where it stands. Immovable and self-referential types
// are pinned by building them in a `Pinned<T>` or a `PinBox<T>` instead.
template <Unpin T>
Pin<T*> pin(T& value) noexcept {
  return Pin<T*>::from_unpin(&value);
}

// project()
//
// Structural pin projection: a pinned struct's field is pinned too. Use it for
// fields the struct polls or that may be pointed into (child futures,
// self-referenced buffers). Rust: `#[pin]` fields of `pin-project`.
//
//   weft::Pin<Child*> child = weft::project(self, &Join::child_);
template <class T, class C, class M>
  requires(std::is_object_v<M> && std::derived_from<std::remove_cv_t<T>, C>)
Pin<pin_internal::CopyConst<T, M>*> project(Pin<T*> pinned, M C::*field) noexcept {
  WEFT_ASSERT(field != nullptr, "project was given a null member pointer");
  return Pin<pin_internal::CopyConst<T, M>*>::new_unchecked(
      &(pinned.get_unchecked_mut()->*field));
}

// project_unpinned()
//
// Non-structural projection: plain mutable access to a field of a pinned
// struct. Contract: the struct never pins that field (never hands out a
// `Pin` to it, never keeps a pointer into it), so moving it is harmless.
// Rust: a field of a `pin-project` struct without `#[pin]`.
template <class T, class C, class M>
  requires(std::is_object_v<M> && std::derived_from<std::remove_cv_t<T>, C>)
pin_internal::CopyConst<T, M>& project_unpinned(Pin<T*> pinned, M C::*field) noexcept {
  WEFT_ASSERT(field != nullptr, "project_unpinned was given a null member pointer");
  return pinned.get_unchecked_mut()->*field;
}

}  // namespace weft

#endif  // WEFT_PIN_PIN_H_
