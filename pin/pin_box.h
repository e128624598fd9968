// -----------------------------------------------------------------------------
// File: pin/pin_box.h
// -----------------------------------------------------------------------------
//
// `PinBox<T>` owns a heap-allocated `T` that never moves: moving the box moves
// the pointer, never the pointee. Use it when a pinned object must outlive the
// scope that built it, or be stored in a container that moves its elements
// (a task table, a `std::vector` of in-flight operations). Hosted only.
// Rust: `Pin<Box<T>>` (`Box::pin`).
//
//   - `PinBox<T>::make(args...)`: `new T(args...)`.
//   - `PinBox<T>::from_factory(f)`: `new T(f())`, no move (guaranteed elision),
//     so immovable types work.
//   - `as_pin()` -> `Pin<T*>`; `std::move(box).into_pin()` -> `Pin<PinBox<T>>`.
//
// Costs:        exactly one allocation (`operator new`) per box, one
//               `operator delete` at destruction; `sizeof(PinBox<T>) ==
//               sizeof(T*)`. Moving is a pointer copy.
// Contract:     a moved-from box is empty; using it (other than destroying or
//               assigning to it) is a contract violation (WEFT_ASSERT). Access
//               follows `Pin`: `const T&` always, `T&` only for `Unpin` types.
// Cancellation: destroying the box destroys the `T` in place, then frees it.
//
// Example:
//
//   std::vector<weft::PinBox<ReadLine>> lines;
//   lines.push_back(weft::PinBox<ReadLine>::from_factory([] { return ReadLine("a\n"); }));
//   const ReadLine* first = &lines[0].get_ref();
//   lines.push_back(weft::PinBox<ReadLine>::make("b\n"));  // may move the boxes...
//   EXPECT_EQ(&lines[0].get_ref(), first);                 // ...never the ReadLines
//   EXPECT_EQ(lines[0].as_pin()->line, "a");
//
#ifndef WEFT_PIN_PIN_BOX_H_
#define WEFT_PIN_PIN_BOX_H_

#include <concepts>
#include <type_traits>
#include <utility>

#include "pin/pin.h"
#include "tools/base/assert.h"

namespace weft {

// PinBox<T>
//
// A unique owner of a pinned heap `T`. Movable, not copyable.
template <class T>
class PinBox {
  static_assert(std::is_object_v<T> && !std::is_array_v<T>,
                "PinBox<T> holds one object (not a reference or an array)");

 public:
  using element_type = T;

  // PinBox::make()
  //
  // Allocates and constructs `T(args...)` (`T{args...}` for an aggregate).
  template <class... Args>
    requires std::constructible_from<T, Args...>
  [[nodiscard]] static PinBox make(Args&&... args) {
    return PinBox(new T(std::forward<Args>(args)...));
  }
  template <class... Args>
    requires(!std::constructible_from<T, Args...> && std::is_aggregate_v<T> &&
             requires(Args&&... a) { T{std::forward<Args>(a)...}; })
  [[nodiscard]] static PinBox make(Args&&... args) {
    return PinBox(new T{std::forward<Args>(args)...});
  }

  // PinBox::from_factory()
  //
  // Allocates and constructs the `T` from `factory()`, a `T` prvalue, in place.
  template <class F>
    requires std::same_as<std::invoke_result_t<F>, std::remove_cv_t<T>>
  [[nodiscard]] static PinBox from_factory(F&& factory) {
    return PinBox(new T(std::forward<F>(factory)()));
  }

  PinBox(PinBox&& other) noexcept : ptr_(std::exchange(other.ptr_, nullptr)) {}
  PinBox& operator=(PinBox&& other) noexcept {
    if (this != &other) {
      delete ptr_;
      ptr_ = std::exchange(other.ptr_, nullptr);
    }
    return *this;
  }
  // Not copyable: there is one owner.
  PinBox(const PinBox&) = delete;
  PinBox& operator=(const PinBox&) = delete;
  ~PinBox() { delete ptr_; }

  // PinBox::as_pin()
  //
  // The pinned value, borrowed. Always sound: a box never moves its pointee.
  Pin<T*> as_pin() noexcept { return Pin<T*>::new_unchecked(get_unchecked_mut()); }
  Pin<const T*> as_pin() const noexcept { return Pin<const T*>::new_unchecked(&get_ref()); }

  // PinBox::into_pin()
  //
  // This box as a `Pin<PinBox<T>>` (Rust's `Pin<Box<T>>`), for code that is
  // generic over the pinning pointer.
  Pin<PinBox> into_pin() && noexcept { return Pin<PinBox>::new_unchecked(std::move(*this)); }

  // PinBox::get_ref() / get_mut() / get_unchecked_mut()
  //
  // As `Pin`: `const T&`; `T&` for `Unpin` types only; `T*` for any type with
  // the caller's promise not to move out of it.
  const T& get_ref() const noexcept { return *get_unchecked_mut(); }
  T& get_mut() const noexcept
    requires Unpin<T>
  {
    return *get_unchecked_mut();
  }
  T* get_unchecked_mut() const noexcept {
    WEFT_ASSERT(ptr_ != nullptr, "PinBox was used after it was moved from");
    return ptr_;
  }

  const T* operator->() const noexcept
    requires(!Unpin<T>)
  {
    return get_unchecked_mut();
  }
  T* operator->() const noexcept
    requires Unpin<T>
  {
    return get_unchecked_mut();
  }
  const T& operator*() const noexcept
    requires(!Unpin<T>)
  {
    return *get_unchecked_mut();
  }
  T& operator*() const noexcept
    requires Unpin<T>
  {
    return *get_unchecked_mut();
  }

  // PinBox::has_value()
  //
  // False only for a moved-from box.
  bool has_value() const noexcept { return ptr_ != nullptr; }

 private:
  explicit PinBox(T* ptr) noexcept : ptr_(ptr) {}

  T* ptr_;
};

}  // namespace weft

#endif  // WEFT_PIN_PIN_BOX_H_
