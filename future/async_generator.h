// -----------------------------------------------------------------------------
// File: future/async_generator.h
// -----------------------------------------------------------------------------
//
// `AsyncGenerator<T>`: a stream written as a coroutine. Its body may
// `co_await` any `Future` (polled with the Context of the generator's own
// `poll_next`) and `co_yield` values; the generator is itself a `Stream` with
// `Item = T`. Rust: an `async gen` block / the `async-stream` crate's
// `stream!`; the async twin of `iter::Generator`.
//
//   - Lazy: nothing runs until the first `poll_next`.
//   - `co_yield v` ends a `poll_next` with `Ready(v)`; the body continues at
//     the next `poll_next`. An rvalue operand is moved out; an lvalue is
//     copied.
//   - `co_await f` goes through future/internal/await.h: while `f` is
//     Pending, `poll_next` returns Pending and later polls re-poll `f` only;
//     the body resumes when `f` is Ready. An lvalue `f` is borrowed, an
//     rvalue is moved into the frame.
//   - The end of the body (or `co_return;`) is the end of the stream.
//   - Each `poll_next` that resumes the body spends one unit of the
//     cooperative budget first (`cx.poll_proceed()`), as `stream::iter` does,
//     so a generator that yields without ever awaiting still hands the thread
//     back to its executor.
//
// Costs: one coroutine frame per generator, allocated through `Alloc` (a type
// with static `allocate(size_t) noexcept` / `deallocate(void*, size_t)
// noexcept`, the shape of `iter::HeapFrameAllocator`, the default, and of
// `iter::FrameArena<Bytes, Tag>`, a static arena for builds without a heap;
// `PoolFrameAllocator` from future/frame_allocator.h fits too). Nothing else
// allocates: awaited futures live in the frame. The frame is freed as soon as
// the body finishes. sizeof(AsyncGenerator) is a handle and two flags.
//
// Contract:
//   - Only the handle is in the object and the frame never moves: an
//     `AsyncGenerator` is `Unpin` and move-only. Not thread-safe (poll it
//     from one thread at a time).
//   - If the frame could not be allocated, `allocation_failed()` is true,
//     nothing was thrown, and the stream is empty (its first poll returns the
//     end).
//   - Polling after the end is a contract violation (debug assert).
//   - Hosted builds: an exception escaping the body propagates out of
//     `poll_next`, after which the stream has ended (its frame is freed). An
//     exception thrown by an awaited future when it is re-polled is rethrown
//     inside the body at its `co_await` (a `try` there catches it).
// Cancellation: destroying the generator at a suspension point destroys its
// frame: the future it was awaiting, then its locals, in reverse order of
// construction; nothing else of the body runs.
//
// Example:
//
//   weft::AsyncGenerator<int> numbers(int n) {
//     for (int i = 1; i <= n; ++i) co_yield co_await weft::ready(i);
//   }
//   weft::AsyncGenerator<int> odd_squares(weft::AsyncGenerator<int> in) {
//     while (auto x = co_await weft::stream::next(in)) {
//       if (*x % 2 == 1) co_yield *x * *x;
//     }
//   }
//   auto all = weft::stream::collect<std::vector>(odd_squares(numbers(5)));  // {1, 9, 25}
//
#ifndef WEFT_FUTURE_ASYNC_GENERATOR_H_
#define WEFT_FUTURE_ASYNC_GENERATOR_H_

#include <coroutine>
#include <cstddef>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#if defined(__cpp_exceptions)
#include <exception>
#endif

#include "future/context.h"
#include "future/future.h"
#include "future/internal/await.h"
#include "future/poll.h"
#include "future/stream.h"
#include "iter/generator.h"
#include "tools/base/assert.h"

namespace weft {

template <class T, class Alloc = iter::HeapFrameAllocator>
class AsyncGenerator;

namespace future_internal {

// AsyncGenPromiseBase<T>: everything about the promise but the allocator.
//
// Invariants: `cx` (AwaitingPromise) is non-null only while `poll_next` runs;
// `value` points at the operand of the `co_yield` the body is suspended at
// (in the frame), and is null otherwise; `awaiting` is non-null while the
// body is suspended at a `co_await` of a Pending future. At most one of
// `value` and `awaiting` is set. `error` (hosted) holds an exception that
// escaped the body, or, while the body is being resumed at a `co_await`, one
// the awaited future threw on a re-poll.
template <class T>
struct AsyncGenPromiseBase : AwaitingPromise {
  T* value = nullptr;

  std::suspend_always initial_suspend() noexcept { return {}; }  // lazy
  std::suspend_always final_suspend() noexcept { return {}; }    // the owner sees done()

  // co_yield of an rvalue: the operand lives in the frame until the body is
  // resumed; `poll_next` moves it out.
  std::suspend_always yield_value(T&& v) noexcept {
    value = std::addressof(v);
    return {};
  }
  // co_yield of an lvalue: copied into the awaiter (in the frame).
  struct CopyAwaiter {
    T copy;
    AsyncGenPromiseBase* promise;
    bool await_ready() noexcept { return false; }
    void await_suspend(std::coroutine_handle<>) noexcept { promise->value = std::addressof(copy); }
    void await_resume() noexcept {}
  };
  CopyAwaiter yield_value(const T& v) { return CopyAwaiter{v, this}; }

  void return_void() noexcept {}

  void unhandled_exception() noexcept {
#if defined(__cpp_exceptions)
    error = std::current_exception();
#else
    __builtin_trap();  // unreachable: nothing throws under -fno-exceptions
#endif
  }


  // co_await of any Future (lvalue: borrowed; rvalue: moved into the frame).
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  auto await_transform(F&& f) {
    return await_in_body(std::forward<F>(f), this);
  }

  // Anything else is a compile error with a sentence.
  template <class U>
    requires(!Future<std::remove_cvref_t<U>>)
  std::suspend_never await_transform(U&&) {
    static_assert(sizeof(U) == 0, "AsyncGenerator: co_await needs a weft Future (Output + poll(Context&))");
    return {};
  }
};

}  // namespace future_internal

// AsyncGenerator<T, Alloc>
//
// The coroutine return type, and a `Stream` of `T`.
template <class T, class Alloc>
class [[nodiscard("streams do nothing unless polled")]] AsyncGenerator {
  static_assert(std::is_object_v<T> && !std::is_const_v<T>,
                "AsyncGenerator<T>: T must be a non-const object type");
  using Base = future_internal::AsyncGenPromiseBase<T>;

 public:
  using Item = T;
  using Allocator = Alloc;
  static constexpr bool kUnpin = true;  // only a handle: the frame never moves

  struct promise_type : Base {
    AsyncGenerator get_return_object() noexcept {
      return AsyncGenerator(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    static AsyncGenerator get_return_object_on_allocation_failure() noexcept {
      AsyncGenerator g;
      g.alloc_failed_ = true;
      return g;
    }
    static void* operator new(std::size_t n) noexcept { return Alloc::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { Alloc::deallocate(p, n); }
  };

  AsyncGenerator(AsyncGenerator&& o) noexcept
      : h_(std::exchange(o.h_, nullptr)), alloc_failed_(o.alloc_failed_), ended_(std::exchange(o.ended_, true)) {}
  AsyncGenerator& operator=(AsyncGenerator&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      alloc_failed_ = o.alloc_failed_;
      ended_ = std::exchange(o.ended_, true);
    }
    return *this;
  }
  ~AsyncGenerator() { reset(); }

  // True when the frame could not be allocated (the stream is then empty).
  bool allocation_failed() const noexcept { return alloc_failed_; }
  // True once the stream returned its end.
  bool is_terminated() const noexcept { return ended_; }

  PollNext<T> poll_next(Context& cx) {
    WEFT_ASSERT(!ended_, "AsyncGenerator must not be polled after it returned the end");
    if (!h_) return end();
    promise_type& p = h_.promise();
    // One unit of the cooperative budget per resumption of the body, taken
    // before the awaited future is re-polled: a re-poll that returns Ready
    // must be followed by the resumption at once (its output is destroyed
    // by the body's `await_resume`, nowhere else; future/internal/await.h).
    if (!cx.poll_proceed()) return Pending{};
    if (p.awaiting != nullptr && !repoll_awaited(p, cx)) return Pending{};
    // The hot path (kept small so that it inlines into the consumer):
    // resume the body until its next co_yield, co_await of a Pending future,
    // or end. `resume` does not throw: the body's exceptions are caught by
    // `unhandled_exception`.
    p.cx = &cx;
    p.value = nullptr;
    h_.resume();
    p.cx = nullptr;
    if (T* v = p.value) {
      p.value = nullptr;
      return std::optional<T>(std::move(*v));
    }
    if (!h_.done()) return Pending{};  // at a co_await of a Pending future
    return finish();
  }

 private:
  AsyncGenerator() noexcept = default;
  explicit AsyncGenerator(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}

  // Re-polls the future the body is suspended on; true when the body may be
  // resumed. Hosted: an exception the future throws is handed to the body,
  // which rethrows it at its `co_await` (future_internal::FutureAwaiter::await_resume).
  [[gnu::noinline]] static bool repoll_awaited(promise_type& p, Context& cx) {
    p.cx = &cx;
#if defined(__cpp_exceptions)
    try {
      const bool ready = p.poll_awaited(cx);
      p.cx = nullptr;
      return ready;
    } catch (...) {
      p.awaiting = nullptr;
      p.repoll = nullptr;
      p.error = std::current_exception();
      return true;
    }
#else
    const bool ready = p.poll_awaited(cx);
    p.cx = nullptr;
    return ready;
#endif
  }

  // The body has finished: free the frame, then end (or rethrow what escaped
  // the body).
  [[gnu::noinline]] PollNext<T> finish() {
#if defined(__cpp_exceptions)
    std::exception_ptr error = std::exchange(h_.promise().error, nullptr);
    reset();
    if (error) {
      ended_ = true;
      std::rethrow_exception(std::move(error));
    }
#else
    reset();
#endif
    return end();
  }

  PollNext<T> end() {
    ended_ = true;
    return std::nullopt;
  }

  void reset() noexcept {
    if (h_) {
      h_.destroy();
      h_ = nullptr;
    }
  }

  std::coroutine_handle<promise_type> h_;
  bool alloc_failed_ = false;
  bool ended_ = false;
};

}  // namespace weft

#endif  // WEFT_FUTURE_ASYNC_GENERATOR_H_
