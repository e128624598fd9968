// -----------------------------------------------------------------------------
// File: channels/internal/waker_batch.h
// -----------------------------------------------------------------------------
//
// `WakerBatch`: a fixed array of wakers collected under a primitive's lock
// and woken after the lock is released (a waker may run arbitrary executor
// code, so no weft primitive wakes while it holds its lock). A primitive that
// wakes "everyone" takes waiters in batches of `kWakerBatch`: fill the batch
// under the lock, unlock, `wake_all()`, lock again, repeat.
// Rust: tokio's `util::WakeList` (32 wakers on the stack).
//
//   WakerBatch batch;
//   { sync::Lock l(mu); while (!batch.full() && (w = list.pop_front())) batch.push(take(w)); }
//   batch.wake_all();
//
// Costs: 32 Wakers (512 bytes) on the caller's stack; no allocation.
// Not thread-safe (a local of the waking thread). Freestanding.
#ifndef WEFT_CHANNELS_INTERNAL_WAKER_BATCH_H_
#define WEFT_CHANNELS_INTERNAL_WAKER_BATCH_H_

#include <cstddef>
#include <utility>

#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft::channels_internal {

inline constexpr std::size_t kWakerBatch = 32;

class WakerBatch {
 public:
  WakerBatch() = default;
  WakerBatch(const WakerBatch&) = delete;
  WakerBatch& operator=(const WakerBatch&) = delete;
  // Wakes whatever is left (a batch is never silently dropped).
  ~WakerBatch() { wake_all(); }

  bool full() const noexcept { return n_ == kWakerBatch; }
  bool empty() const noexcept { return n_ == 0; }
  std::size_t size() const noexcept { return n_; }

  // Adds `w` (must not be full). Noop wakers are not stored.
  void push(Waker&& w) noexcept {
    WEFT_ASSERT(!full(), "WakerBatch::push on a full batch");
    if (w.is_noop()) return;
    wakers_[n_] = std::move(w);
    n_ += 1;
  }

  // Wakes (and releases) every stored waker; call with no lock held.
  void wake_all() {
    for (std::size_t i = 0; i < n_; ++i) std::move(wakers_[i]).wake();
    n_ = 0;
  }

 private:
  Waker wakers_[kWakerBatch];
  std::size_t n_ = 0;
};

}  // namespace weft::channels_internal

#endif  // WEFT_CHANNELS_INTERNAL_WAKER_BATCH_H_
