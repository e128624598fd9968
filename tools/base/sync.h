// -----------------------------------------------------------------------------
// File: tools/base/sync.h
// -----------------------------------------------------------------------------
//
// The one place weft takes its atomics, locks and interrupt masking from, so
// that a model checker (loom/Relacy-style) can be dropped in later by
// changing this file only. Rust: tokio's `src/loom/` plus embassy's
// `critical-section` and `blocking_mutex::raw` (the lock policies). Shared
// by `executor` and `channels`, which sit side by side above `future`.
//
//   sync::Atomic<T>                         = std::atomic<T>
//   sync::kRelaxed, kAcquire, kRelease, kAcqRel, kSeqCst   memory orders
//   sync::spin_hint()                       a CPU pause for spin loops
//   sync::thread_fence(o), signal_fence(o)  std::atomic_{thread,signal}_fence
//   hosted only: sync::Mutex, Lock, UniqueLock (std::mutex and its guards),
//                sync::yield_thread(), sync::SpinLock (spin, then yield)
//
//   CriticalSection        RAII interrupt mask (Cortex-M), nothing hosted
//   AtomicPolicy           lock policy: lock-free words, a spin lock
//   CriticalSectionPolicy  lock policy: plain words inside critical sections
//   DefaultLockPolicy      AtomicPolicy where int atomics are lock-free
//
// A lock policy provides
//   ReadyWord   a 32-bit mask: set(bits) from any context, take() -> bits
//   RawLock     lock()/unlock(), constant-initialisable, not movable
// and is what `StaticExecutor<N, Policy>` and the static channels take as a
// type parameter (critical section on a single-core MCU, atomics where the
// core has atomic read-modify-write).
//
// Write `x.fetch_add(1)` rather than `++x` on atomics (stdexec's Relacy
// lesson): a checker's atomic type may not overload the operators.
// Memory orderings are documented in each header that uses these.
// Costs: no allocation; CriticalSection is two instructions each way on
// Cortex-M. Freestanding (the hosted part is compiled only where threads
// exist).
#ifndef WEFT_TOOLS_BASE_SYNC_H_
#define WEFT_TOOLS_BASE_SYNC_H_

#include <atomic>
#include <cstdint>

#if !defined(WEFT_FREESTANDING_CHECK) && (defined(__linux__) || defined(__APPLE__))
#define WEFT_SYNC_HOSTED 1
#include <mutex>
#include <thread>
#else
#define WEFT_SYNC_HOSTED 0
#endif

// WEFT_CORTEX_M: 1 when compiling for an Arm M-profile core (Cortex-M0 ...
// M85), where the critical section and the idle policies use
// `cpsid`/`wfi`/`wfe`.
#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && (__ARM_ARCH_PROFILE == 'M')
#define WEFT_CORTEX_M 1
#else
#define WEFT_CORTEX_M 0
#endif

namespace weft {

namespace sync {

template <class T>
using Atomic = std::atomic<T>;

inline constexpr std::memory_order kRelaxed = std::memory_order_relaxed;
inline constexpr std::memory_order kAcquire = std::memory_order_acquire;
inline constexpr std::memory_order kRelease = std::memory_order_release;
inline constexpr std::memory_order kAcqRel = std::memory_order_acq_rel;
inline constexpr std::memory_order kSeqCst = std::memory_order_seq_cst;

inline void thread_fence(std::memory_order o) noexcept { std::atomic_thread_fence(o); }
inline void signal_fence(std::memory_order o) noexcept { std::atomic_signal_fence(o); }

inline void spin_hint() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__) || (defined(__ARM_ARCH) && __ARM_ARCH >= 7)
  asm volatile("yield" ::: "memory");
#endif
}

#if WEFT_SYNC_HOSTED
using Mutex = std::mutex;
using Lock = std::lock_guard<std::mutex>;
using UniqueLock = std::unique_lock<std::mutex>;
inline void yield_thread() noexcept { std::this_thread::yield(); }

// sync::SpinLock
//
// Test-and-test-and-set, yielding the CPU after 64 spins (a holder preempted
// on a 2-core machine must get to run; a waiter never sleeps in the kernel,
// so neither side makes a futex call). For critical sections of a few
// pointer writes under light contention, where a contended std::mutex costs
// a futex wait/wake pair (the pool's inject queue and owned shards: perf
// showed the mutexes' futex wakes as 8-15% of a two-worker spawn+join).
// Acquire on lock, release on unlock. BasicLockable (std::lock_guard works).
class SpinLock {
 public:
  constexpr SpinLock() noexcept = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;

  void lock() noexcept {
    int spins = 0;
    while (held_.exchange(true, kAcquire)) {
      while (held_.load(kRelaxed)) {
        if (++spins < 64) {
          spin_hint();
        } else {
          std::this_thread::yield();
        }
      }
    }
  }
  bool try_lock() noexcept { return !held_.load(kRelaxed) && !held_.exchange(true, kAcquire); }
  void unlock() noexcept { held_.store(false, kRelease); }

 private:
  Atomic<bool> held_{false};
};
#endif

}  // namespace sync

// CriticalSection
//
// RAII: masks interrupts for its lifetime on Cortex-M (saves PRIMASK, then
// `cpsid i`; the destructor restores PRIMASK, so critical sections nest).
// On hosted builds there are no interrupts to mask and it does nothing: code
// that relies on it there must be single-threaded. Not copyable or movable.
class CriticalSection {
 public:
#if WEFT_CORTEX_M
  CriticalSection() noexcept {
    __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask_) : : "memory");
  }
  ~CriticalSection() { __asm__ volatile("msr primask, %0" : : "r"(primask_) : "memory"); }
#else
  CriticalSection() noexcept {}
  ~CriticalSection() {}
#endif
  CriticalSection(const CriticalSection&) = delete;
  CriticalSection& operator=(const CriticalSection&) = delete;

 private:
#if WEFT_CORTEX_M
  std::uint32_t primask_;
#endif
};

// AtomicPolicy
//
// ReadyWord: a lock-free atomic word, `fetch_or` to set, `exchange(0)` to
// take. RawLock: a test-and-test-and-set spin lock (acquire on lock, release
// on unlock); hold it for a few instructions only. Needs atomic
// read-modify-write (not Cortex-M0).
struct AtomicPolicy {
  class ReadyWord {
   public:
    constexpr ReadyWord() noexcept = default;
    ReadyWord(const ReadyWord&) = delete;
    ReadyWord& operator=(const ReadyWord&) = delete;

    // Any thread: release, so the setter's writes reach whoever takes.
    void set(std::uint32_t bits) noexcept { word_.fetch_or(bits, sync::kRelease); }
    // Owner: all bits, cleared (acquire). A load first saves the RMW when empty.
    std::uint32_t take() noexcept {
      if (word_.load(sync::kRelaxed) == 0) return 0;
      return word_.exchange(0, sync::kAcquire);
    }
    // A hint only (whether to take or to sleep); `take` synchronises.
    std::uint32_t peek() const noexcept { return word_.load(sync::kRelaxed); }

   private:
    sync::Atomic<std::uint32_t> word_{0};
  };

  class RawLock {
   public:
    constexpr RawLock() noexcept = default;
    RawLock(const RawLock&) = delete;
    RawLock& operator=(const RawLock&) = delete;

    void lock() noexcept {
      while (held_.exchange(true, sync::kAcquire)) {
        while (held_.load(sync::kRelaxed)) sync::spin_hint();
      }
    }
    bool try_lock() noexcept { return !held_.load(sync::kRelaxed) && !held_.exchange(true, sync::kAcquire); }
    void unlock() noexcept { held_.store(false, sync::kRelease); }

   private:
    sync::Atomic<bool> held_{false};
  };
};

// CriticalSectionPolicy
//
// ReadyWord: changed inside a `CriticalSection` with plain loads and stores
// (atomic ones, so the compiler neither caches nor tears them; they need no
// RMW instructions). RawLock: `lock()` masks interrupts and remembers the
// previous mask, `unlock()` restores it (so it nests with other critical
// sections but must be unlocked in LIFO order). For single-core chips
// without atomic RMW. On hosted builds: single-threaded use only.
struct CriticalSectionPolicy {
  class ReadyWord {
   public:
    constexpr ReadyWord() noexcept = default;
    ReadyWord(const ReadyWord&) = delete;
    ReadyWord& operator=(const ReadyWord&) = delete;

    void set(std::uint32_t bits) noexcept {
      CriticalSection cs;
      word_.store(word_.load(sync::kRelaxed) | bits, sync::kRelaxed);
    }
    std::uint32_t take() noexcept {
      CriticalSection cs;
      const std::uint32_t bits = word_.load(sync::kRelaxed);
      word_.store(0, sync::kRelaxed);
      return bits;
    }
    std::uint32_t peek() const noexcept { return word_.load(sync::kRelaxed); }

   private:
    sync::Atomic<std::uint32_t> word_{0};
  };

  class RawLock {
   public:
    constexpr RawLock() noexcept = default;
    RawLock(const RawLock&) = delete;
    RawLock& operator=(const RawLock&) = delete;

#if WEFT_CORTEX_M
    void lock() noexcept {
      std::uint32_t primask;
      __asm__ volatile("mrs %0, primask\n\tcpsid i" : "=r"(primask) : : "memory");
      primask_ = primask;
    }
    void unlock() noexcept { __asm__ volatile("msr primask, %0" : : "r"(primask_) : "memory"); }
#else
    void lock() noexcept {}
    void unlock() noexcept {}
#endif
    bool try_lock() noexcept {
      lock();
      return true;
    }

   private:
#if WEFT_CORTEX_M
    std::uint32_t primask_ = 0;
#endif
  };
};

// DefaultLockPolicy: AtomicPolicy where `int` atomics are always lock-free,
// else CriticalSectionPolicy.
#if ATOMIC_INT_LOCK_FREE == 2
using DefaultLockPolicy = AtomicPolicy;
#else
using DefaultLockPolicy = CriticalSectionPolicy;
#endif

// RawLockGuard<L>: RAII for a policy's RawLock.
template <class L>
class RawLockGuard {
 public:
  explicit RawLockGuard(L& l) noexcept : l_(l) { l_.lock(); }
  ~RawLockGuard() { l_.unlock(); }
  RawLockGuard(const RawLockGuard&) = delete;
  RawLockGuard& operator=(const RawLockGuard&) = delete;

 private:
  L& l_;
};

}  // namespace weft

#endif  // WEFT_TOOLS_BASE_SYNC_H_
