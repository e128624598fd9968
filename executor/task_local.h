// -----------------------------------------------------------------------------
// File: executor/task_local.h
// -----------------------------------------------------------------------------
//
// `TaskLocal<T>`: a value bound for the duration of a future (and, by opt-in
// per key, inherited by the tasks spawned inside it): request ids, deadlines,
// tracing spans. Rust: `tokio::task_local!` + `LocalKey::scope`; inheritance
// on spawn is weft's addition (tokio has none).
//
//   static weft::TaskLocal<int> kRequestId{weft::TaskLocal<int>::kInherit};
//   static weft::TaskLocal<Deadline> kDeadline;   // not inherited
//
//   key.scope(value, fut)     a future that polls `fut` with `key` bound to
//                             (its own copy of) `value`.
//   key.sync_scope(value, fn) calls `fn()` with `key` bound.
//   key.get()                 the innermost bound value (contract: bound).
//   key.try_get()             pointer to it, or nullptr.
//
// Inheritance: a key declared `kInherit` that is bound where `spawn` (any
// weft executor's) is called is copied into the new task, which then sees
// the value in every poll; its own spawns pass it on. Keys without it are not
// visible in spawned tasks. Rebinding a key in a child does not affect the
// parent (each task has its own copy).
//
// Costs: `scope` adds sizeof(T) and a pointer to the future and two
// thread-local stores per poll; `get()` walks the bindings visible now (a
// handful). A spawn with inheritable bindings visible costs one allocation
// plus a copy of each value; without, one thread-local load.
// Contract: `T` must be copy-constructible for inheritable keys. A
// `TaskLocal` must outlive every future and task that binds it (declare keys
// `static`). Values are visible only while the scoped future is being polled
// (and inside `sync_scope`), on the polling thread.
// Cancellation: dropping a scoped future drops its value with it.
//
// Example:
//
//   static weft::TaskLocal<int> kRequestId{weft::TaskLocal<int>::kInherit};
//   weft::LocalExecutor ex;
//   auto child = ex.block_on(kRequestId.scope(7, weft::lazy([&] {
//     return ex.spawn_local(weft::lazy([] { return kRequestId.get(); }));  // inherits 7
//   })));
//   EXPECT_EQ(ex.block_on(std::move(child)).value(), 7);
//
#ifndef WEFT_EXECUTOR_TASK_LOCAL_H_
#define WEFT_EXECUTOR_TASK_LOCAL_H_

#include <new>
#include <type_traits>
#include <utility>

#include "executor/internal/task_locals.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

template <class T>
class TaskLocal;

// TaskLocalFuture<T, F>: the future returned by `TaskLocal<T>::scope()`.
template <class T, Future F>
class [[nodiscard("futures do nothing unless polled")]] TaskLocalFuture {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;  // the binding is rebuilt at every poll
  static constexpr bool kCancelSafe = CancelSafeTrait<F>::value;

  TaskLocalFuture(const executor_internal::TaskLocalKey* key, T value, F f)
      : key_(key), value_(std::move(value)), f_(std::move(f)) {}

  Poll<Output> poll(Context& cx) {
    executor_internal::LocalBinding b{key_, &value_, executor_internal::tl_bindings};
    executor_internal::BindingScope scope(&b);
    return f_.poll(cx);
  }

  // The value bound by this scope.
  T& value() noexcept { return value_; }

 private:
  const executor_internal::TaskLocalKey* key_;
  T value_;
  F f_;
};

// TaskLocal<T>
//
// A key. Constant-initialised; declare it `static` (or at namespace scope).
template <class T>
class TaskLocal : private executor_internal::TaskLocalKey {
 public:
  enum Inherit : bool { kNoInherit = false, kInherit = true };

  constexpr explicit TaskLocal(Inherit inherit = kNoInherit) noexcept
      : executor_internal::TaskLocalKey{static_cast<bool>(inherit), &clone_value, &destroy_value} {}
  TaskLocal(const TaskLocal&) = delete;
  TaskLocal& operator=(const TaskLocal&) = delete;

  bool inherits() const noexcept { return inherit; }

  // TaskLocal::try_get()
  //
  // The innermost value bound to this key here, or nullptr.
  T* try_get() const noexcept { return static_cast<T*>(executor_internal::find_binding(key())); }

  // TaskLocal::get()
  //
  // The bound value; a contract violation (always checked) when unbound.
  T& get() const noexcept {
    T* p = try_get();
    WEFT_HARDENING_ASSERT(p != nullptr, "TaskLocal::get() called where the key is not bound");
    return *p;
  }

  bool is_set() const noexcept { return try_get() != nullptr; }

  // TaskLocal::scope()
  //
  // `f` polled with this key bound to `value`.
  template <class F>
    requires Future<std::remove_cvref_t<F>>
  TaskLocalFuture<T, std::remove_cvref_t<F>> scope(T value, F&& f) const {
    return TaskLocalFuture<T, std::remove_cvref_t<F>>(key(), std::move(value), std::forward<F>(f));
  }

  // TaskLocal::sync_scope()
  //
  // Calls `fn()` with this key bound to `value`; returns its result.
  template <class Fn>
  decltype(auto) sync_scope(T value, Fn&& fn) const {
    executor_internal::LocalBinding b{key(), &value, executor_internal::tl_bindings};
    executor_internal::BindingScope scope(&b);
    return std::forward<Fn>(fn)();
  }

 private:
  const executor_internal::TaskLocalKey* key() const noexcept { return this; }

  static void* clone_value(const void* v) {
    if constexpr (std::is_copy_constructible_v<T>) {
      return new T(*static_cast<const T*>(v));
    } else {
      WEFT_HARDENING_ASSERT(false, "TaskLocal: an inherited key's type must be copy-constructible");
      return nullptr;
    }
  }
  static void destroy_value(void* v) { delete static_cast<T*>(v); }
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_TASK_LOCAL_H_
