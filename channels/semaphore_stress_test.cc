// Stress: threads contend for a semaphore with random request sizes and
// random cancellation of queued acquires. Run under --config=tsan.
#include <atomic>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "channels/semaphore.h"
#include "future/block_on.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

TEST(SemaphoreStressTest, PermitsAreNeverOverdrawnOrLost) {
  constexpr std::size_t kPermits = 5;
  constexpr int kThreads = 4;
  constexpr int kIters = 20000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Semaphore sem(kPermits);
  std::atomic<std::size_t> in_use{0};
  std::atomic<bool> overdrawn{false};
  std::atomic<int> acquired{0}, cancelled{0};
  // Test wakers are not reference-counted, so they outlive the threads: a
  // release on one thread may still be waking a cancelled acquire's waker
  // (taken out under the lock, woken after it) when that thread moves on.
  std::deque<testing::CountingWaker> wakers(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      testing::CountingWaker& w = wakers[t];
      std::mt19937 rng(t + 1);
      for (int i = 0; i < kIters && std::chrono::steady_clock::now() < deadline; ++i) {
        const std::size_t n = 1 + rng() % 3;
        if (rng() % 4 == 0) {
          // Poll once (maybe queued), then drop: a cancellation.
          auto f = sem.acquire_many(n);
          auto p = testing::poll_once(f, w.borrowed());
          if (p.is_ready()) {
            ASSERT_TRUE(p.value().is_ok());
            if (in_use.fetch_add(n) + n > kPermits) overdrawn = true;
            in_use.fetch_sub(n);
            acquired.fetch_add(1);
          } else {
            cancelled.fetch_add(1);
          }
          continue;  // `f` dropped here; no waker of `w` may survive it
        }
        auto permit = block_on(sem.acquire_many(n));
        ASSERT_TRUE(permit.is_ok());
        if (in_use.fetch_add(n) + n > kPermits) overdrawn = true;
        std::this_thread::yield();
        in_use.fetch_sub(n);
        acquired.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);  // no waker left behind
  EXPECT_FALSE(overdrawn.load());
  EXPECT_EQ(sem.available_permits(), kPermits);  // nothing lost, nothing leaked
  EXPECT_GT(acquired.load(), 0);
  EXPECT_GT(cancelled.load(), 0);
}

TEST(SemaphoreStressTest, CloseWakesEveryWaiter) {
  for (int round = 0; round < 200; ++round) {
    Semaphore sem(0);
    std::atomic<int> closed_seen{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&] {
        auto r = block_on(sem.acquire());
        if (r.is_err()) closed_seen.fetch_add(1);
      });
    }
    sem.close();  // queued or not yet queued: every acquire fails, none hangs
    for (auto& th : threads) th.join();
    EXPECT_EQ(closed_seen.load(), 3);
  }
}

}  // namespace
}  // namespace weft
