#include "future/frame_allocator.h"

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

#if WEFT_TASK_HOSTED
#include <thread>
#endif

#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

bool aligned(const void* p) {
  return reinterpret_cast<std::uintptr_t>(p) % alignof(std::max_align_t) == 0;
}

// ----------------------------------------------------------------------------
// Header example
// ----------------------------------------------------------------------------

struct CoreTag;
using Arena = weft::TaskArena<8 * 1024, CoreTag>;   // 8 KiB in .bss
weft::Task<int, Arena> answer() { co_return 42; }

TEST(FrameAllocatorTest, HeaderExample) {
  auto t = answer();
  if (t.allocation_failed()) { /* arena full: report, do not poll */ }
  ASSERT_FALSE(t.allocation_failed());
  EXPECT_EQ(testing::poll_once(t).value(), 42);
}

// ----------------------------------------------------------------------------
// TaskArena
// ----------------------------------------------------------------------------

TEST(TaskArenaTest, BumpsAlignsAndResetsWhenEmpty) {
  struct Tag;
  using A = TaskArena<1024, Tag>;
  testing::ScopedNoAlloc no_alloc;
  void* a = A::allocate(40);
  void* b = A::allocate(1);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(aligned(a));
  EXPECT_TRUE(aligned(b));
  EXPECT_EQ(static_cast<char*>(b) - static_cast<char*>(a), 48);  // 40 rounded up to 16
  EXPECT_EQ(A::used(), 64u);
  EXPECT_EQ(A::live(), 2u);
  A::deallocate(a, 40);
  EXPECT_EQ(A::used(), 64u);  // not on top: kept for reuse
  A::deallocate(b, 1);
  EXPECT_EQ(A::used(), 0u);  // every frame free: reset
  EXPECT_EQ(A::live(), 0u);
  EXPECT_EQ(A::capacity(), 1024u);
}

TEST(TaskArenaTest, ReturnsNullWhenFull) {
  struct Tag;
  using A = TaskArena<256, Tag>;
  void* a = A::allocate(200);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(A::allocate(64), nullptr);
  EXPECT_EQ(A::allocate(1024), nullptr);
  EXPECT_EQ(A::live(), 1u);
  void* b = A::allocate(48);  // 208 + 48 = 256: fits exactly
  EXPECT_NE(b, nullptr);
  A::deallocate(b, 48);
  A::deallocate(a, 200);
  EXPECT_EQ(A::used(), 0u);
}

TEST(TaskArenaTest, PopsTheTopFrame) {
  struct Tag;
  using A = TaskArena<1024, Tag>;
  void* a = A::allocate(100);
  void* b = A::allocate(100);
  EXPECT_EQ(A::used(), 224u);
  A::deallocate(b, 100);
  EXPECT_EQ(A::used(), 112u);
  void* c = A::allocate(100);
  EXPECT_EQ(c, b);
  A::deallocate(c, 100);
  A::deallocate(a, 100);
}

TEST(TaskArenaTest, ReusesAFreedFrameOfTheSameSize) {
  struct Tag;
  using A = TaskArena<512, Tag>;
  void* keep = A::allocate(16);
  // Frames of one size come and go out of LIFO order; the arena does not grow.
  void* x = A::allocate(96);
  void* y = A::allocate(96);
  void* z = A::allocate(32);
  A::deallocate(x, 96);
  A::deallocate(y, 96);  // not on top either (z is)
  const std::size_t used = A::used();
  for (int i = 0; i < 100; ++i) {
    void* p = A::allocate(96);
    void* q = A::allocate(96);
    ASSERT_NE(p, nullptr);
    ASSERT_NE(q, nullptr);
    A::deallocate(p, 96);
    A::deallocate(q, 96);
  }
  EXPECT_EQ(A::used(), used);
  // A different size does not take a freed block.
  void* other = A::allocate(64);
  EXPECT_NE(other, x);
  EXPECT_NE(other, y);
  A::deallocate(other, 64);
  A::deallocate(z, 32);
  A::deallocate(keep, 16);
  EXPECT_EQ(A::used(), 0u);
}

// ----------------------------------------------------------------------------
// PoolFrameAllocator (hosted)
// ----------------------------------------------------------------------------

#if WEFT_TASK_HOSTED

TEST(PoolFrameAllocatorTest, IsTheHostedDefault) {
  static_assert(std::is_same_v<DefaultTaskAllocator, PoolFrameAllocator>);
  static_assert(PoolFrameAllocator::cap(0) == 64);
  static_assert(PoolFrameAllocator::cap(PoolFrameAllocator::kClasses - 1) == 32);  // 64 KiB / 2 KiB
}

TEST(PoolFrameAllocatorTest, RecyclesFramesOfTheSameClass) {
  PoolFrameAllocator::trim();
  testing::AllocCounter c;
  void* a = PoolFrameAllocator::allocate(100);  // class 65..128
  ASSERT_NE(a, nullptr);
  EXPECT_TRUE(aligned(a));
  EXPECT_EQ(c.allocations(), 1u);
  PoolFrameAllocator::deallocate(a, 100);
  EXPECT_EQ(PoolFrameAllocator::cached_for(100), 1u);
  EXPECT_EQ(PoolFrameAllocator::cached_for(128), 1u);  // same class
  EXPECT_EQ(PoolFrameAllocator::cached_for(64), 0u);   // another class
  void* b = PoolFrameAllocator::allocate(120);
  EXPECT_EQ(b, a);
  EXPECT_EQ(c.allocations(), 1u);
  void* d = PoolFrameAllocator::allocate(60);  // another class: a new block
  EXPECT_EQ(c.allocations(), 2u);
  PoolFrameAllocator::deallocate(b, 120);
  PoolFrameAllocator::deallocate(d, 60);
  EXPECT_EQ(PoolFrameAllocator::cached(), 2u);
  PoolFrameAllocator::trim();
  EXPECT_EQ(PoolFrameAllocator::cached(), 0u);
}

TEST(PoolFrameAllocatorTest, LargeFramesBypassThePool) {
  PoolFrameAllocator::trim();
  testing::AllocCounter c;
  for (int i = 0; i < 3; ++i) {
    void* p = PoolFrameAllocator::allocate(PoolFrameAllocator::kMaxPooledBytes + 1);
    ASSERT_NE(p, nullptr);
    PoolFrameAllocator::deallocate(p, PoolFrameAllocator::kMaxPooledBytes + 1);
  }
  EXPECT_EQ(c.allocations(), 3u);
  EXPECT_EQ(PoolFrameAllocator::cached(), 0u);
}

TEST(PoolFrameAllocatorTest, EachClassIsBounded) {
  PoolFrameAllocator::trim();
  for (std::size_t n : {std::size_t{64}, PoolFrameAllocator::kMaxPooledBytes}) {
    std::vector<void*> frames;
    for (int i = 0; i < 100; ++i) frames.push_back(PoolFrameAllocator::allocate(n));
    for (void* p : frames) PoolFrameAllocator::deallocate(p, n);
    EXPECT_EQ(PoolFrameAllocator::cached_for(n), n == 64 ? 64u : 32u) << n;
  }
  PoolFrameAllocator::trim();
}

TEST(PoolFrameAllocatorTest, AFrameFreedOnAnotherThreadJoinsThatThreadsList) {
  PoolFrameAllocator::trim();
  void* p = PoolFrameAllocator::allocate(200);
  std::size_t there = 0;
  std::thread t([&] {
    PoolFrameAllocator::deallocate(p, 200);
    there = PoolFrameAllocator::cached_for(200);
    void* again = PoolFrameAllocator::allocate(200);  // reused on that thread
    there += (again == p) ? 10 : 0;
    PoolFrameAllocator::deallocate(again, 200);
    // The thread exits with a cached frame: its reaper frees it (LeakSanitizer
    // would report it otherwise under --config=asan).
  });
  t.join();
  EXPECT_EQ(there, 11u);
  EXPECT_EQ(PoolFrameAllocator::cached_for(200), 0u);
}

// A thread-local destroyed after the thread's reaper frees a frame: the pool
// is gone for that thread, so the frame goes straight back to the heap (a
// cached one would leak: nothing frees the list again).
std::atomic<int> g_cached_after_reaper{-1};
struct FreesAtThreadExit {
  void* p = nullptr;
  ~FreesAtThreadExit() {
    if (p == nullptr) return;
    PoolFrameAllocator::deallocate(p, 200);
    g_cached_after_reaper.store(static_cast<int>(PoolFrameAllocator::cached_for(200)));
  }
};

TEST(PoolFrameAllocatorTest, AFrameFreedAfterTheThreadsReaperGoesToTheHeap) {
  std::thread t([] {
    // Constructed before the reaper (armed by the first cached free below),
    // so destroyed after it.
    static thread_local FreesAtThreadExit late;
    PoolFrameAllocator::deallocate(PoolFrameAllocator::allocate(200), 200);  // arms the reaper
    late.p = PoolFrameAllocator::allocate(200);
  });
  t.join();
  EXPECT_EQ(g_cached_after_reaper.load(), 0);
}

TEST(PoolFrameAllocatorTest, TasksFromManyThreads) {
  struct Local {
    static Task<int> leaf(int v) { co_return v; }
    static Task<int> sum(int n) {
      int s = 0;
      for (int i = 0; i < n; ++i) s += co_await leaf(i);
      co_return s;
    }
  };
  std::vector<std::thread> threads;
  std::vector<int> results(4);
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&results, i] {
      auto t = Local::sum(100);
      results[i] = testing::poll_once(t).value();
    });
  }
  for (auto& t : threads) t.join();
  for (int r : results) EXPECT_EQ(r, 4950);
}

#endif  // WEFT_TASK_HOSTED

}  // namespace
}  // namespace weft
