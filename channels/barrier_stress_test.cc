// Stress: threads and ThreadPool tasks meet at a Barrier for many
// generations (exactly one leader each, nobody passes early), and threads
// arrive-and-leave concurrently (un-arrive). Run under --config=tsan.
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <thread>
#include <vector>

#include "channels/barrier.h"
#include "channels/internal/sync_test_util.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::Deadline;

constexpr int kParties = 4;
constexpr int kGenerations = 1000;

// Ends a run early (deadline): every party stops after generation g + 1.
// Called by one party at generation g; no party can be past g + 1 then (the
// barrier keeps them within one generation of each other), and each checks
// the limit before arriving, so all stop at the same generation.
void stop_soon(std::atomic<int>& limit, int g) {
  if (g + 2 < limit.load()) limit.store(g + 2);
}

TEST(BarrierStressTest, ThreadsExactlyOneLeaderPerGeneration) {
  Barrier b(kParties);
  std::vector<std::atomic<int>> leaders(kGenerations);
  std::vector<std::atomic<int>> arrived(kGenerations);
  std::atomic<int> early{0};
  Deadline deadline(std::chrono::seconds(40));
  std::atomic<int> limit{kGenerations};
  std::vector<std::thread> threads;
  for (int t = 0; t < kParties; ++t) {
    threads.emplace_back([&, t] {
      for (int g = 0; g < limit.load(); ++g) {
        if (t == 0 && deadline.passed()) stop_soon(limit, g);
        arrived[g].fetch_add(1);
        BarrierWaitResult r = block_on(b.wait());
        if (arrived[g].load() != kParties) early.fetch_add(1);
        if (r.is_leader()) leaders[g].fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(early.load(), 0);
  for (int g = 0; g < limit.load(); ++g) ASSERT_EQ(leaders[g].load(), 1) << "generation " << g;
}

TEST(BarrierStressTest, PoolTasksExactlyOneLeaderPerGeneration) {
  constexpr int kTasks = 6;  // more tasks than the pool's 2 workers
  Barrier b(kTasks);
  std::vector<std::atomic<int>> leaders(kGenerations);
  std::vector<std::atomic<int>> arrived(kGenerations);
  std::atomic<int> early{0};
  Deadline deadline(std::chrono::seconds(40));
  std::atomic<int> limit{kGenerations};
  ThreadPool pool(2);
  auto task = [&](int id) -> Task<Unit> {
    for (int g = 0; g < limit.load(); ++g) {
      if (id == 0 && deadline.passed()) stop_soon(limit, g);
      arrived[g].fetch_add(1);
      BarrierWaitResult r = co_await b.wait();
      if (arrived[g].load() != kTasks) early.fetch_add(1);
      if (r.is_leader()) leaders[g].fetch_add(1);
    }
  };
  std::vector<JoinHandle<Unit>> hs;
  for (int i = 0; i < kTasks; ++i) hs.push_back(pool.spawn(task(i)));
  for (auto& h : hs) ASSERT_TRUE(block_on(std::move(h)).is_ok());
  EXPECT_EQ(early.load(), 0);
  for (int g = 0; g < limit.load(); ++g) ASSERT_EQ(leaders[g].load(), 1) << "generation " << g;
}

TEST(BarrierStressTest, ConcurrentArriveAndLeaveUnArrives) {
  // Four threads arrive and leave a five-party barrier over and over: at
  // most four are ever inside, so it must never release; afterwards the
  // count is back to zero and five fresh waits release it once.
  Deadline deadline(std::chrono::seconds(20));
  Barrier b(5);
  std::atomic<int> released{0};
  std::deque<testing::CountingWaker> wakers(4);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20000 && !deadline.passed(); ++i) {
        auto f = b.wait();
        if (testing::poll_once(f, wakers[t]).is_ready()) released.fetch_add(1);
        if (i % 7 == 0) std::this_thread::yield();
        if (i % 3 == 0 && testing::poll_once(f, wakers[t]).is_ready()) released.fetch_add(1);
      }  // each `f` dropped while pending: it leaves
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(released.load(), 0);
  for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
  std::vector<std::optional<Barrier::WaitFuture>> waits;
  waits.reserve(5);
  for (int i = 0; i < 4; ++i) {
    waits.emplace_back(b.wait());
    EXPECT_TRUE(testing::poll_once(*waits.back()).is_pending()) << i;
  }
  waits.emplace_back(b.wait());
  EXPECT_TRUE(testing::poll_once(*waits.back()).value().is_leader());
}

}  // namespace
}  // namespace weft
