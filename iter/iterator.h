// -----------------------------------------------------------------------------
// File: iter/iterator.h
// -----------------------------------------------------------------------------
//
// The `Iterator` concept: an external iterator whose `next()` returns the next
// item or nothing. Rust: `core::iter::Iterator`.
//
//   struct Countdown {
//     using Item = int;
//     int n;
//     weft::iter::Option<int> next() { return n > 0 ? Option<int>(n--) : std::nullopt; }
//   };
//
// Items may be references (`using Item = T&;`). `std::optional<T&>` does not
// exist, so `Option<T>` is `std::optional<T>` for object types and `OptRef<U>`
// (a nullable `U*` with the same interface) for `T = U&`.
//
// Also here: `SizeHint` and `size_hint(it)` (bounds on the remaining length),
// `DoubleEndedIterator` (`next_back()`), and `RangeIter`, the adapter that
// makes every weft iterator usable in a range-for loop and a
// `std::ranges::input_range`.
//
// Costs: none; these are concepts and thin value types. Freestanding: no heap,
// no exceptions, no RTTI.
#ifndef WEFT_ITER_ITERATOR_H_
#define WEFT_ITER_ITERATOR_H_

#include <concepts>
#include <cstddef>
#include <iterator>
#include <optional>
#include <type_traits>
#include <utility>

namespace weft::iter {

// OptRef<U>
//
// The `Option<U&>` of a reference item: empty or a reference to a `U`.
// Mirrors the parts of `std::optional` that iterators use.
template <class U>
class OptRef {
 public:
  using value_type = U&;

  constexpr OptRef() noexcept = default;
  constexpr OptRef(std::nullopt_t) noexcept {}
  constexpr OptRef(U& ref) noexcept : ptr_(&ref) {}
  // Binding to a temporary would dangle at once.
  OptRef(std::remove_const_t<U>&&) = delete;
  template <class V>
    requires(!std::is_same_v<V, U> && std::is_convertible_v<V*, U*>)
  constexpr OptRef(const OptRef<V>& other) noexcept : ptr_(other.operator->()) {}

  constexpr bool has_value() const noexcept { return ptr_ != nullptr; }
  constexpr explicit operator bool() const noexcept { return ptr_ != nullptr; }
  constexpr U& operator*() const noexcept { return *ptr_; }
  constexpr U* operator->() const noexcept { return ptr_; }
  constexpr void reset() noexcept { ptr_ = nullptr; }
  constexpr U& emplace(U& ref) noexcept {
    ptr_ = &ref;
    return ref;
  }

  friend constexpr bool operator==(const OptRef& a, std::nullopt_t) noexcept {
    return a.ptr_ == nullptr;
  }

 private:
  U* ptr_ = nullptr;
};

namespace iter_internal {
template <class T>
struct OptionOf {
  using type = std::optional<T>;
};
template <class U>
struct OptionOf<U&> {
  using type = OptRef<U>;
};
// Rvalue-reference items are not supported; iterators yield values instead.
template <class U>
struct OptionOf<U&&>;

template <class O>
struct OptionValue;
template <class T>
struct OptionValue<std::optional<T>> {
  using type = T;
};
template <class U>
struct OptionValue<OptRef<U>> {
  using type = U&;
};
}  // namespace iter_internal

// Option<T>
//
// What `next()` returns for an item type `T`.
template <class T>
using Option = typename iter_internal::OptionOf<T>::type;

// OptionLike: `std::optional<T>` or `OptRef<U>`, possibly cv/ref-qualified.
template <class O>
concept OptionLike = requires { typename iter_internal::OptionValue<std::remove_cvref_t<O>>::type; };

// The item type of an `Option`-like type: `T` for `optional<T>`, `U&` for `OptRef<U>`.
template <OptionLike O>
using OptionValueOf = typename iter_internal::OptionValue<std::remove_cvref_t<O>>::type;

// Iterator
//
// A type with `using Item = ...;` and `Option<Item> next()`. Once `next()`
// returned empty, calling it again may or may not yield more (use `fuse()` to
// make it stay empty), exactly as in Rust.
template <class I>
concept Iterator = std::is_object_v<I> && requires(I& it) {
  typename I::Item;
  { it.next() } -> std::same_as<Option<typename I::Item>>;
};

// The item type of an iterator (cv-ref on `I` ignored).
template <class I>
using ItemOf = typename std::remove_cvref_t<I>::Item;

// DoubleEndedIterator
//
// An iterator that can also yield from the back. Rust: `DoubleEndedIterator`.
template <class I>
concept DoubleEndedIterator = Iterator<I> && requires(I& it) {
  { it.next_back() } -> std::same_as<Option<typename I::Item>>;
};

// SizeHint
//
// Bounds on the number of remaining items: at least `lower`, at most `upper`
// (no bound when empty). Rust: the `(usize, Option<usize>)` of `size_hint`.
struct SizeHint {
  std::size_t lower = 0;
  std::optional<std::size_t> upper;

  friend constexpr bool operator==(const SizeHint&, const SizeHint&) = default;
};

// size_hint(it)
//
// `it.size_hint()` if the iterator provides one, else `{0, unbounded}`.
template <Iterator I>
constexpr SizeHint size_hint(const I& it) {
  if constexpr (requires { { it.size_hint() } -> std::convertible_to<SizeHint>; }) {
    return it.size_hint();
  } else {
    return SizeHint{};
  }
}

namespace iter_internal {

// Moves an item out of its `Option` (a reference item stays a reference).
template <class Item, class O>
constexpr Item&& take(O& opt) noexcept {
  return static_cast<Item&&>(*opt);
}

// Re-seats `dst` with the contents of `src`. Plain assignment would assign
// *through* an engaged item (a pair holding a reference writes to its target).
template <class O>
constexpr void replace(O& dst, O&& src) {
  if constexpr (std::is_trivially_copy_assignable_v<O>) {
    dst = src;
  } else {
    dst.reset();
    if (src.has_value()) dst.emplace(std::move(*src));
  }
}

constexpr std::size_t saturating_add(std::size_t a, std::size_t b) noexcept {
  const std::size_t s = a + b;
  return s < a ? static_cast<std::size_t>(-1) : s;
}

}  // namespace iter_internal

// RangeIter<I>
//
// The C++ iterator (`std::input_iterator`) over a weft `Iterator`, returned by
// `begin()` on every weft iterator; its sentinel is `std::default_sentinel`.
// It holds a pointer to the weft iterator and the current item.
template <Iterator I>
class RangeIter {
  using Item = ItemOf<I>;

 public:
  using value_type = std::remove_cvref_t<Item>;
  using difference_type = std::ptrdiff_t;
  using reference = std::conditional_t<std::is_reference_v<Item>, Item, Item&>;
  using iterator_concept = std::input_iterator_tag;

  RangeIter() = default;
  explicit RangeIter(I* it) : it_(it), cur_(it->next()) {}

  reference operator*() const { return *cur_; }
  RangeIter& operator++() {
    iter_internal::replace(cur_, it_->next());
    return *this;
  }
  void operator++(int) { ++*this; }

  friend bool operator==(const RangeIter& a, std::default_sentinel_t) noexcept {
    return !a.cur_.has_value();
  }

 private:
  I* it_ = nullptr;
  mutable Option<Item> cur_;
};

}  // namespace weft::iter

#endif  // WEFT_ITER_ITERATOR_H_
