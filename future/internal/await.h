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
// Costs: the awaiter is a reference, an optional output and a pointer; no
// allocation, no copy of the future. Freestanding.
#ifndef WEFT_FUTURE_INTERNAL_AWAIT_H_
#define WEFT_FUTURE_INTERNAL_AWAIT_H_

#include <coroutine>
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
  // the awaited future in the owner's poll; see `await_in_body`.
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
template <class F>
class FutureAwaiter {
  using Fut = std::remove_reference_t<F>;

 public:
  using Output = OutputOf<Fut>;

  template <class G>
  FutureAwaiter(G&& f, AwaitingPromise* promise) : f_(std::forward<G>(f)), promise_(promise) {}

  bool await_ready() {
    WEFT_ASSERT(promise_->cx != nullptr, "co_await of a future outside of a poll");
    return poll_now(*promise_->cx);
  }
  void await_suspend(std::coroutine_handle<>) noexcept {
    promise_->awaiting = this;
    promise_->repoll = &repoll_impl;
  }
  Output await_resume() {
    WEFT_ASSERT(out_.has_value(), "co_await resumed before its future was ready");
    if constexpr (IsStdOptional<Output>::value) {
      // Member by member: `*out_` was just written as value + flag (two
      // narrow stores); a whole-object copy reads it back as one 16-byte
      // load, which cannot be forwarded from them (a store-forwarding stall
      // of ~4 ns: most of `while (auto v = co_await rx.recv())` on a
      // single-thread channel). Reading the flag and the value separately
      // forwards from each store.
      Output& o = *out_;
      if (!o.has_value()) return Output();
      return Output(std::in_place, std::move(*o));
    } else {
      return std::move(*out_);
    }
  }

 private:
  bool poll_now(Context& cx) {
    Poll<Output> p = f_.poll(cx);
    if (p.is_pending()) return false;
    out_.emplace(std::move(p).value());
    return true;
  }
  static bool repoll_impl(void* self, Context& cx) { return static_cast<FutureAwaiter*>(self)->poll_now(cx); }

  F f_;
  AwaitingPromise* promise_;
  std::optional<Output> out_;
};

// The awaiter for `co_await f` (lvalue: borrowed; rvalue: owned).
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
auto await_future(F&& f, AwaitingPromise* promise) {
  return FutureAwaiter<std::remove_cvref_t<F>&>(f, promise);
}

#if defined(__cpp_exceptions)
// Wraps a FutureAwaiter so that an exception the awaited future threw on a
// re-poll (outside the body, in the owner's poll, which stores it in
// `promise->error` and resumes) is rethrown inside the body at the
// `co_await`, where the body's own `try` can catch it.
template <class Inner>
struct RethrowingAwaiter {
  Inner inner;
  AwaitingPromise* promise;

  bool await_ready() { return inner.await_ready(); }
  void await_suspend(std::coroutine_handle<> h) noexcept { inner.await_suspend(h); }
  decltype(auto) await_resume() {
    if (promise->error) std::rethrow_exception(std::exchange(promise->error, nullptr));
    return inner.await_resume();
  }
};
#endif

// What a coroutine's `await_transform` returns for a Future.
template <class F>
  requires Future<std::remove_cvref_t<F>>
auto await_in_body(F&& f, AwaitingPromise* promise) {
#if defined(__cpp_exceptions)
  using Inner = decltype(await_future(std::forward<F>(f), promise));
  return RethrowingAwaiter<Inner>{await_future(std::forward<F>(f), promise), promise};
#else
  return await_future(std::forward<F>(f), promise);
#endif
}

}  // namespace weft::future_internal

#endif  // WEFT_FUTURE_INTERNAL_AWAIT_H_
