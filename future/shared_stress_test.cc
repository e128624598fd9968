// Stress: many threads poll clones of one Shared future while another thread
// completes the inner future. Run under --config=tsan (tag "stress").
#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "future/shared.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

// Ready once `open`; otherwise stores the waker (thread-safe) and is Pending.
struct AtomicGate {
  using Output = int;
  std::atomic<bool>* open;
  std::mutex* mu;
  Waker* stored;
  std::atomic<int>* polls;
  Poll<int> poll(Context& cx) {
    polls->fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(*mu);
    if (open->load(std::memory_order_acquire)) return 99;
    register_waker(*stored, cx.waker());
    return Pending{};
  }
};

TEST(SharedStressTest, ConcurrentClonesAllGetTheOutput) {
  constexpr int kRounds = 50;
  constexpr int kThreads = 4;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    std::atomic<bool> open{false};
    std::mutex mu;
    Waker stored;
    std::atomic<int> polls{0};
    auto s = shared(AtomicGate{&open, &mu, &stored, &polls});
    std::atomic<int> done{0};
    // The wakers outlive the threads: a clone's waker may still be in the
    // hands of a wake_all() running on another thread after that clone has
    // returned Ready (wakers are woken outside the lock).
    std::deque<testing::CountingWaker> wakers(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([clone = s, &done, &w = wakers[t]]() mutable {
        for (int i = 0; i < 1'000'000; ++i) {
          auto p = testing::poll_once(clone, w);
          if (p.is_ready()) {
            EXPECT_EQ(p.value(), 99);
            done.fetch_add(1);
            return;
          }
          std::this_thread::yield();
        }
        ADD_FAILURE() << "a clone never completed";
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    Waker to_wake;
    {
      std::lock_guard<std::mutex> lock(mu);
      open.store(true, std::memory_order_release);
      to_wake = std::move(stored);
    }
    std::move(to_wake).wake();
    for (auto& th : threads) th.join();
    EXPECT_EQ(done.load(), kThreads);
    EXPECT_EQ(testing::poll_once(s).value(), 99);
    // Every clone is gone: no waker of theirs is still held anywhere.
    for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
    EXPECT_EQ(s.strong_count(), 1u);
  }
}

}  // namespace
}  // namespace weft
