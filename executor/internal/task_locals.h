// -----------------------------------------------------------------------------
// File: executor/internal/task_locals.h
// -----------------------------------------------------------------------------
//
// The machinery under `TaskLocal<T>` (executor/task_local.h): a per-thread
// stack of (key, value) bindings that is valid only during a poll, and the
// snapshot of inheritable bindings that a spawn copies into the new task.
// Rust: tokio's `task_local!` (`LocalKey::scope` swaps the value into a
// thread-local around each poll of the scoped future); the inheritance on
// spawn is weft's addition.
//
// Invariants:
//   - `tl_bindings` is the innermost binding of the code running on this
//     thread; every push is undone by the same scope (RAII, exception-safe).
//   - Every task poll starts with an empty stack (`TaskCell::poll` saves and
//     clears it), so a task sees only its own bindings, never those of a
//     poll that happens to run an executor inside it.
//   - A spawn made while inheritable bindings are visible wraps the new
//     future in `WithInheritedLocals<F>`, which owns copies of those values
//     (`InheritedLocals`) and pushes them around each poll of the child.
//     Without any inheritable binding a spawn costs one thread-local load.
//
// Costs: `get()` walks the binding stack (a handful of entries at most);
// `scope` costs two thread-local stores per poll; inheritance costs one heap
// allocation per spawn that inherits, plus each value's copy.
// Thread-safety: the stack is per thread; inherited copies belong to the
// child task, so they move with it to whatever thread polls it. Hosted.
#ifndef WEFT_EXECUTOR_INTERNAL_TASK_LOCALS_H_
#define WEFT_EXECUTOR_INTERNAL_TASK_LOCALS_H_

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"

namespace weft::executor_internal {

// TaskLocalKey: the type-erased part of a `TaskLocal<T>` (its identity is its
// address).
struct TaskLocalKey {
  bool inherit;
  void* (*clone)(const void* value);  // a heap copy, for inheritance
  void (*destroy)(void* copy);        // frees such a copy
};

// One binding on the per-thread stack.
struct LocalBinding {
  const TaskLocalKey* key;
  void* value;
  LocalBinding* prev;
};

inline constinit thread_local LocalBinding* tl_bindings = nullptr;

// The innermost value bound to `key`, or nullptr.
inline void* find_binding(const TaskLocalKey* key) noexcept {
  for (LocalBinding* b = tl_bindings; b != nullptr; b = b->prev) {
    if (b->key == key) return b->value;
  }
  return nullptr;
}

// Saves the stack and installs `top`; restores at scope exit.
class BindingScope {
 public:
  explicit BindingScope(LocalBinding* top) noexcept : saved_(tl_bindings) { tl_bindings = top; }
  BindingScope(const BindingScope&) = delete;
  BindingScope& operator=(const BindingScope&) = delete;
  ~BindingScope() { tl_bindings = saved_; }
  LocalBinding* saved() const noexcept { return saved_; }

 private:
  LocalBinding* saved_;
};

// InheritedLocals: copies of the inheritable bindings visible at a spawn,
// innermost first (so shadowing is preserved).
class InheritedLocals {
 public:
  InheritedLocals() = default;
  InheritedLocals(const InheritedLocals&) = delete;
  InheritedLocals& operator=(const InheritedLocals&) = delete;
  ~InheritedLocals() {
    for (LocalBinding& b : bindings_) b.key->destroy(b.value);
  }

  void add(const TaskLocalKey* key, const void* value) {
    bindings_.push_back(LocalBinding{key, key->clone(value), nullptr});
  }
  bool empty() const noexcept { return bindings_.empty(); }

  // Links the copies on top of `below` and returns the new top.
  LocalBinding* link(LocalBinding* below) noexcept {
    for (std::size_t i = bindings_.size(); i-- > 0;) {
      bindings_[i].prev = below;
      below = &bindings_[i];
    }
    return below;
  }

 private:
  std::vector<LocalBinding> bindings_;
};

// Copies the inheritable bindings visible now (innermost binding of each key
// only); nullptr when there are none (the common case: one TLS load).
inline std::unique_ptr<InheritedLocals> capture_inherited_locals() {
  LocalBinding* top = tl_bindings;
  if (top == nullptr) return nullptr;
  std::unique_ptr<InheritedLocals> out;
  for (LocalBinding* b = top; b != nullptr; b = b->prev) {
    if (!b->key->inherit) continue;
    bool shadowed = false;
    for (LocalBinding* c = top; c != b; c = c->prev) {
      if (c->key == b->key) {
        shadowed = true;
        break;
      }
    }
    if (shadowed) continue;
    if (!out) out = std::make_unique<InheritedLocals>();
    out->add(b->key, b->value);
  }
  return out;
}

// WithInheritedLocals<F>
//
// The future a spawn actually runs when the child inherits bindings: polls
// `F` with the copies pushed.
template <Future F>
class WithInheritedLocals {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;

  WithInheritedLocals(F f, std::unique_ptr<InheritedLocals> locals)
      : f_(std::move(f)), locals_(std::move(locals)) {}

  Poll<Output> poll(Context& cx) {
    BindingScope scope(nullptr);
    tl_bindings = locals_->link(scope.saved());
    return f_.poll(cx);
  }

 private:
  F f_;
  std::unique_ptr<InheritedLocals> locals_;
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_TASK_LOCALS_H_
