// Stress test for BlockingPool: several threads spawn blocking calls at once
// while idle threads time out and exit (a tiny keep-alive) and new ones
// start; some calls are aborted while queued or running; a shutdown races
// with spawns. Every handle must resolve, every call run at most once.
// Bounded in count and time; run under --config=tsan and --config=asan.
#include "executor/spawn_blocking.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/block_on.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;

TEST(SpawnBlockingStressTest, ConcurrentSpawnsWithThreadsComingAndGoing) {
  BlockingPoolOptions o;
  o.max_threads = 4;
  o.keep_alive = 200us;  // threads exit and restart all the time
  BlockingPool pool(o);
  constexpr int kSpawners = 3;
  constexpr int kEach = 3000;
  std::atomic<int> ran{0};
  std::atomic<int> ok{0};
  std::atomic<int> cancelled{0};
  std::vector<std::thread> spawners;
  for (int s = 0; s < kSpawners; ++s) {
    spawners.emplace_back([&, s] {
      std::mt19937 rng(s);
      std::vector<JoinHandle<int>> hs;
      for (int i = 0; i < kEach; ++i) {
        hs.push_back(pool.spawn_blocking([&ran, i] {
          ran.fetch_add(1);
          return i;
        }));
        if (rng() % 7 == 0) hs.back().abort();
        if (rng() % 50 == 0) std::this_thread::sleep_for(300us);  // let threads time out
        if (hs.size() == 64) {
          for (auto& h : hs) {
            JoinResult<int> r = block_on(std::move(h));
            (r.is_ok() ? ok : cancelled).fetch_add(1);
          }
          hs.clear();
        }
      }
      for (auto& h : hs) {
        JoinResult<int> r = block_on(std::move(h));
        (r.is_ok() ? ok : cancelled).fetch_add(1);
      }
    });
  }
  for (auto& t : spawners) t.join();
  EXPECT_EQ(ok.load() + cancelled.load(), kSpawners * kEach);
  EXPECT_EQ(ran.load(), ok.load());  // an aborted call never ran; a finished one ran once
  const BlockingPoolCounters c = pool.counters();
  EXPECT_LE(c.threads, 4u);
  std::printf("blocking: spawned=%llu ran=%llu threads_started=%llu cancelled=%d\n",
              static_cast<unsigned long long>(c.spawned), static_cast<unsigned long long>(c.ran),
              static_cast<unsigned long long>(c.threads_started), cancelled.load());
}

TEST(SpawnBlockingStressTest, ShutdownRacesWithSpawns) {
  for (int round = 0; round < 30; ++round) {
    std::atomic<int> ran{0};
    std::vector<JoinHandle<int>> hs;
    std::mutex hs_mu;
    {
      BlockingPoolOptions o;
      o.max_threads = 3;
      BlockingPool pool(o);
      std::atomic<bool> stop{false};
      std::thread spawner([&] {
        while (!stop.load()) {
          auto h = pool.spawn_blocking([&ran] {
            ran.fetch_add(1);
            std::this_thread::sleep_for(50us);
            return 1;
          });
          std::lock_guard<std::mutex> lock(hs_mu);
          hs.push_back(std::move(h));
          if (hs.size() > 2000) break;
        }
      });
      std::this_thread::sleep_for(std::chrono::microseconds(100 * (round % 10)));
      EXPECT_TRUE(pool.shutdown(10s));
      stop.store(true);
      spawner.join();
    }
    int ok = 0;
    for (auto& h : hs) {
      JoinResult<int> r = block_on(std::move(h));
      ASSERT_TRUE(r.is_ok() || r.is_cancelled());
      ok += r.is_ok() ? 1 : 0;
    }
    EXPECT_EQ(ok, ran.load());
  }
}

}  // namespace
}  // namespace weft
