// Stress: a tree of CancellationTokens cancelled from one thread while other
// threads await tokens of the tree and create, cancel and drop children
// (run under --config=tsan; tag "stress"). Every wait has a deadline.
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "channels/cancellation_token.h"
#include "channels/internal/deadline_block_on.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::block_on_until;
using channels_internal::DeadlineParker;
using channels_internal::StressClock;

TEST(CancellationTokenStressTest, TreeCancelledWhileOthersAwaitCreateAndDrop) {
  constexpr int kRounds = 300;
  constexpr int kAwaiters = 2;
  const auto deadline = StressClock::now() + std::chrono::seconds(90);
  std::deque<DeadlineParker> parkers(kAwaiters);  // outlive every thread
  int rounds = 0;
  for (int round = 0; round < kRounds && StressClock::now() < deadline; ++round, ++rounds) {
    CancellationToken root;
    std::atomic<int> ready{0};
    std::vector<std::thread> threads;

    // Awaiters: build a random branch, await a random token of it.
    for (int a = 0; a < kAwaiters; ++a) {
      threads.emplace_back([&, a] {
        std::minstd_rand rng(round * 31 + a);
        std::vector<CancellationToken> branch{root.child_token()};
        const int depth = 1 + static_cast<int>(rng() % 5);
        for (int d = 0; d < depth; ++d) branch.push_back(branch.back().child_token());
        // Sometimes a leaf is cancelled on its own (must not touch its parent).
        if (rng() % 4 == 0) {
          branch.back().cancel();
          EXPECT_FALSE(root.is_cancelled() && !branch.front().is_cancelled());
        }
        // Sometimes a middle token is dropped: its children move up.
        if (branch.size() > 2 && rng() % 2 == 0) branch.erase(branch.begin() + 1);
        CancellationToken target = branch[rng() % branch.size()];
        auto f = target.cancelled();
        ready.fetch_add(1, std::memory_order_acq_rel);
        if (!block_on_until(f, parkers[a], deadline)) {
          ADD_FAILURE() << "awaiter " << a << " was never woken in round " << round;
          return;
        }
        // The target may have been a leaf cancelled on its own: wait for the
        // root too. Its flag is set after its whole subtree's.
        auto r = root.cancelled();
        if (!block_on_until(r, parkers[a], deadline)) {
          ADD_FAILURE() << "awaiter " << a << " never saw the root cancelled in round " << round;
          return;
        }
        for (auto& t : branch) EXPECT_TRUE(t.is_cancelled());
      });
    }

    // Churn: children and grandchildren created, cancelled, guarded, dropped.
    threads.emplace_back([&] {
      std::minstd_rand rng(round * 17 + 5);
      std::vector<CancellationToken> pool;
      std::vector<CancellationToken> orphans;  // their parents were dropped
      ready.fetch_add(1, std::memory_order_acq_rel);
      int ops = 0;
      while (!root.is_cancelled() && ops < 200'000) {
        ops += 1;
        switch (rng() % 6) {
          case 0:
          case 1:
            pool.push_back(pool.empty() || rng() % 2 ? root.child_token()
                                                     : pool[rng() % pool.size()].child_token());
            break;
          case 2:
            if (!pool.empty()) pool.erase(pool.begin() + static_cast<long>(rng() % pool.size()));
            break;
          case 3:
            if (!pool.empty()) {  // a grandchild whose parent dies at once
              CancellationToken parent = pool[rng() % pool.size()].child_token();
              if (orphans.size() < 16) orphans.push_back(parent.child_token());
            }
            break;
          case 4:
            if (!pool.empty() && rng() % 8 == 0) pool[rng() % pool.size()].cancel();
            break;
          case 5: {
            CancellationToken t = root.child_token();
            auto guard = t.drop_guard();
            if (rng() % 2 == 0) (void)std::move(guard).disarm();
            break;
          }
        }
        if (pool.size() > 32) pool.erase(pool.begin(), pool.begin() + 16);
      }
      // The root is cancelled (or the op budget ran out: wait for it).
      while (!root.is_cancelled() && StressClock::now() < deadline) std::this_thread::yield();
      for (auto& t : pool) EXPECT_TRUE(t.is_cancelled());
      for (auto& t : orphans)
        EXPECT_TRUE(t.is_cancelled()) << "a re-parented grandchild missed the cancel";
      EXPECT_TRUE(root.child_token().is_cancelled());
    });

    while (ready.load(std::memory_order_acquire) < kAwaiters + 1 && StressClock::now() < deadline) {
      std::this_thread::yield();
    }
    std::minstd_rand rng(round);
    // Let the others run for a random while (0-500 us) before cancelling.
    const auto cancel_at = StressClock::now() + std::chrono::microseconds(rng() % 500);
    while (StressClock::now() < cancel_at) {
    }
    root.cancel();
    for (auto& t : threads) t.join();
    EXPECT_TRUE(root.is_cancelled());
    EXPECT_EQ(root.child_count(), 0u);  // a cancelled token keeps no children
  }
  EXPECT_GT(rounds, 10);
}

// Many threads cancel overlapping subtrees and drop tokens at the same time.
TEST(CancellationTokenStressTest, ConcurrentCancelsAndDropsOfOneTree) {
  constexpr int kRounds = 500;
  const auto deadline = StressClock::now() + std::chrono::seconds(60);
  for (int round = 0; round < kRounds && StressClock::now() < deadline; ++round) {
    CancellationToken root;
    std::vector<CancellationToken> level1, level2;
    for (int i = 0; i < 4; ++i) level1.push_back(root.child_token());
    for (int i = 0; i < 16; ++i) level2.push_back(level1[i % 4].child_token());
    std::vector<CancellationToken> leaves;
    for (int i = 0; i < 32; ++i) leaves.push_back(level2[i % 16].child_token());
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      while (!go.load()) std::this_thread::yield();
      root.cancel();
    });
    threads.emplace_back([&, l1 = std::move(level1)]() mutable {
      while (!go.load()) std::this_thread::yield();
      l1[1].cancel();
      l1.clear();  // drop the middle level while the root is being cancelled
    });
    threads.emplace_back([&, l2 = std::move(level2)]() mutable {
      while (!go.load()) std::this_thread::yield();
      for (std::size_t i = 0; i < l2.size(); i += 3) l2[i].cancel();
      l2.clear();
    });
    go.store(true);
    for (auto& t : threads) t.join();
    for (auto& t : leaves) EXPECT_TRUE(t.is_cancelled());
    EXPECT_EQ(root.child_count(), 0u);
  }
}

}  // namespace
}  // namespace weft
