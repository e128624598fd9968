// -----------------------------------------------------------------------------
// File: future/frame_allocator.h
// -----------------------------------------------------------------------------
//
// Where `Task<T, Alloc>` coroutine frames come from. An allocator is a type
// with two static functions (the shape of `iter::HeapFrameAllocator`):
//
//   static void* allocate(std::size_t n) noexcept;      // nullptr on failure
//   static void deallocate(void* p, std::size_t n) noexcept;
//
//   PoolFrameAllocator   hosted: thread-local free lists per 64-byte size
//                        class; a warm pool allocates nothing. The default.
//   HeapFrameAllocator   hosted: the global nothrow operator new, per frame.
//   TaskArena<Bytes, Tag>  freestanding: a static arena; no heap at all.
//   DefaultTaskAllocator `PoolFrameAllocator` in hosted builds; in
//                        freestanding builds (not Linux/macOS, or
//                        `WEFT_FREESTANDING_CHECK`) there is none, and a
//                        `Task` must name its arena.
//
// Rust: the frame of an `async fn` lives wherever its owner puts it; boxed
// tasks come from the global allocator (tokio caches nothing). C++ always
// allocates a coroutine frame (unless the compiler elides it), so weft
// recycles them: Seastar and cppcoro-style frame pools.
//
// Costs:
//   PoolFrameAllocator  allocate/deallocate: a thread-local list push/pop, no
//                       lock, no atomic. Frames up to `kMaxPooledBytes`
//                       (2 KiB) are pooled, in classes of 64 bytes; larger
//                       ones go straight to operator new/delete. Each class
//                       keeps at most `kMaxCachedPerClass` (64) frames and
//                       `kMaxCachedBytesPerClass` (64 KiB); beyond that a
//                       freed frame is returned to operator delete. So a
//                       thread caches at most ~1.5 MiB (only if it once had
//                       64 frames of every size alive at once), and
//                       typically a few KiB. Cached frames are kept while the
//                       thread lives, released at thread exit or by `trim()`.
//   TaskArena           allocate: an exact-size free-list search, then a bump;
//                       deallocate: O(1). Storage is static (.bss).
//
// Contract:
//   - PoolFrameAllocator is thread-safe in the only way it needs to be: each
//     thread has its own lists. A frame freed on another thread than the one
//     that allocated it goes to the freeing thread's list (frames are plain
//     memory; any thread may reuse them).
//   - TaskArena is NOT thread-safe: one arena per thread or core (use a
//     distinct `Tag` for each). A freed frame is reused by the next frame of
//     the same rounded size (typically the same coroutine); the frame on top
//     is popped; the arena resets when every frame is free. Mixed sizes with
//     long-lived frames can fragment it: size it for the peak.
//   - Frames are aligned to `alignof(std::max_align_t)` (16 on x86-64 and
//     AArch64; 8 on Cortex-M), which is what coroutine frames need unless a
//     local is over-aligned (not supported).
//
// Example:
//
//   struct CoreTag;
//   using Arena = weft::TaskArena<8 * 1024, CoreTag>;   // 8 KiB in .bss
//   weft::Task<int, Arena> answer() { co_return 42; }
//   auto t = answer();
//   if (t.allocation_failed()) { /* arena full: report, do not poll */ }
//
#ifndef WEFT_FUTURE_FRAME_ALLOCATOR_H_
#define WEFT_FUTURE_FRAME_ALLOCATOR_H_

#include <cstddef>
#include <cstdint>
#include <new>

// WEFT_TASK_HOSTED: 1 when frames may come from the heap (Linux/macOS and not
// a freestanding check); then `PoolFrameAllocator`, `HeapFrameAllocator` exist
// and `DefaultTaskAllocator` is the pool.
#if !defined(WEFT_FREESTANDING_CHECK) && (defined(__linux__) || defined(__APPLE__))
#define WEFT_TASK_HOSTED 1
#else
#define WEFT_TASK_HOSTED 0
#endif

namespace weft {

// TaskArena<Bytes, Tag>
//
// A static arena of `Bytes` bytes for coroutine frames. `allocate` returns
// nullptr when it is full (the `Task` then reports `allocation_failed()`).
// Constant-initialised, not thread-safe (see the header comment).
template <std::size_t Bytes, class Tag = void>
class TaskArena {
 public:
  static void* allocate(std::size_t n) noexcept {
    n = round_up(n);
    // 1. A freed frame of the same size.
    for (FreeBlock** link = &free_; *link != nullptr; link = &(*link)->next) {
      FreeBlock* b = *link;
      if (b->size == n) {
        *link = b->next;
        live_ += 1;
        return b;
      }
    }
    // 2. Fresh space at the top.
    if (n > Bytes - top_) return nullptr;
    void* p = storage_ + top_;
    top_ += n;
    live_ += 1;
    return p;
  }

  static void deallocate(void* p, std::size_t n) noexcept {
    n = round_up(n);
    live_ -= 1;
    if (live_ == 0) {  // everything is free: start over
      top_ = 0;
      free_ = nullptr;
      return;
    }
    auto* b = static_cast<unsigned char*>(p);
    if (b + n == storage_ + top_) {  // the frame on top: pop it
      top_ -= n;
      return;
    }
    free_ = ::new (p) FreeBlock{free_, n};
  }

  // Bytes below the top (live frames plus freed frames awaiting reuse).
  static std::size_t used() noexcept { return top_; }
  // Frames allocated and not yet freed.
  static std::size_t live() noexcept { return live_; }
  static constexpr std::size_t capacity() noexcept { return Bytes; }

 private:
  static constexpr std::size_t kAlign = alignof(std::max_align_t);
  struct FreeBlock {
    FreeBlock* next;
    std::size_t size;
  };
  static_assert(sizeof(FreeBlock) <= kAlign, "TaskArena: a free block must fit the smallest frame");
  static constexpr std::size_t round_up(std::size_t n) noexcept {
    return (n == 0 ? kAlign : (n + kAlign - 1) / kAlign * kAlign);
  }

  alignas(kAlign) static inline unsigned char storage_[Bytes] = {};
  static inline std::size_t top_ = 0;
  static inline std::size_t live_ = 0;
  static inline FreeBlock* free_ = nullptr;
};

#if WEFT_TASK_HOSTED

// HeapFrameAllocator
//
// One nothrow `operator new` per frame (the reference the pool is measured
// against; also right for frames handed to another thread for good).
struct HeapFrameAllocator {
  static void* allocate(std::size_t n) noexcept { return ::operator new(n, std::nothrow); }
  static void deallocate(void* p, std::size_t) noexcept { ::operator delete(p); }
};

// PoolFrameAllocator
//
// Thread-local free lists per 64-byte size class (see the header comment for
// bounds). `cached()` and `trim()` observe and release this thread's cache.
class PoolFrameAllocator {
 public:
  static constexpr std::size_t kClassBytes = 64;
  static constexpr std::size_t kMaxPooledBytes = 2048;
  static constexpr std::size_t kClasses = kMaxPooledBytes / kClassBytes;
  static constexpr std::size_t kMaxCachedPerClass = 64;
  static constexpr std::size_t kMaxCachedBytesPerClass = 64 * 1024;

  // Both are inlined into their callers (a warm pool: a few instructions, no
  // call); first use, a full class and oversize frames go out of line.
  [[gnu::always_inline]] static void* allocate(std::size_t n) noexcept {
    if (n - 1 < kMaxPooledBytes) {  // 1..kMaxPooledBytes (n == 0 wraps)
      const std::size_t c = class_of(n);
      State& s = state_;
      if (Node* node = s.head[c]) {
        s.head[c] = node->next;
        s.count[c] -= 1;
        return node;
      }
    }
    return allocate_slow(n);
  }

  [[gnu::always_inline]] static void deallocate(void* p, std::size_t n) noexcept {
    if (n - 1 < kMaxPooledBytes) {
      const std::size_t c = class_of(n);
      State& s = state_;
      // `armed` is false before the thread's first cached frame and after
      // its exit reaper ran; both go the slow way.
      if (s.armed && s.count[c] < kCapTable.v[c]) {
        s.head[c] = ::new (p) Node{s.head[c]};
        s.count[c] += 1;
        return;
      }
    }
    deallocate_slow(p, n);
  }

  // Frames cached by this thread (all classes).
  static std::size_t cached() noexcept {
    std::size_t total = 0;
    for (std::size_t c = 0; c < kClasses; ++c) total += state_.count[c];
    return total;
  }
  // Frames cached by this thread for frames of `n` bytes.
  static std::size_t cached_for(std::size_t n) noexcept {
    return (n == 0 || n > kMaxPooledBytes) ? 0 : state_.count[class_of(n)];
  }
  // Returns this thread's cached frames to operator delete.
  static void trim() noexcept {
    State& s = state_;
    for (std::size_t c = 0; c < kClasses; ++c) {
      while (Node* node = s.head[c]) {
        s.head[c] = node->next;
        ::operator delete(node);
      }
      s.count[c] = 0;
    }
  }

  // The most frames class `c` keeps.
  static constexpr std::size_t cap(std::size_t c) noexcept { return kCapTable.v[c]; }

 private:
  struct Node {
    Node* next;
  };
  // Trivially destructible and constant-initialised: no TLS guard on the
  // fast path. `armed` is set once the reaper (below) is registered.
  struct State {
    Node* head[kClasses];
    std::uint16_t count[kClasses];
    bool armed;
    bool dead;  // the thread is exiting: no more caching
  };
  // Its destructor runs at thread exit and releases the thread's frames.
  struct Reaper {
    bool armed;  // zero-initialised (thread storage)
    ~Reaper() {
      trim();
      state_.dead = true;
      state_.armed = false;  // every later free takes the slow path (and sees `dead`)
    }
  };

  static constexpr std::size_t class_of(std::size_t n) noexcept { return (n - 1) / kClassBytes; }
  static constexpr std::size_t class_bytes(std::size_t c) noexcept { return (c + 1) * kClassBytes; }
  // The per-class bound, as a table: computing it per free was a 64-bit
  // division on every deallocate (tens of cycles on this machine's EPYC).
  struct CapTable {
    std::uint16_t v[kClasses];
  };
  static constexpr CapTable kCapTable = [] {
    CapTable t{};
    for (std::size_t c = 0; c < kClasses; ++c) {
      const std::size_t by_bytes = kMaxCachedBytesPerClass / ((c + 1) * kClassBytes);
      t.v[c] = static_cast<std::uint16_t>(by_bytes < kMaxCachedPerClass ? by_bytes
                                                                          : kMaxCachedPerClass);
    }
    return t;
  }();

  [[gnu::noinline]] static void* allocate_slow(std::size_t n) noexcept {
    if (n == 0 || n > kMaxPooledBytes) return ::operator new(n, std::nothrow);
    return ::operator new(class_bytes(class_of(n)), std::nothrow);
  }
  [[gnu::noinline]] static void deallocate_slow(void* p, std::size_t n) noexcept {
    if (n == 0 || n > kMaxPooledBytes) {
      ::operator delete(p);
      return;
    }
    const std::size_t c = class_of(n);
    State& s = state_;
    if (s.dead || s.count[c] >= kCapTable.v[c]) {
      ::operator delete(p);
      return;
    }
    arm();  // the thread's first cached frame
    s.head[c] = ::new (p) Node{s.head[c]};
    s.count[c] += 1;
  }
  static void arm() noexcept {
    reaper_.armed = true;  // an odr-use: registers `reaper_`'s destructor for this thread
    state_.armed = true;
  }

  static inline constinit thread_local State state_{};
  static inline thread_local Reaper reaper_;
};

// DefaultTaskAllocator: the frame pool.
using DefaultTaskAllocator = PoolFrameAllocator;

#else  // !WEFT_TASK_HOSTED

// DefaultTaskAllocator: none without a heap. Naming it as a coroutine's
// allocator fails to compile with this message.
struct DefaultTaskAllocator {
  template <class N>
  static void* allocate(N) noexcept {
    static_assert(sizeof(N) == 0,
                  "Task: freestanding builds have no default frame allocator; name one, e.g. "
                  "Task<T, TaskArena<Bytes, Tag>>");
    return nullptr;
  }
  template <class N>
  static void deallocate(void*, N) noexcept {}
};

#endif  // WEFT_TASK_HOSTED

}  // namespace weft

#endif  // WEFT_FUTURE_FRAME_ALLOCATOR_H_
