// -----------------------------------------------------------------------------
// File: future/box_future.h
// -----------------------------------------------------------------------------
//
// `BoxFuture<T>`: a type-erased, heap-allocated future of `T`, for when the
// concrete type cannot be named or differs between branches (recursion,
// containers of mixed futures, virtual interfaces). Opt-in: everything else
// in weft is a concrete type. Rust: `futures::future::BoxFuture`
// (`Pin<Box<dyn Future<Output = T> + Send>>`).
//
//   BoxFuture<int> f = flag ? box(ready(1)) : box(map(other(), g));
//
// Costs: one allocation (the future itself) at `box()`; each poll is one
// indirect call; `sizeof(BoxFuture<T>)` is two pointers. Hosted only.
// Contract: the boxed future is never moved (it lives on the heap), so a
// `BoxFuture` is `Unpin` and may itself be moved freely. Not cancel-safe
// (weft cannot know what it holds).
// Cancellation: destroying the box destroys the future.
//
// Example:
//
//   std::vector<BoxFuture<int>> fs;
//   fs.push_back(box(ready(1)));
//   fs.push_back(box(map(ready(2), [](int x) { return x * 10; })));
//   EXPECT_EQ(testing::poll_once(fs[1]).value(), 20);
//
#ifndef WEFT_FUTURE_BOX_FUTURE_H_
#define WEFT_FUTURE_BOX_FUTURE_H_

#include <memory>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"

namespace weft {

template <class T>
class [[nodiscard("futures do nothing unless polled")]] BoxFuture {
  struct VTable {
    Poll<T> (*poll)(void* self, Context& cx);
    void (*destroy)(void* self) noexcept;
  };
  template <class F>
  static constexpr VTable kVTable = {
      [](void* self, Context& cx) { return static_cast<F*>(self)->poll(cx); },
      [](void* self) noexcept { delete static_cast<F*>(self); }};

 public:
  using Output = T;
  static constexpr bool kUnpin = true;

  BoxFuture() noexcept = default;
  template <class F>
    requires Future<std::remove_cvref_t<F>> && std::is_same_v<OutputOf<F>, T> &&
             (!std::is_same_v<std::remove_cvref_t<F>, BoxFuture>)
  explicit BoxFuture(F&& f)
      : self_(new std::remove_cvref_t<F>(std::forward<F>(f))), vt_(&kVTable<std::remove_cvref_t<F>>) {}

  BoxFuture(BoxFuture&& o) noexcept : self_(std::exchange(o.self_, nullptr)), vt_(o.vt_) {}
  BoxFuture& operator=(BoxFuture&& o) noexcept {
    if (this != &o) {
      reset();
      self_ = std::exchange(o.self_, nullptr);
      vt_ = o.vt_;
    }
    return *this;
  }
  ~BoxFuture() { reset(); }

  Poll<T> poll(Context& cx) {
    WEFT_HARDENING_ASSERT(self_ != nullptr, "BoxFuture polled while empty (moved-from or default)");
    return vt_->poll(self_, cx);
  }
  explicit operator bool() const noexcept { return self_ != nullptr; }

 private:
  void reset() noexcept {
    if (self_ != nullptr) vt_->destroy(self_);
    self_ = nullptr;
  }
  void* self_ = nullptr;
  const VTable* vt_ = nullptr;
};

// box(f): erases `f`'s type (one allocation).
template <class F>
  requires Future<std::remove_cvref_t<F>>
BoxFuture<OutputOf<F>> box(F&& f) {
  return BoxFuture<OutputOf<F>>(std::forward<F>(f));
}

}  // namespace weft

#endif  // WEFT_FUTURE_BOX_FUTURE_H_
