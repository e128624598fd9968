// -----------------------------------------------------------------------------
// File: iter/generator.h
// -----------------------------------------------------------------------------
//
// `Generator<T>`: an iterator written as a coroutine with `co_yield`.
// Rust: a `gen` block / `std::iter::from_coroutine` (nightly); C++23:
// `std::generator`.
//
//   iter::Generator<int> fib() {
//     for (int a = 0, b = 1;; std::tie(a, b) = std::pair(b, a + b)) co_yield a;
//   }
//   int s = fib().take(10).sum();   // every adaptor works on a generator
//
// Nesting: `co_yield iter::elements_of(g)` yields everything `g` yields (`g`
// is another Generator with the same T, or any other Iterator). Each item
// costs O(1) whatever the nesting depth: the outermost generator resumes the
// innermost directly. Entering and leaving a nested generator go through the
// outermost `next()` (a trampoline), so recursion never grows the stack.
//
// Items: `Generator<T>` yields `T` by value (moved out of the `co_yield`
// operand); `Generator<T&>` yields references (valid until the next call of
// `next()`, like `std::generator<T&>`).
//
// Costs: one coroutine frame per generator, allocated through `Alloc` (a
// type with static `allocate(size_t) noexcept` / `deallocate(void*,
// size_t) noexcept`). `HeapFrameAllocator` (the default) uses the global
// nothrow `operator new`; `FrameArena<Bytes, Tag>` is a static arena for
// builds without a heap. If the frame cannot be allocated the generator is
// empty and `allocation_failed()` is true: nothing is thrown.
// Size: sizeof(Generator) is a pointer and a flag.
//
// Contract: `elements_of(g)` takes `g` (moved from, even if an lvalue). A
// Generator is single-threaded (not internally synchronised);
// move-only. Exceptions (hosted builds) thrown in the body propagate out of
// `next()`; the generator is then finished.
// Cancellation: destroying a generator destroys its frame at the current
// `co_yield`, running the destructors of its locals, and, recursively, of the
// nested generators it was delegating to.
#ifndef WEFT_ITER_GENERATOR_H_
#define WEFT_ITER_GENERATOR_H_

#include <coroutine>
#include <cstddef>
#include <memory>
#include <new>
#include <type_traits>
#include <utility>

#include "iter/adaptors.h"
#include "iter/iterator.h"
#include "tools/base/assert.h"

namespace weft::iter {

// HeapFrameAllocator: frames from the global nothrow operator new.
struct HeapFrameAllocator {
  static void* allocate(std::size_t n) noexcept { return ::operator new(n, std::nothrow); }
  static void deallocate(void* p, std::size_t) noexcept { ::operator delete(p); }
};

// FrameArena<Bytes, Tag>
//
// A static bump arena for coroutine frames: no heap. Freeing the most recent
// frame pops it (nested generators free in LIFO order), and the arena resets
// when every frame is free. When full, `allocate` returns nullptr, which
// makes the generator report `allocation_failed()`. Not thread-safe: one
// arena per thread or core (use distinct `Tag`s). Constant-initialised, so
// the storage lands in .bss.
template <std::size_t Bytes, class Tag = void>
class FrameArena {
 public:
  static void* allocate(std::size_t n) noexcept {
    n = round_up(n);
    if (n > Bytes - top_) return nullptr;
    void* p = storage_ + top_;
    top_ += n;
    ++live_;
    return p;
  }
  static void deallocate(void* p, std::size_t n) noexcept {
    n = round_up(n);
    auto* b = static_cast<unsigned char*>(p);
    if (b + n == storage_ + top_) top_ -= n;
    if (--live_ == 0) top_ = 0;
  }
  static std::size_t used() noexcept { return top_; }
  static std::size_t live() noexcept { return live_; }
  static constexpr std::size_t capacity() noexcept { return Bytes; }

 private:
  static constexpr std::size_t kAlign = alignof(std::max_align_t);
  static constexpr std::size_t round_up(std::size_t n) noexcept { return (n + kAlign - 1) / kAlign * kAlign; }
  alignas(kAlign) static inline unsigned char storage_[Bytes] = {};
  static inline std::size_t top_ = 0;
  static inline std::size_t live_ = 0;
};

template <class T, class Alloc = HeapFrameAllocator>
class Generator;

// ElementsOf<R>: `co_yield iter::elements_of(r)` yields every item of `r`.
template <class R>
struct ElementsOf {
  R range;
};

template <class R>
constexpr ElementsOf<R&&> elements_of(R&& r) noexcept {
  return {std::forward<R>(r)};
}

namespace iter_internal {

template <class T>
struct GenPromiseBase;

template <class G>
struct IsGenerator : std::false_type {};
template <class T, class A>
struct IsGenerator<Generator<T, A>> : std::true_type {};

// State shared by every frame of one generator stack; lives in the root
// promise. `value` points at the item being yielded (in the yielding frame);
// `leaf` is the innermost active frame; `pull` delegates to a non-generator
// iterator installed by `elements_of(it)`.
//
// Invariants: only the root's `Generator::next` resumes frames, always `leaf`.
// A nested frame's `parent` is set while it is being delegated to; when it
// finishes its final awaiter makes `parent` the leaf and transfers to it.
template <class T>
struct GenPromiseBase {
  using Pointee = std::remove_reference_t<T>;

  GenPromiseBase* root = this;
  std::coroutine_handle<> leaf;
  std::coroutine_handle<> parent;
  Pointee* value = nullptr;
  void* delegate = nullptr;
  bool (*pull)(void* delegate, GenPromiseBase* root) = nullptr;
  bool failed = false;

  std::suspend_always initial_suspend() noexcept { return {}; }

  // A finished nested frame makes its parent the leaf and returns to the
  // root's `next()`, which resumes the parent (a trampoline: the native stack
  // stays flat at any depth, also where the compiler does not turn symmetric
  // transfer into a tail call, e.g. -O0 with AddressSanitizer).
  struct FinalAwaiter {
    bool await_ready() noexcept { return false; }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      GenPromiseBase& self = h.promise();
      if (self.parent) self.root->leaf = self.parent;
    }
    void await_resume() noexcept {}
  };
  FinalAwaiter final_suspend() noexcept { return {}; }

  // co_yield of an lvalue or rvalue item: the root points at it; the operand
  // lives in this frame until it is resumed.
  std::suspend_always yield_value(Pointee& v) noexcept
    requires(std::is_reference_v<T> || !std::is_const_v<Pointee>)
  {
    root->value = std::addressof(v);
    return {};
  }
  std::suspend_always yield_value(Pointee&& v) noexcept
    requires(!std::is_lvalue_reference_v<T> || std::is_const_v<Pointee>)
  {
    root->value = std::addressof(v);
    return {};
  }
  // A const lvalue for a value generator: copied into the awaiter.
  struct CopyAwaiter {
    std::remove_cv_t<Pointee> copy;
    GenPromiseBase* root;
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) noexcept { root->value = std::addressof(copy); }
    void await_resume() noexcept {}
  };
  CopyAwaiter yield_value(const Pointee& v)
    requires(!std::is_reference_v<T> && !std::is_const_v<Pointee>)
  {
    return CopyAwaiter{v, root};
  }

  // co_yield elements_of(generator): the nested frame becomes the leaf; the
  // root's `next()` resumes it (trampoline, as above).
  template <class G>
  struct NestedAwaiter {
    G gen;
    bool await_ready() noexcept { return !gen.h_ || gen.h_.done(); }
    template <class P>
    void await_suspend(std::coroutine_handle<P> h) noexcept {
      auto& child = gen.h_.promise();
      GenPromiseBase& self = h.promise();
      child.root = self.root;
      child.parent = h;
      self.root->leaf = gen.h_;
    }
    void await_resume() noexcept {}
  };
  template <class U, class A>
  NestedAwaiter<Generator<T, A>> yield_value(ElementsOf<Generator<U, A>&&> e) noexcept
    requires std::is_same_v<U, T>
  {
    return {std::move(e.range)};
  }
  template <class U, class A>
  NestedAwaiter<Generator<T, A>> yield_value(ElementsOf<Generator<U, A>&> e) noexcept
    requires std::is_same_v<U, T>
  {
    return {std::move(e.range)};
  }

  // co_yield elements_of(iterator): the root pulls from it directly.
  template <class I>
  struct IteratorAwaiter {
    I it;
    Option<ItemOf<I>> slot;
    GenPromiseBase* root;

    static bool pull_one(void* self, GenPromiseBase* root) {
      auto* a = static_cast<IteratorAwaiter*>(self);
      iter_internal::replace(a->slot, a->it.next());
      if (!a->slot) return false;
      root->value = std::addressof(*a->slot);
      return true;
    }
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) noexcept {
      root->delegate = this;
      root->pull = &pull_one;
    }
    void await_resume() noexcept {}
  };
  template <class R>
    requires(!IsGenerator<std::remove_cvref_t<R>>::value) && Iterator<std::remove_cvref_t<R>>
  IteratorAwaiter<std::remove_cvref_t<R>> yield_value(ElementsOf<R> e) {
    static_assert(std::is_convertible_v<ItemOf<std::remove_cvref_t<R>>, T>,
                  "elements_of: the iterator's items must convert to the generator's item type");
    return {std::forward<R>(e.range), {}, root};
  }

  void return_void() noexcept {}

  void unhandled_exception() {
    root->failed = true;
#if defined(__cpp_exceptions)
    throw;
#else
    __builtin_trap();
#endif
  }

  // Forbid co_await inside a generator: it is not an async context.
  template <class U>
  std::suspend_never await_transform(U&&) = delete;
};

}  // namespace iter_internal

// Generator<T, Alloc>
//
// The coroutine return type. Move-only; a pointer and a flag in size. An `Iterator`
// with `Item = T` and all of `Ext`'s adaptors and consumers.
template <class T, class Alloc>
class [[nodiscard]] Generator : public Ext<Generator<T, Alloc>> {
  using Base = iter_internal::GenPromiseBase<T>;

 public:
  using Item = T;

  struct promise_type : Base {
    Generator get_return_object() noexcept {
      return Generator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    static Generator get_return_object_on_allocation_failure() noexcept {
      Generator g;
      g.alloc_failed_ = true;
      return g;
    }
    static void* operator new(std::size_t n) noexcept { return Alloc::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { Alloc::deallocate(p, n); }
  };

  Generator() noexcept = default;
  Generator(Generator&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), alloc_failed_(o.alloc_failed_) {}
  Generator& operator=(Generator&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      alloc_failed_ = o.alloc_failed_;
    }
    return *this;
  }
  ~Generator() { reset(); }

  // True when the coroutine frame could not be allocated (the generator is
  // then empty).
  bool allocation_failed() const noexcept { return alloc_failed_; }

  Option<T> next() {
    if (!h_) return std::nullopt;
    Base& root = h_.promise();
    for (;;) {
      if (root.failed || h_.done()) return std::nullopt;
      if (root.pull != nullptr) {
        if (root.pull(root.delegate, &root)) return yielded(root);
        root.pull = nullptr;
        root.delegate = nullptr;
      }
      root.value = nullptr;
      root.leaf.resume();
      if (root.value != nullptr) return yielded(root);
      // Finished, or the leaf changed (entered or left a nested generator),
      // or a leaf installed an iterator delegate: loop.
    }
  }

 private:
  template <class U, class A>
  friend class Generator;
  friend struct iter_internal::GenPromiseBase<T>;

  explicit Generator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {
    h.promise().leaf = h;
  }

  static Option<T> yielded(Base& root) {
    if constexpr (std::is_reference_v<T>) {
      return Option<T>(*root.value);
    } else {
      return Option<T>(std::move(*root.value));
    }
  }

  void reset() noexcept {
    if (h_) {
      h_.destroy();
      h_ = nullptr;
    }
  }

  std::coroutine_handle<promise_type> h_;
  bool alloc_failed_ = false;
};

}  // namespace weft::iter

#endif  // WEFT_ITER_GENERATOR_H_
