// -----------------------------------------------------------------------------
// File: future/internal/await.h
// -----------------------------------------------------------------------------
//
// How a weft coroutine (`Task<T>`, `AsyncGenerator<T>`) awaits a `Future`.
// Not API.
//
// A coroutine is driven by its owner's `poll(cx)`. The promise derives from
// `AwaitingPromise`, which records the `Context` of the poll in progress.
// `co_await f` goes through `await_transform`, which wraps `f` in a
// `FutureAwaiter`:
//
//   1. await_ready():   polls `f` once with the recorded Context. Ready ->
//                       the result is stored and the coroutine continues
//                       without suspending.
//   2. await_suspend(): Pending -> the awaiter registers itself in the
//                       promise (`awaiting`, `repoll`) and the coroutine
//                       suspends; the owner's `poll` returns Pending.
//   3. owner's next poll: `poll_awaited(cx)` re-polls the registered awaiter
//                       with the new Context. Still Pending -> Pending again,
//                       without resuming the coroutine. Ready -> the result
//                       is stored, the registration cleared, and the owner
//                       resumes the coroutine, where await_resume() hands
//                       the result out.
//
// Invariants: `awaiting` is non-null exactly while the coroutine is suspended
// in a FutureAwaiter. The awaited future is held by reference: a temporary
// operand (the full-expression's temporary) or a variable, both inside the
// coroutine frame, which never moves, so the future is never moved after its
// first poll. Destroying the frame at that suspension point destroys the
// awaiter and the awaited temporary (cancellation), in reverse order of
// construction.
//
// Costs: the awaiter is a reference, a pointer and room for the output (no
// flag: see FutureAwaiter); no allocation, no copy of the future.
// Freestanding.
#ifndef WEFT_FUTURE_INTERNAL_AWAIT_H_
#define WEFT_FUTURE_INTERNAL_AWAIT_H_

#include <coroutine>
#include <new>
#if defined(__cpp_exceptions)
#include <exception>
#endif
#include <optional>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft::future_internal {

// AwaitingPromise: the part of a coroutine promise that awaits futures.
struct AwaitingPromise {
  Context* cx = nullptr;                                   // set by the owner for each poll
  void* awaiting = nullptr;                                // the suspended FutureAwaiter
  bool (*repoll)(void* awaiter, Context& cx) = nullptr;    // true once it is ready
#if defined(__cpp_exceptions)
  // An exception from the body (unhandled_exception) or from a re-poll of
  // the awaited future in the owner's poll; `FutureAwaiter::await_resume`
  // rethrows the latter in the body.
  std::exception_ptr error;
#endif

  // Re-polls the future the coroutine is suspended on, if any. True when the
  // coroutine may be resumed (nothing awaited, or the awaited future is
  // ready).
  bool poll_awaited(Context& c) {
    if (awaiting == nullptr) return true;
    if (!repoll(awaiting, c)) return false;
    awaiting = nullptr;
    repoll = nullptr;
    return true;
  }
};

template <class T>
struct IsStdOptional : std::false_type {};
template <class T>
struct IsStdOptional<std::optional<T>> : std::true_type {};

// FutureAwaiter<F>: `F` is a future type (owned) or an lvalue reference to one
// (borrowed).
//
// The output lives in raw storage with no "engaged" flag: it is constructed
// by the poll that returned Ready, and that poll is always followed at once
// by `await_resume` (directly from `await_ready`, or by the owner's resume
// right after the re-poll), which moves it out and destroys it. A frame
// destroyed at the suspension point never holds one. Hosted builds check
// `promise->error` in `await_resume`: an exception the awaited future threw
// on a re-poll (outside the body, in the owner's poll, which stores it and
// resumes) is rethrown there, inside the body, where its own `try` can catch
// it.
template <class F>
class FutureAwaiter {
  using Fut = std::remove_reference_t<F>;

 public:
  using Output = OutputOf<Fut>;

  template <class G>
  FutureAwaiter(G&& f, AwaitingPromise* promise) : f_(std::forward<G>(f)), promise_(promise) {}
  // Built in place in the frame (a prvalue), never copied or moved.
  FutureAwaiter(const FutureAwaiter&) = delete;
  FutureAwaiter& operator=(const FutureAwaiter&) = delete;
  ~FutureAwaiter() {
    WEFT_ASSERT(!ready_.is_set(), "co_await: a Ready output was never resumed into the body (leaked)");
  }

  bool await_ready() {
    WEFT_ASSERT(promise_->cx != nullptr, "co_await of a future outside of a poll");
    return poll_now(*promise_->cx);
  }
  void await_suspend(std::coroutine_handle<>) noexcept {
    promise_->awaiting = this;
    promise_->repoll = &repoll_impl;
  }
  Output await_resume() {
#if defined(__cpp_exceptions)
    if (promise_->error) [[unlikely]] {
      WEFT_ASSERT(!ready_.is_set(), "co_await: an output and an exception at once");
      std::rethrow_exception(std::exchange(promise_->error, nullptr));
    }
#endif
    WEFT_ASSERT(ready_.is_set(), "co_await resumed before its future was ready");
    Output& o = out_;
    struct Destroy {
      FutureAwaiter& a;
      ~Destroy() {
        a.out_.~Output();
        a.ready_.clear();
      }
    } destroy{*this};
    if constexpr (IsStdOptional<Output>::value) {
      // Member by member: `o` was just written as value + flag (two narrow
      // stores); a whole-object copy reads it back as one 16-byte load,
      // which cannot be forwarded from them (a store-forwarding stall of
      // ~4 ns: most of `while (auto v = co_await rx.recv())` on a
      // single-thread channel). Reading the flag and the value separately
      // forwards from each store.
      if (!o.has_value()) return Output();
      return Output(std::in_place, std::move(*o));
    } else {
      return std::move(o);
    }
  }

 private:
  bool poll_now(Context& cx) {
    Poll<Output> p = f_.poll(cx);
    if (p.is_pending()) return false;
    ::new (static_cast<void*>(&out_)) Output(std::move(p).value());
    ready_.set();
    return true;
  }
  static bool repoll_impl(void* self, Context& cx) { return static_cast<FutureAwaiter*>(self)->poll_now(cx); }

  // "An output is stored", for the debug checks only (empty in release).
  struct DebugFlag {
#if WEFT_DEBUG_CHECKS
    bool set_ = false;
    bool is_set() const noexcept { return set_; }
    void set() noexcept { set_ = true; }
    void clear() noexcept { set_ = false; }
#else
    static constexpr bool is_set() noexcept { return true; }
    void set() noexcept {}
    void clear() noexcept {}
#endif
  };

  F f_;
  AwaitingPromise* promise_;
  union {
    Output out_;  // alive from a Ready poll until await_resume
  };
  [[no_unique_address]] DebugFlag ready_;
};

// The awaiter for `co_await f` (lvalue: borrowed; rvalue: owned) in a
// coroutine's `await_transform`.
//
// Both are awaited in place, by reference: an rvalue operand (a temporary,
// or `std::move(x)`) lives until the end of the full-expression that holds
// the `co_await`, across the suspension, in the frame. Moving it into the
// awaiter would copy every awaited future once per `co_await` for nothing
// (and a small one, written just before, is read back as one wide load: a
// store-forwarding stall). `co_await std::move(x)` therefore leaves `x`
// completed, not moved-from; it is destroyed with its scope.
template <class F>
  requires Future<std::remove_cvref_t<F>>
FutureAwaiter<std::remove_cvref_t<F>&> await_in_body(F&& f, AwaitingPromise* promise) {
  return FutureAwaiter<std::remove_cvref_t<F>&>(f, promise);
}

}  // namespace weft::future_internal

#endif  // WEFT_FUTURE_INTERNAL_AWAIT_H_
