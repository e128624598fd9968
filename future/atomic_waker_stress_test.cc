// Stress tests for AtomicWaker (run under --config=tsan in CI): the
// no-lost-wake-up guarantee with one registering consumer and producers that
// publish then wake (or take and wake), and concurrent waker replacement.
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "future/atomic_waker.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using Clock = std::chrono::steady_clock;

// One producer publishes a counter then wakes; the consumer registers then
// checks. Every time the consumer decides to wait, a wake must arrive.
TEST(AtomicWakerStressTest, NoLostWakeupsOneProducer) {
  constexpr int kRounds = 20000;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  CountingWaker w;  // outlives the producer thread and the AtomicWaker
  AtomicWaker aw;
  std::atomic<int> published{0};
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    for (int i = 1; i <= kRounds && !stop.load(std::memory_order_relaxed); ++i) {
      published.store(i, std::memory_order_release);
      aw.wake();
      if (i % 4 == 0) std::this_thread::yield();  // let the consumer wait sometimes
    }
  });
  int seen = 0;
  int waits = 0;
  while (seen < kRounds && Clock::now() < deadline) {
    const int wakes_before = w.wakes();
    aw.register_waker(w.borrowed());
    const int now = published.load(std::memory_order_acquire);
    if (now > seen) {
      seen = now;
      continue;
    }
    // Decided to wait: a wake must come (or already have come).
    waits += 1;
    while (w.wakes() == wakes_before && Clock::now() < deadline) std::this_thread::yield();
    if (w.wakes() == wakes_before) {
      stop.store(true, std::memory_order_relaxed);
      producer.join();
      FAIL() << "lost wake-up at " << seen;
    }
  }
  stop.store(true, std::memory_order_relaxed);
  producer.join();
  EXPECT_EQ(seen, kRounds);
  (void)aw.take();
  EXPECT_EQ(w.outstanding(), 0);
  RecordProperty("waits", waits);
}

// Three producers each publish (fetch_add) then wake, half via wake() and
// half via take() + wake. The consumer alternates between two wakers, so
// registrations also replace (and drop) a waker while wakes race with them.
TEST(AtomicWakerStressTest, NoLostWakeupsManyProducersReplacingWakers) {
  constexpr int kProducers = 3;
  constexpr int kPerProducer = 8000;
  constexpr int kTotal = kProducers * kPerProducer;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  CountingWaker wakers[2];  // outlive every thread and the AtomicWaker
  AtomicWaker aw;
  std::atomic<int> published{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      for (int i = 0; i < kPerProducer && !stop.load(std::memory_order_relaxed); ++i) {
        published.fetch_add(1, std::memory_order_release);
        if ((i + p) % 2 == 0) {
          aw.wake();
        } else {
          Waker taken = aw.take();
          std::move(taken).wake();
        }
        if (i % 8 == 0) std::this_thread::yield();
      }
    });
  }
  auto finish = [&] {
    stop.store(true, std::memory_order_relaxed);
    for (std::thread& t : producers) t.join();
  };
  int seen = 0;
  int round = 0;
  bool lost = false;
  while (seen < kTotal && Clock::now() < deadline) {
    CountingWaker& w = wakers[(round++ / 3) % 2];  // switch every third registration
    const int wakes_before = w.wakes();
    aw.register_waker(w.borrowed());
    const int now = published.load(std::memory_order_acquire);
    if (now > seen) {
      seen = now;
      continue;
    }
    while (w.wakes() == wakes_before && Clock::now() < deadline) std::this_thread::yield();
    if (w.wakes() == wakes_before) {
      lost = true;
      break;
    }
  }
  finish();
  ASSERT_FALSE(lost) << "lost wake-up at " << seen << " of " << kTotal;
  EXPECT_EQ(seen, kTotal);
  aw.clear_exclusive();  // every thread is joined
  EXPECT_EQ(wakers[0].outstanding(), 0);
  EXPECT_EQ(wakers[1].outstanding(), 0);
}

// Concurrent wakes with nothing to publish: every registered clone is either
// consumed by a wake or dropped by a later registration / the final clear; no
// reference leaks or double drops (tsan checks the `waker_` accesses).
TEST(AtomicWakerStressTest, NoLeakedWakerUnderRacingWakes) {
  constexpr int kRegistrations = 20000;
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  CountingWaker wakers[2];
  AtomicWaker aw;
  std::atomic<bool> stop{false};
  std::thread waker_thread([&] {
    for (int i = 0; i < 4 * kRegistrations && !stop.load(std::memory_order_acquire); ++i) {
      aw.wake();
    }
  });
  int registered = 0;
  for (; registered < kRegistrations && Clock::now() < deadline; ++registered) {
    aw.register_waker(wakers[registered % 2].borrowed());
  }
  stop.store(true, std::memory_order_release);
  waker_thread.join();
  EXPECT_EQ(registered, kRegistrations);
  aw.clear_exclusive();
  EXPECT_EQ(wakers[0].outstanding(), 0);
  EXPECT_EQ(wakers[1].outstanding(), 0);
}

}  // namespace
}  // namespace weft
