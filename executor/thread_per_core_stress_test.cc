// Stress test for ThreadPerCore: cores hand work to each other (every hop a
// cross-core spawn and a cross-core JoinHandle wake-up), external threads
// spawn on every core at once, and shutdown races with all of it. Bounded in
// count and time; run under --config=tsan and --config=asan.
#include "executor/thread_per_core.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;

Task<int> relay(ThreadPerCore* cores, int hops) {
  if (hops == 0) co_return 0;
  const std::size_t next = (*cores->current_core() + 1) % cores->num_cores();
  auto h = cores->spawn_on(next, relay(cores, hops - 1));
  JoinResult<int> r = co_await std::move(h);
  co_return r.is_ok() ? 1 + r.value() : -1;  // a child cancelled by shutdown
}

TEST(ThreadPerCoreStressTest, CoresRelayWorkToEachOther) {
  ThreadPerCore cores(2);
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 20; ++i) hs.push_back(cores.spawn_on(i % 2, relay(&cores, 500)));
  for (auto& h : hs) EXPECT_EQ(cores.block_on(std::move(h)).value(), 500);
}

TEST(ThreadPerCoreStressTest, ExternalThreadsSpawnOnEveryCore) {
  ThreadPerCore cores(3);
  std::atomic<std::int64_t> sum{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 3; ++t) {
    ts.emplace_back([&, t] {
      std::vector<JoinHandle<int>> hs;
      for (int i = 0; i < 20000; ++i) {
        hs.push_back(cores.spawn_on((t + i) % 3, ready(1)));
        if (hs.size() == 256) {
          for (auto& h : hs) sum.fetch_add(block_on(std::move(h)).value());
          hs.clear();
        }
      }
      for (auto& h : hs) sum.fetch_add(block_on(std::move(h)).value());
    });
  }
  for (auto& t : ts) t.join();
  EXPECT_EQ(sum.load(), 60000);
  EXPECT_TRUE(cores.shutdown(10s));
}

TEST(ThreadPerCoreStressTest, ShutdownRacesWithCrossCoreTraffic) {
  for (int round = 0; round < 20; ++round) {
    std::vector<JoinHandle<int>> hs;
    {
      ThreadPerCore cores(2);
      for (int i = 0; i < 10; ++i) hs.push_back(cores.spawn_on(i % 2, relay(&cores, 100000)));
      std::this_thread::sleep_for(std::chrono::microseconds(300 * (round % 7)));
    }  // cancels every relay in flight, on both cores
    for (auto& h : hs) EXPECT_TRUE(block_on(std::move(h)).is_cancelled());
  }
}

}  // namespace
}  // namespace weft
