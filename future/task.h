// -----------------------------------------------------------------------------
// File: future/task.h
// -----------------------------------------------------------------------------
//
// `Task<T>`: async/await. A function returning `Task<T>` is a coroutine whose
// body may `co_await` any `Future` (including another `Task`) and
// `co_return`s a `T`; the `Task` itself is a `Future` with `Output = T`.
// `Task<>` (= `Task<Unit>`, or `Task<void>`) ends with `co_return;` and
// outputs `Unit`. Rust: an `async fn` / `async` block.
//
//   - Lazy: nothing runs until the first `poll`.
//   - `co_await f` polls `f` with the `Context` of the task's own poll, so
//     the waker and the cooperative `Budget` reach every leaf. While `f` is
//     Pending the task is Pending; a later poll re-polls `f` only, and
//     resumes the body when `f` is Ready (future/internal/await.h).
//   - An lvalue operand is borrowed (it must outlive the `co_await`); an
//     rvalue is moved into the frame. Nested tasks and recursion work (each
//     child task is a frame of its own).
//
// Costs: one frame allocation per task, through `Alloc` (future/
// frame_allocator.h): by default a thread-local recycling pool, so a warm
// pool allocates nothing; freestanding builds must name an arena
// (`Task<T, TaskArena<Bytes, Tag>>`). Nothing else allocates: awaited
// futures live in the frame. sizeof(Task) is a handle and a flag. A poll of
// a task suspended on a nested chain costs one call per nesting level (and,
// as in Rust, that much native stack: recursion depth is bounded by it).
// The frame is freed as soon as the task completes.
//
// Contract:
//   - `Task` holds only the handle, and the frame never moves: `Task` is
//     `Unpin` and move-only. Not thread-safe (poll it from one thread at a
//     time; it may move between threads between polls if everything it
//     awaits may).
//   - Polling after Ready is a contract violation (debug assert).
//   - If the frame could not be allocated (arena full), `allocation_failed()`
//     is true and nothing was thrown: check it before polling; polling such a
//     task is a hardening assert (always on).
//   - Hosted builds: an exception escaping the body propagates out of `poll`
//     (so to whoever awaits the task, or to `block_on`'s caller); the frame
//     is freed first. A parent's `try` around `co_await child` catches it.
//     Freestanding builds are compiled with -fno-exceptions.
// Cancellation: not cancel-safe (dropping a task loses whatever its body had
// done). Destroying a `Task` at a suspension point destroys its frame: the
// future it was awaiting (recursively: nested tasks' frames), then its locals,
// in reverse order of construction, running their destructors; nothing else
// runs.
//
// Example:
//
//   weft::Task<int> add_one(int x) { co_return x + 1; }
//   weft::Task<int> twice(int x) {
//     int y = co_await add_one(x);             // a Task is a Future
//     co_return y + co_await weft::ready(y);   // and so is anything else
//   }
//   auto t = twice(1);                         // lazy: nothing ran yet
//   EXPECT_EQ(weft::testing::poll_once(t).value(), 4);
//
#ifndef WEFT_FUTURE_TASK_H_
#define WEFT_FUTURE_TASK_H_

#include <coroutine>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#if defined(__cpp_exceptions)
#include <exception>
#endif

#include "future/context.h"
#include "future/frame_allocator.h"
#include "future/future.h"
#include "future/internal/await.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

template <class T = Unit, class Alloc = DefaultTaskAllocator>
class Task;

namespace future_internal {

// TaskPromiseBase<Out>: everything about the promise but the allocator.
//
// Invariants: `cx` is non-null only while the owner's `poll` runs the body;
// `out` is set by `co_return` and taken by the owner once the body finished;
// `error` (hosted) holds an exception that escaped the body, or, while the
// body is resumed at a `co_await`, one that the awaited future threw on a
// re-poll (`future_internal::FutureAwaiter::await_resume` rethrows it inside the body).
template <class Out>
struct TaskPromiseBase : AwaitingPromise {
  std::optional<Out> out;

  std::suspend_always initial_suspend() noexcept { return {}; }  // lazy
  std::suspend_always final_suspend() noexcept { return {}; }    // the owner sees done()

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
    static_assert(sizeof(U) == 0, "Task: co_await needs a weft Future (Output + poll(Context&))");
    return {};
  }
};

// Chooses `return_value` or `return_void` (Unit / void tasks).
template <class T, class Out = std::conditional_t<std::is_void_v<T>, Unit, T>>
struct TaskPromiseReturn : TaskPromiseBase<Out> {
  template <class U = Out>
    requires std::is_convertible_v<U&&, Out>
  void return_value(U&& v) {
    this->out.emplace(std::forward<U>(v));
  }
};
template <class T>
struct TaskPromiseReturn<T, Unit> : TaskPromiseBase<Unit> {
  void return_void() noexcept { this->out.emplace(); }
};

}  // namespace future_internal

// Task<T, Alloc>
//
// The coroutine return type, and a `Future` of `T` (`Unit` for `void`).
template <class T, class Alloc>
class [[nodiscard("futures do nothing unless polled")]] Task {
 public:
  using Output = std::conditional_t<std::is_void_v<T>, Unit, T>;
  using Allocator = Alloc;
  static constexpr bool kUnpin = true;  // only a handle: the frame never moves
  // Not cancel-safe: no kCancelSafe.

  struct promise_type : future_internal::TaskPromiseReturn<T> {
    Task get_return_object() noexcept {
      return Task(std::coroutine_handle<promise_type>::from_promise(*this));
    }
    static Task get_return_object_on_allocation_failure() noexcept {
      Task t;
      t.alloc_failed_ = true;
      return t;
    }
    static void* operator new(std::size_t n) noexcept { return Alloc::allocate(n); }
    static void operator delete(void* p, std::size_t n) noexcept { Alloc::deallocate(p, n); }
  };

  Task(Task&& o) noexcept : h_(std::exchange(o.h_, nullptr)), alloc_failed_(o.alloc_failed_) {}
  Task& operator=(Task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, nullptr);
      alloc_failed_ = o.alloc_failed_;
    }
    return *this;
  }
  ~Task() { reset(); }

  // True when the frame could not be allocated; such a task must not be
  // polled.
  bool allocation_failed() const noexcept { return alloc_failed_; }

  [[gnu::always_inline]] inline Poll<Output> poll(Context& cx) {
    WEFT_HARDENING_ASSERT(!alloc_failed_,
                          "Task was polled although its frame could not be allocated; check "
                          "allocation_failed() first");
    WEFT_ASSERT(static_cast<bool>(h_),
                "Task must not be polled after it returned ready (or after it was moved from)");
    promise_type& p = h_.promise();
    p.cx = &cx;
#if defined(__cpp_exceptions)
    try {
      if (!p.poll_awaited(cx)) return suspended(p);
    } catch (...) {
      // The awaited future threw: resume the body, which rethrows it at the
      // `co_await` (future_internal::FutureAwaiter::await_resume).
      p.awaiting = nullptr;
      p.repoll = nullptr;
      p.error = std::current_exception();
    }
#else
    if (!p.poll_awaited(cx)) return suspended(p);
#endif
    h_.resume();
    if (!h_.done()) return suspended(p);
    return finish(p);
  }

 private:
  Task() noexcept = default;
  explicit Task(std::coroutine_handle<promise_type> h) noexcept : h_(h) {}

  static Poll<Output> suspended(promise_type& p) noexcept {
    p.cx = nullptr;
    return Pending{};
  }

  Poll<Output> finish(promise_type& p) {
#if defined(__cpp_exceptions)
    if (p.error) {
      std::exception_ptr e = std::exchange(p.error, nullptr);
      reset();
      std::rethrow_exception(std::move(e));
    }
#endif
    Poll<Output> out(std::move(*p.out));
    reset();
    return out;
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

}  // namespace weft

#endif  // WEFT_FUTURE_TASK_H_
