// TaskScope / JoinSet with children on a work-stealing ThreadPool: children
// complete (and wake the set) on worker threads while the owner joins; a
// scope is destroyed while its children are being polled on other workers.
// Run under --config=tsan. Bounded in count and in time.
#include "executor/task_scope.h"

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

constexpr auto kBudget = std::chrono::seconds(20);

// Yields `n` times (waking itself), touching `*counter` at every poll, then
// returns `v`. n < 0: forever.
auto yielder(std::atomic<int>* counter, int n, int v) {
  return poll_fn([counter, n, v, polls = 0](Context& cx) mutable -> Poll<int> {
    counter->fetch_add(1, std::memory_order_relaxed);
    if (n >= 0 && polls++ >= n) return v;
    cx.waker().wake_by_ref();
    return Pending{};
  });
}

TEST(TaskScopeStressTest, PoolChildrenJoinedAndCancelledWhileRunning) {
  const auto start = std::chrono::steady_clock::now();
  ThreadPool pool(2);
  for (int round = 0; round < 200 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    std::atomic<int> local{0};  // the parent's local, borrowed by every child
    {
      TaskScope<int, ThreadPool> scope(pool);
      for (int i = 0; i < 16; ++i) scope.spawn(yielder(&local, 3, i));
      for (int i = 0; i < 4; ++i) scope.spawn(yielder(&local, -1, 0));  // never finish
      int sum = 0;
      for (int k = 0; k < 16; ++k) {
        std::optional<JoinResult<int>> r = block_on(scope.join_next());
        ASSERT_TRUE(r.has_value());
        ASSERT_TRUE(r->is_ok());
        sum += r->value();
      }
      EXPECT_EQ(sum, 15 * 16 / 2);
      EXPECT_EQ(scope.len(), 4u);
      // The four endless children are being polled on the workers right now:
      // the destructor cancels them and waits for polls in progress.
    }
    const int after = local.load();
    std::this_thread::yield();
    EXPECT_EQ(local.load(), after) << "a child touched the parent's frame after the scope ended";
  }
}

// Children spawned from outside the workers wait unowned in the inject
// queue until a worker takes them and puts them on its owned list; scopes on
// two outside threads are dropped at once, so their synchronous
// cancellation races with that hand-over (and with the first polls).
TEST(TaskScopeStressTest, OutsideScopesDroppedWhileWorkersTakeTheirChildren) {
  const auto start = std::chrono::steady_clock::now();
  std::atomic<int> polls{0};
  {
    ThreadPool pool(2);
    std::vector<std::thread> ts;
    for (int t = 0; t < 2; ++t) {
      ts.emplace_back([&] {
        for (int round = 0; round < 300 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
          TaskScope<int, ThreadPool> scope(pool);
          for (int i = 0; i < 8; ++i) scope.spawn(yielder(&polls, i % 2 == 0 ? 2 : -1, i));
          if (round % 3 == 0) std::this_thread::yield();  // let workers take some first
        }  // cancels every child still alive, wherever it is
      });
    }
    for (auto& t : ts) t.join();
    for (int i = 0; i < 2000 && pool.live_tasks() != 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    EXPECT_EQ(pool.live_tasks(), 0u);
    EXPECT_TRUE(pool.dump().empty());
  }
  EXPECT_GT(polls.load(), 0);
}

// Spawns from outside racing the pool's shutdown: every handle resolves
// (done or cancelled) and nothing leaks (asan).
TEST(TaskScopeStressTest, OutsideSpawnsRaceShutdown) {
  for (int round = 0; round < 50; ++round) {
    std::atomic<int> polls{0};
    std::vector<JoinHandle<int>> hs;
    std::mutex mu;
    {
      ThreadPool pool(2);
      std::thread spawner([&] {
        for (int i = 0; i < 200; ++i) {
          auto h = pool.spawn(yielder(&polls, i % 4 == 0 ? -1 : 1, 1));
          std::lock_guard<std::mutex> lock(mu);
          hs.push_back(std::move(h));
        }
      });
      std::this_thread::sleep_for(std::chrono::microseconds(50 * (round % 5)));
      pool.shutdown();
      spawner.join();
    }
    for (auto& h : hs) {
      JoinResult<int> r = block_on(std::move(h));
      EXPECT_TRUE(r.is_cancelled() || (r.is_ok() && r.value() == 1));
    }
  }
}

TEST(TaskScopeStressTest, JoinSetAbortAllRacesWithCompletion) {
  const auto start = std::chrono::steady_clock::now();
  ThreadPool pool(2);
  for (int round = 0; round < 200 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    std::atomic<int> touched{0};
    JoinSet<int, ThreadPool> set(pool);
    for (int i = 0; i < 8; ++i) set.spawn(yielder(&touched, i % 3, 1));
    set.abort_all();
    int ok = 0, cancelled = 0;
    while (auto r = block_on(set.join_next())) {
      if (r->is_ok()) ok += 1;
      if (r->is_cancelled()) cancelled += 1;
    }
    EXPECT_EQ(ok + cancelled, 8);
  }
}

TEST(TaskScopeStressTest, DroppingAJoinSetWithRunningChildren) {
  const auto start = std::chrono::steady_clock::now();
  ThreadPool pool(2);
  auto counter = std::make_shared<std::atomic<int>>(0);
  for (int round = 0; round < 200 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    JoinSet<int, ThreadPool> set(pool);
    for (int i = 0; i < 8; ++i) set.spawn(yielder(counter.get(), -1, 0));
    std::this_thread::yield();
  }  // each set aborts its children; the pool cancels them at their next poll
  EXPECT_TRUE(pool.shutdown(std::chrono::seconds(10)));
}

}  // namespace
}  // namespace weft
