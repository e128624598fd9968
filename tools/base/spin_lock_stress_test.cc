// Stress test for sync::SpinLock (tools/base/sync.h): threads increment plain
// (non-atomic) counters under the lock; a lost update or a torn pair means
// mutual exclusion failed (and under --config=tsan, a data race is reported).
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "tools/base/sync.h"

namespace weft {
namespace {

TEST(SpinLockStressTest, MutualExclusionAndNoLostUpdates) {
  constexpr int kThreads = 4;  // more threads than the machine's 2 cores: holders get preempted
  constexpr std::int64_t kPerThread = 200000;
  sync::SpinLock lock;
  std::int64_t a = 0;  // guarded by lock
  std::int64_t b = 0;  // guarded by lock; always equal to a outside the lock
  std::int64_t torn = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (std::int64_t i = 0; i < kPerThread; ++i) {
        std::lock_guard<sync::SpinLock> guard(lock);
        if (a != b) torn += 1;
        a += 1;
        if ((i & 63) == 0) std::this_thread::yield();  // hold it across a reschedule now and then
        b += 1;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(a, kThreads * kPerThread);
  EXPECT_EQ(b, kThreads * kPerThread);
  EXPECT_EQ(torn, 0);
}

TEST(SpinLockStressTest, TryLockFailsWhileHeld) {
  sync::SpinLock lock;
  ASSERT_TRUE(lock.try_lock());
  bool other = true;
  std::thread([&] { other = lock.try_lock(); }).join();
  EXPECT_FALSE(other);
  lock.unlock();
  std::thread([&] {
    other = lock.try_lock();
    if (other) lock.unlock();
  }).join();
  EXPECT_TRUE(other);
}

}  // namespace
}  // namespace weft
