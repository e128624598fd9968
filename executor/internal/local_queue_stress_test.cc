// Stress test for LocalQueue: the owner pushes (overflowing into a shared
// sink) and pops while K thieves steal into their own queues and drain them.
// Every item must be taken exactly once. Bounded in count and time; run
// under --config=tsan.
#include "executor/internal/local_queue.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

using Clock = std::chrono::steady_clock;

struct Item {
  std::uint32_t id;
};

// Returns the number of successful steals.
template <std::uint32_t N>
std::uint64_t run_round(int thieves, std::uint32_t items_total, std::uint32_t seed, std::uint32_t start_index) {
  std::vector<Item> items(items_total);
  for (std::uint32_t i = 0; i < items_total; ++i) items[i].id = i;
  auto taken = std::make_unique<std::atomic<std::uint32_t>[]>(items_total);
  for (std::uint32_t i = 0; i < items_total; ++i) taken[i].store(0, std::memory_order_relaxed);
  std::atomic<std::uint64_t> total{0};
  auto take = [&](Item* it) {
    taken[it->id].fetch_add(1, std::memory_order_relaxed);
    total.fetch_add(1, std::memory_order_relaxed);
  };

  LocalQueue<Item*, N> owner_q(start_index);
  std::mutex sink_mu;
  std::vector<Item*> sink;
  std::atomic<bool> done{false};
  std::atomic<std::uint64_t> steals{0};

  std::vector<std::thread> ts;
  for (int k = 0; k < thieves; ++k) {
    ts.emplace_back([&, k] {
      LocalQueue<Item*, N> mine(start_index + 17 * k);
      for (;;) {
        const bool finished = done.load(std::memory_order_acquire);
        Item* got = owner_q.steal_into(mine);
        if (got != nullptr) {
          steals.fetch_add(1, std::memory_order_relaxed);
          take(got);
          while (Item* t = mine.pop()) take(t);
        } else if (finished) {
          break;
        } else {
          std::this_thread::yield();
        }
      }
    });
  }

  std::mt19937 rng(seed);
  auto overflow = [&](Item* const* xs, std::size_t n) {
    std::lock_guard<std::mutex> lock(sink_mu);
    sink.insert(sink.end(), xs, xs + n);
  };
  for (std::uint32_t i = 0; i < items_total; ++i) {
    owner_q.push_back(&items[i], overflow);
    // Pop sometimes: mixes owner pops with concurrent steals.
    if (rng() % 3 == 0) {
      if (Item* t = owner_q.pop()) take(t);
    }
  }
  while (Item* t = owner_q.pop()) take(t);
  done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();
  while (Item* t = owner_q.pop()) take(t);  // a thief may not have taken all
  for (Item* t : sink) take(t);

  EXPECT_EQ(total.load(), items_total);
  std::uint32_t bad = 0;
  for (std::uint32_t i = 0; i < items_total; ++i) {
    if (taken[i].load(std::memory_order_relaxed) != 1) bad += 1;
  }
  EXPECT_EQ(bad, 0u) << "items taken zero or several times";
  EXPECT_TRUE(owner_q.is_empty());
  return steals.load();
}

TEST(LocalQueueStressTest, EveryItemTakenExactlyOnceSmallRing) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::uint64_t steals = 0;
  for (std::uint32_t round = 0; round < 40 && Clock::now() < deadline; ++round) {
    steals += run_round<8>(/*thieves=*/3, /*items_total=*/20000, /*seed=*/round, /*start_index=*/0xFFFFFF00u + round);
  }
  EXPECT_GT(steals, 0u);
}

TEST(LocalQueueStressTest, EveryItemTakenExactlyOnceDefaultRing) {
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::uint64_t steals = 0;
  for (std::uint32_t round = 0; round < 20 && Clock::now() < deadline; ++round) {
    steals += run_round<256>(/*thieves=*/2, /*items_total=*/50000, /*seed=*/1000 + round, /*start_index=*/round * 7919u);
  }
  EXPECT_GT(steals, 0u);
}

}  // namespace
}  // namespace weft::executor_internal
