// -----------------------------------------------------------------------------
// File: future/waker.h
// -----------------------------------------------------------------------------
//
// `Waker`: the handle a pending future keeps to tell its executor "poll me
// again". A (data pointer, vtable) pair exactly like Rust's `RawWaker`, so an
// executor decides what waking means (set a bit, push a task on a queue,
// unpark a thread) and a static task's waker needs no allocation.
// Rust: `core::task::{Waker, RawWaker, RawWakerVTable}`.
//
//   - copying a Waker calls `vtable->clone`; destroying it calls `drop`;
//   - `std::move(w).wake()` wakes and consumes; `w.wake_by_ref()` keeps it;
//   - `a.will_wake(b)`: same data and vtable (cheap "is it still current?").
//   - a default-constructed (or moved-from) Waker is the noop waker.
//
// Costs: two pointers; every operation is one indirect call through the
// vtable (none for the noop waker's checks). No allocation, no locks here;
// the vtable implementer decides thread-safety.
// Contract: a vtable's functions must be safe to call from any thread the
// executor allows wakers to travel to; `wake` consumes the reference that
// `drop` would have released. Freestanding.
//
// Example:
//
//   struct Flag { bool woken = false; };
//   static const RawWakerVTable kVt = {
//       [](const void* p) { return RawWaker{p, &kVt}; },                       // clone
//       [](const void* p) { static_cast<Flag*>(const_cast<void*>(p))->woken = true; },  // wake
//       [](const void* p) { static_cast<Flag*>(const_cast<void*>(p))->woken = true; },  // by_ref
//       [](const void*) {}};                                                   // drop
//   Flag f;
//   Waker w = Waker::from_raw(RawWaker{&f, &kVt});
//   w.wake_by_ref();  // f.woken == true
//
#ifndef WEFT_FUTURE_WAKER_H_
#define WEFT_FUTURE_WAKER_H_

#include <utility>

namespace weft {

struct RawWakerVTable;

// RawWaker: the untyped pair a Waker wraps.
struct RawWaker {
  const void* data;
  const RawWakerVTable* vtable;
};

// RawWakerVTable: what an executor implements.
struct RawWakerVTable {
  RawWaker (*clone)(const void* data);
  void (*wake)(const void* data);         // wake and release this reference
  void (*wake_by_ref)(const void* data);  // wake, keep the reference
  void (*drop)(const void* data);         // release this reference
};

namespace future_internal {
inline RawWaker noop_clone(const void* p) noexcept;
inline void noop_fn(const void*) noexcept {}
inline constexpr RawWakerVTable kNoopVTable = {&noop_clone, &noop_fn, &noop_fn, &noop_fn};
inline RawWaker noop_clone(const void* p) noexcept { return RawWaker{p, &kNoopVTable}; }
}  // namespace future_internal

// Waker
//
// An owned reference to "something to wake". Copyable (clone) and movable.
class Waker {
 public:
  constexpr Waker() noexcept : raw_{nullptr, &future_internal::kNoopVTable} {}

  // Takes ownership of one reference described by `raw`.
  static constexpr Waker from_raw(RawWaker raw) noexcept { return Waker(raw); }

  Waker(const Waker& o) : raw_(o.raw_.vtable->clone(o.raw_.data)) {}
  constexpr Waker(Waker&& o) noexcept : raw_(o.raw_) { o.raw_ = noop_raw(); }
  // Inline: the common case (the same waker again) is two compares; out of
  // line GCC wrapped it in a call and a prologue.
  [[gnu::always_inline]] Waker& operator=(const Waker& o) {
    if (this != &o && !will_wake(o)) {
      RawWaker fresh = o.raw_.vtable->clone(o.raw_.data);
      drop_raw();
      raw_ = fresh;
    }
    return *this;
  }
  Waker& operator=(Waker&& o) noexcept {
    if (this != &o) {
      drop_raw();
      raw_ = o.raw_;
      o.raw_ = noop_raw();
    }
    return *this;
  }
  // A moved-from (noop) waker is dropped with a compare, not an indirect call.
  constexpr ~Waker() { drop_raw(); }

  // Wakes the task and releases this reference (the Waker becomes noop).
  void wake() && {
    RawWaker r = raw_;
    raw_ = noop_raw();
    r.vtable->wake(r.data);
  }
  // Wakes the task; this Waker stays valid.
  void wake_by_ref() const { raw_.vtable->wake_by_ref(raw_.data); }

  // True if both wake the same task (same data and vtable).
  constexpr bool will_wake(const Waker& o) const noexcept {
    return raw_.data == o.raw_.data && raw_.vtable == o.raw_.vtable;
  }
  constexpr bool is_noop() const noexcept { return raw_.vtable == &future_internal::kNoopVTable; }

  constexpr const void* data() const noexcept { return raw_.data; }
  constexpr const RawWakerVTable* vtable() const noexcept { return raw_.vtable; }

  // Gives up ownership without dropping (the caller now owns `raw`).
  constexpr RawWaker into_raw() && noexcept {
    RawWaker r = raw_;
    raw_ = noop_raw();
    return r;
  }

 private:
  constexpr explicit Waker(RawWaker raw) noexcept : raw_(raw) {}
  static constexpr RawWaker noop_raw() noexcept { return RawWaker{nullptr, &future_internal::kNoopVTable}; }
  constexpr void drop_raw() noexcept {
    if (raw_.vtable != &future_internal::kNoopVTable) raw_.vtable->drop(raw_.data);
  }

  RawWaker raw_;
};

namespace future_internal {
inline constinit const Waker kNoopWaker{};
}  // namespace future_internal

// A waker that does nothing (Rust: `Waker::noop()`).
inline const Waker& noop_waker() noexcept { return future_internal::kNoopWaker; }

// AtomicWaker-free helper for single-threaded futures: keeps the latest
// waker, cloning only when it changed (the common "register" step).
// Rust: the `will_wake` check in every leaf future.
inline void register_waker(Waker& slot, const Waker& current) {
  if (!slot.will_wake(current)) slot = current;
}

}  // namespace weft

#endif  // WEFT_FUTURE_WAKER_H_
