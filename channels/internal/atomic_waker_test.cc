#include "channels/internal/atomic_waker.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

using testing::CountingWaker;

TEST(AtomicWakerTest, WakeWakesTheRegisteredWakerOnce) {
  AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  EXPECT_EQ(w.outstanding(), 1);  // a clone is held
  aw.wake();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 0);  // consumed by the wake
  aw.wake();                      // nothing registered: nothing happens
  EXPECT_EQ(w.wakes(), 1);
}

TEST(AtomicWakerTest, WakeWithoutRegistrationIsANoop) {
  AtomicWaker aw;
  aw.wake();
  CountingWaker w;
  aw.register_waker(w.borrowed());
  EXPECT_EQ(w.wakes(), 0);  // an earlier wake is not remembered
}

TEST(AtomicWakerTest, ReRegisteringTheSameWakerDoesNotClone) {
  AtomicWaker aw;
  CountingWaker w;
  const Waker mine = w.waker();  // as an executor's task waker: same data and vtable each poll
  aw.register_waker(mine);
  aw.register_waker(mine);
  aw.register_waker(mine);
  EXPECT_EQ(w.clones(), 1);
  EXPECT_EQ(w.outstanding(), 2);  // `mine` and the stored clone
}

TEST(AtomicWakerTest, RegisteringAnotherWakerReplacesAndDropsTheOld) {
  AtomicWaker aw;
  CountingWaker a, b;
  aw.register_waker(a.borrowed());
  aw.register_waker(b.borrowed());
  EXPECT_EQ(a.outstanding(), 0);
  EXPECT_EQ(b.outstanding(), 1);
  aw.wake();
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

TEST(AtomicWakerTest, TakeReturnsTheWakerWithoutWaking) {
  AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  {
    Waker taken = aw.take();
    EXPECT_FALSE(taken.is_noop());
    EXPECT_EQ(w.wakes(), 0);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(aw.take().is_noop());
}

TEST(AtomicWakerTest, DestructorDropsTheWaker) {
  CountingWaker w;
  {
    AtomicWaker aw;
    aw.register_waker(w.borrowed());
  }
  EXPECT_EQ(w.outstanding(), 0);
}

// The no-lost-wake-up guarantee under real concurrency: the waker thread
// publishes a counter then wakes; the consumer registers then checks. Every
// time the consumer decides to wait, a wake must arrive.
TEST(AtomicWakerTest, NoLostWakeupsAcrossThreads) {
  constexpr int kRounds = 20000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  AtomicWaker aw;
  CountingWaker w;
  std::atomic<int> published{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 1; i <= kRounds && !stop.load(); ++i) {
      published.store(i, std::memory_order_release);
      aw.wake();
      if (i % 4 == 0) std::this_thread::yield();  // let the consumer wait sometimes
    }
  });
  int seen = 0;
  while (seen < kRounds && std::chrono::steady_clock::now() < deadline) {
    const int wakes_before = w.wakes();
    aw.register_waker(w.borrowed());
    const int now = published.load(std::memory_order_acquire);
    if (now > seen) {
      seen = now;
      continue;
    }
    // Decided to wait: a wake must come (or already have come).
    while (w.wakes() == wakes_before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    ASSERT_GT(w.wakes(), wakes_before) << "lost wake-up at " << seen;
  }
  stop.store(true);
  producer.join();
  EXPECT_EQ(seen, kRounds);
  (void)aw.take();
  EXPECT_EQ(w.outstanding(), 0);
}

}  // namespace
}  // namespace weft::channels_internal
