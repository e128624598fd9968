// -----------------------------------------------------------------------------
// File: executor/join_handle.h
// -----------------------------------------------------------------------------
//
// `JoinHandle<T>`: what `spawn` returns; a `Future` of the task's
// `JoinResult<T>` (its output, or cancelled, or the exception that escaped
// it). Rust: `tokio::task::JoinHandle<T>`.
//
//   - `co_await handle` / `block_on(handle)`: the task's result.
//   - `abort()`: cancels the task at its next pending point; the handle then
//     yields a cancelled result (unless the task completed first: then the
//     value). Safe from any thread, any number of times.
//   - `detach()` / dropping the handle: the task keeps running, its output is
//     dropped when it completes.
//   - `is_finished()`, `id()`.
//   - `abort_handle()`: an `AbortHandle`, a copyable reference that can abort
//     the task from any thread (the JoinHandle object itself, like any
//     future, is used by one thread at a time).
//
// Costs: two words; no allocation (the result lives in the task's own
// allocation until taken). A poll is one atomic load when the task is done,
// or a CAS to store the waker (skipped when the same waker is stored).
// Contract: `Unpin` (may move between polls) and cancel-safe: dropping a
// pending handle loses nothing (the task keeps running). Polling after Ready
// is a contract violation (debug assert). May be polled, dropped and aborted
// from any thread, whichever executor the task runs on. A leaf future: each
// poll spends one unit of the cooperative budget.
// Cancellation: dropping the handle detaches, it never cancels (call
// `abort()` first for that); a handle's result that was not taken is
// destroyed with the task.
//
// Example:
//
//   weft::LocalExecutor ex;
//   weft::JoinHandle<int> h = ex.spawn_local(weft::ready(41));
//   weft::JoinResult<int> r = ex.block_on(std::move(h));
//   EXPECT_EQ(r.value() + 1, 42);
//
#ifndef WEFT_EXECUTOR_JOIN_HANDLE_H_
#define WEFT_EXECUTOR_JOIN_HANDLE_H_

#include <optional>
#include <utility>

#include "executor/internal/task_header.h"
#include "executor/join_result.h"
#include "executor/task_info.h"
#include "future/context.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

// AbortHandle
//
// Aborts a task from anywhere without owning its result (Rust:
// `tokio::task::AbortHandle`). Copyable; holds a reference to the task (not
// to its executor's queue), so it may outlive the executor.
class AbortHandle {
 public:
  AbortHandle() noexcept = default;
  explicit AbortHandle(executor_internal::TaskHeader* t) noexcept : task_(t) {
    if (task_ != nullptr) task_->add_ref();
  }
  AbortHandle(const AbortHandle& o) noexcept : AbortHandle(o.task_) {}
  AbortHandle(AbortHandle&& o) noexcept : task_(std::exchange(o.task_, nullptr)) {}
  AbortHandle& operator=(AbortHandle o) noexcept {
    std::swap(task_, o.task_);
    return *this;
  }
  ~AbortHandle() {
    if (task_ != nullptr) task_->drop_ref();
  }

  // See `JoinHandle::abort()`.
  void abort() const noexcept {
    if (task_ != nullptr) task_->abort();
  }
  bool is_finished() const noexcept { return task_ == nullptr || task_->is_complete(); }
  TaskId id() const noexcept { return task_ != nullptr ? task_->id() : 0; }

 private:
  executor_internal::TaskHeader* task_ = nullptr;
};

// JoinHandle<T>
template <class T>
class [[nodiscard("dropping a JoinHandle detaches the task; name it or call detach()")]] JoinHandle {
 public:
  using Output = JoinResult<T>;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  // An empty handle (joins nothing; `valid()` is false).
  JoinHandle() noexcept = default;

  // Adopts the (J) reference of `task` (executors only; see
  // executor/internal/task.h).
  static JoinHandle from_raw(executor_internal::TaskHeader* task) noexcept { return JoinHandle(task); }

  JoinHandle(JoinHandle&& o) noexcept : task_(std::exchange(o.task_, nullptr)), done_(o.done_) {}
  JoinHandle& operator=(JoinHandle&& o) noexcept {
    if (this != &o) {
      reset();
      task_ = std::exchange(o.task_, nullptr);
      done_ = o.done_;
    }
    return *this;
  }
  JoinHandle(const JoinHandle&) = delete;
  JoinHandle& operator=(const JoinHandle&) = delete;
  ~JoinHandle() { reset(); }

  Poll<JoinResult<T>> poll(Context& cx) {
    WEFT_ASSERT(task_ != nullptr,
                "JoinHandle must not be polled after it returned ready (or when empty/detached)");
    if (!cx.poll_proceed()) return Pending{};
    if (!task_->join_poll(cx.waker())) return Pending{};
    std::optional<JoinResult<T>> out;
    task_->join_take_output(&out);
    std::exchange(task_, nullptr)->join_drop(/*output_taken=*/true);
    done_ = true;
    return std::move(*out);
  }

  // JoinHandle::abort()
  //
  // Requests cancellation at the task's next pending point (a poll in
  // progress finishes first). No effect on a finished task.
  void abort() const noexcept {
    if (task_ != nullptr) task_->abort();
  }

  // An AbortHandle for this task (empty if this handle is invalid).
  AbortHandle abort_handle() const noexcept { return AbortHandle(task_); }

  // JoinHandle::detach()
  //
  // Lets the task run on without a handle (same as dropping the handle).
  void detach() noexcept { reset(); }

  // True once the task completed (or the result was taken).
  bool is_finished() const noexcept { return done_ || (task_ != nullptr && task_->is_complete()); }

  // False for an empty, detached or moved-from handle, or after Ready.
  bool valid() const noexcept { return task_ != nullptr; }

  // The task's id (0 for an invalid handle).
  TaskId id() const noexcept { return task_ != nullptr ? task_->id() : 0; }

  // The task (TaskScope/JoinSet use it for synchronous cancellation).
  executor_internal::TaskHeader* raw() const noexcept { return task_; }

 private:
  explicit JoinHandle(executor_internal::TaskHeader* t) noexcept : task_(t) {}

  void reset() noexcept {
    if (task_ != nullptr) std::exchange(task_, nullptr)->join_drop(/*output_taken=*/false);
  }

  executor_internal::TaskHeader* task_ = nullptr;
  bool done_ = false;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_JOIN_HANDLE_H_
