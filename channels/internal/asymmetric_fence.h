// -----------------------------------------------------------------------------
// File: channels/internal/asymmetric_fence.h
// -----------------------------------------------------------------------------
//
// An asymmetric store-load fence: `light_fence()` on a hot path costs nothing
// at run time (a compiler barrier), `heavy_fence()` on a rare path makes
// every other thread of the process execute a full memory barrier
// (Linux `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: an IPI to each CPU
// running one of our threads; ~0.2 us measured here). Together they order a
// store before a load on both sides of a Dekker-style handshake without a
// locked instruction on the hot side. Rust: none in std (folly's
// `asymmetric_thread_fence_{light,heavy}`, liburcu's `urcu-memb`).
//
//   hot thread:   x.store(1, relaxed); light_fence(); r1 = y.load(relaxed);
//   rare thread:  y.store(1, relaxed); heavy_fence(); r2 = x.load(relaxed);
//   => not (r1 == 0 && r2 == 0)
//
// Argument: the heavy side's barrier runs on the hot thread at some point of
// its instruction stream. If that point is after the hot store, the store is
// visible once heavy_fence() returns (r2 = 1); if before, the hot load comes
// after a full barrier that follows the rare store (r1 = 1). The compiler
// barrier keeps the hot store and load in program order.
//
// `available()` is false where the kernel (or an emulator: qemu-user) lacks
// the command; callers then must not rely on the light side and take a
// locked instruction instead. Registration happens once per process, on the
// first call to `available()`. Hosted, Linux only (elsewhere: unavailable).
#ifndef WEFT_CHANNELS_INTERNAL_ASYMMETRIC_FENCE_H_
#define WEFT_CHANNELS_INTERNAL_ASYMMETRIC_FENCE_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>

#if defined(__linux__)
#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "tools/base/sync.h"

namespace weft::channels_internal::asymmetric_fence {

namespace detail {
inline bool register_membarrier() noexcept {
#if defined(__linux__) && defined(__NR_membarrier)
  const long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
  if (cmds < 0 || (cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0) return false;
  return syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
#else
  return false;
#endif
}
}  // namespace detail

// Whether heavy_fence() works here (decided once per process).
inline bool available() noexcept {
  static const bool ok = detail::register_membarrier();
  return ok;
}

// The hot side: orders the preceding stores before the following loads
// against a concurrent heavy_fence(). No instruction.
inline void light_fence() noexcept { sync::signal_fence(sync::kSeqCst); }

namespace detail {
inline sync::Atomic<std::uint64_t> heavy_fences{0};  // for heavy_fence_count()
}  // namespace detail

// The rare side. Only after available() returned true. If the kernel
// refuses it (it should not: the process registered), registers again and
// retries; if that fails too the process aborts with a message: callers
// rely on it for correctness (a silent failure would lose wake-ups).
inline void heavy_fence() noexcept {
  detail::heavy_fences.fetch_add(1, sync::kRelaxed);
  sync::thread_fence(sync::kSeqCst);
#if defined(__linux__) && defined(__NR_membarrier)
  if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
    if (!detail::register_membarrier() || syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) != 0) {
      std::fputs("weft: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) failed after it was available\n", stderr);
      std::abort();
    }
  }
#endif
  sync::thread_fence(sync::kSeqCst);
}

// How many heavy fences this process made (tests: a path that should not
// need one). Relaxed.
inline std::uint64_t heavy_fence_count() noexcept { return detail::heavy_fences.load(sync::kRelaxed); }

}  // namespace weft::channels_internal::asymmetric_fence

#endif  // WEFT_CHANNELS_INTERNAL_ASYMMETRIC_FENCE_H_
