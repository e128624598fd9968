// -----------------------------------------------------------------------------
// File: executor/internal/sync.h
// -----------------------------------------------------------------------------
//
// The one place `executor/` takes its atomics (and, hosted, its locks) from,
// so that a model checker (loom/Relacy-style) can be dropped in later by
// changing this file only. Rust: tokio's `src/loom/`. Shared by every
// executor; both spellings work:
//
//   executor_internal::Atomic<T>         = std::atomic<T>
//   executor_internal::sync::Atomic<T>   (the same)
//   sync::kRelaxed, kAcquire, kRelease, kAcqRel, kSeqCst   memory orders
//   spin_hint()      a CPU pause for spin loops
//   hosted only:     Mutex, Lock, UniqueLock (std::mutex and its guards),
//                    yield_thread() (std::this_thread::yield)
//
// Write `x.fetch_add(1)` rather than `++x` on atomics (stdexec's Relacy
// lesson): a checker's atomic type may not overload the operators.
// Memory orderings are documented in each header that uses these.
// Freestanding (the hosted part is compiled only where threads exist).
#ifndef WEFT_EXECUTOR_INTERNAL_SYNC_H_
#define WEFT_EXECUTOR_INTERNAL_SYNC_H_

#include <atomic>

#if !defined(WEFT_FREESTANDING_CHECK) && (defined(__linux__) || defined(__APPLE__))
#define WEFT_EXECUTOR_SYNC_HOSTED 1
#include <mutex>
#include <thread>
#else
#define WEFT_EXECUTOR_SYNC_HOSTED 0
#endif

namespace weft::executor_internal {

namespace sync {

template <class T>
using Atomic = std::atomic<T>;

inline constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
inline constexpr std::memory_order kAcquire = std::memory_order_acquire;
inline constexpr std::memory_order kRelease = std::memory_order_release;
inline constexpr std::memory_order kAcqRel = std::memory_order_acq_rel;
inline constexpr std::memory_order kSeqCst = std::memory_order_seq_cst;

inline void spin_hint() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  asm volatile("yield" ::: "memory");
#endif
}

#if WEFT_EXECUTOR_SYNC_HOSTED
using Mutex = std::mutex;
using Lock = std::lock_guard<std::mutex>;
using UniqueLock = std::unique_lock<std::mutex>;
inline void yield_thread() noexcept { std::this_thread::yield(); }
#endif

}  // namespace sync

using sync::Atomic;
using sync::spin_hint;
#if WEFT_EXECUTOR_SYNC_HOSTED
using sync::Lock;
using sync::Mutex;
using sync::UniqueLock;
using sync::yield_thread;
#endif

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_SYNC_H_
