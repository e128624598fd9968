#include "channels/internal/mpsc_queue.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "future/testing/no_alloc.h"
#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

using Q = MpscQueue<std::uint64_t>;

// Counts live instances, to prove exactly-once destruction.
struct Counted {
  static inline std::atomic<int> live{0};
  std::uint64_t v = 0;
  explicit Counted(std::uint64_t x) : v(x) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted(const Counted&) = delete;
  ~Counted() { live.fetch_sub(1); }
};

TEST(MpscQueueTest, FifoAcrossManyBlocks) {
  Q q;
  constexpr std::uint64_t kN = 10 * Q::block_size() + 7;
  for (std::uint64_t i = 0; i < kN; ++i) {
    std::uint64_t v = i;
    EXPECT_EQ(q.push(std::move(v)), Q::PushResult::kPushed);
  }
  EXPECT_EQ(q.tail_index(), kN);
  for (std::uint64_t i = 0; i < kN; ++i) {
    std::uint64_t* p = q.peek();
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(*p, i);
    q.pop();
  }
  EXPECT_EQ(q.peek(), nullptr);
  EXPECT_EQ(q.head_index(), kN);
}

TEST(MpscQueueTest, InterleavedPushPopRecyclesBlocks) {
  Q q;
  std::uint64_t next_in = 0, next_out = 0;
  // Warm up: a few blocks allocated, then recycled.
  for (int round = 0; round < 8; ++round) {
    for (int k = 0; k < 40; ++k) {
      std::uint64_t v = next_in++;
      (void)q.push(std::move(v));
    }
    while (std::uint64_t* p = q.peek()) {
      ASSERT_EQ(*p, next_out++);
      q.pop();
    }
  }
  // Steady state: no allocation at all.
  testing::ScopedNoAlloc no_alloc;
  for (int round = 0; round < 1000; ++round) {
    for (int k = 0; k < 40; ++k) {
      std::uint64_t v = next_in++;
      (void)q.push(std::move(v));
    }
    while (std::uint64_t* p = q.peek()) {
      ASSERT_EQ(*p, next_out++);
      q.pop();
    }
  }
  EXPECT_EQ(next_in, next_out);
}

TEST(MpscQueueTest, ParkBitIsReportedToTheNextPushOnly) {
  Q q;
  std::uint64_t v = 1;
  EXPECT_EQ(q.push(std::move(v)), Q::PushResult::kPushed);
  EXPECT_EQ(q.park(), 1u);  // the tail index when parking
  v = 2;
  EXPECT_EQ(q.push(std::move(v)), Q::PushResult::kPushedWake);  // clears the bit
  v = 3;
  EXPECT_EQ(q.push(std::move(v)), Q::PushResult::kPushed);  // one wake per park
  EXPECT_EQ(q.park(), 3u);
  q.unpark();
  v = 4;
  EXPECT_EQ(q.push(std::move(v)), Q::PushResult::kPushed);
  EXPECT_EQ(q.tail_index(), 4u);  // the bit does not disturb the index
}

TEST(MpscQueueTest, CloseRejectsLaterPushesAndKeepsTheValue) {
  Q q;
  std::uint64_t v = 7;
  (void)q.push(std::move(v));
  EXPECT_FALSE(q.is_closed());
  EXPECT_EQ(q.close(), 1u);
  EXPECT_TRUE(q.is_closed());
  EXPECT_EQ(q.close(), 1u);  // idempotent (the index of the close)
  auto c = std::make_unique<std::uint64_t>(9);
  MpscQueue<std::unique_ptr<std::uint64_t>> qp;
  qp.close();
  EXPECT_EQ(qp.push(std::move(c)), MpscQueue<std::unique_ptr<std::uint64_t>>::PushResult::kClosed);
  ASSERT_NE(c, nullptr);  // untouched
  EXPECT_EQ(*c, 9u);
  ASSERT_NE(q.peek(), nullptr);  // what was pushed before the close stays
  EXPECT_EQ(*q.peek(), 7u);
}

TEST(MpscQueueTest, DestructorDestroysEveryQueuedValueOnce) {
  Counted::live.store(0);
  {
    MpscQueue<Counted> q;
    for (int i = 0; i < 100; ++i) (void)q.push(Counted(i));
    for (int i = 0; i < 30; ++i) {
      ASSERT_NE(q.peek(), nullptr);
      q.pop();
    }
    EXPECT_EQ(Counted::live.load(), 70);
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

// Producers on threads, one consumer: nothing lost or duplicated, per
// producer order kept, blocks recycled concurrently. (Runs under tsan via
// the mpsc stress test too.)
TEST(MpscQueueTest, ConcurrentProducersKeepPerProducerOrder) {
  constexpr int kProducers = 3;
  constexpr std::uint64_t kPerProducer = 100000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  Q q;
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p) {
    ts.emplace_back([&q, p] {
      for (std::uint64_t i = 0; i < kPerProducer; ++i) {
        std::uint64_t v = (static_cast<std::uint64_t>(p) << 32) | i;
        (void)q.push(std::move(v));
      }
    });
  }
  std::vector<std::uint64_t> next(kProducers, 0);
  std::uint64_t got = 0;
  while (got < kProducers * kPerProducer && std::chrono::steady_clock::now() < deadline) {
    std::uint64_t* v = q.peek();
    if (v == nullptr) {
      std::this_thread::yield();
      continue;
    }
    const int p = static_cast<int>(*v >> 32);
    const std::uint64_t seq = *v & 0xffffffffu;
    ASSERT_LT(p, kProducers);
    ASSERT_EQ(seq, next[p]) << "producer " << p;
    next[p] += 1;
    q.pop();
    got += 1;
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(got, kProducers * kPerProducer);
  EXPECT_EQ(q.peek(), nullptr);
}

}  // namespace
}  // namespace weft::channels_internal
