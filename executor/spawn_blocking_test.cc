#include "executor/spawn_blocking.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;

// A latch the blocking calls wait on.
struct Latch {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void wait() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void release() {
    {
      std::lock_guard<std::mutex> lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(SpawnBlockingTest, HeaderExample) {
  weft::BlockingPool pool;
  weft::JoinHandle<int> h = pool.spawn_blocking([] { return 6 * 7; });
  EXPECT_EQ(weft::block_on(std::move(h)).value(), 42);
}

TEST(SpawnBlockingTest, FreeFunctionUsesTheDefaultPool) {
  auto h = spawn_blocking([] { return std::string("blocking"); });
  EXPECT_EQ(block_on(std::move(h)).value(), "blocking");
  auto v = spawn_blocking([] {});
  static_assert(std::is_same_v<decltype(v), JoinHandle<Unit>>);
  EXPECT_TRUE(block_on(std::move(v)).is_ok());
}

TEST(SpawnBlockingTest, RunsOnAnotherThread) {
  BlockingPool pool;
  const auto me = std::this_thread::get_id();
  auto h = pool.spawn_blocking([me] { return std::this_thread::get_id() != me; });
  EXPECT_TRUE(block_on(std::move(h)).value());
}

TEST(SpawnBlockingTest, GrowsOnDemandUpToTheCap) {
  BlockingPoolOptions o;
  o.max_threads = 3;
  BlockingPool pool(o);
  Latch latch;
  std::atomic<int> running{0};
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 6; ++i) {
    hs.push_back(pool.spawn_blocking([&, i] {
      running.fetch_add(1);
      latch.wait();
      return i;
    }));
  }
  for (int i = 0; i < 1000 && running.load() < 3; ++i) std::this_thread::sleep_for(1ms);
  std::this_thread::sleep_for(10ms);
  EXPECT_EQ(running.load(), 3);  // the cap
  BlockingPoolCounters c = pool.counters();
  EXPECT_EQ(c.threads, 3u);
  EXPECT_EQ(c.queued, 3u);
  latch.release();
  int sum = 0;
  for (auto& h : hs) sum += block_on(std::move(h)).value();
  EXPECT_EQ(sum, 0 + 1 + 2 + 3 + 4 + 5);
  EXPECT_EQ(pool.counters().threads_started, 3u);
}

TEST(SpawnBlockingTest, IdleThreadIsReused) {
  BlockingPool pool;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(block_on(pool.spawn_blocking([i] { return i; })).value(), i);
    // The handle completes just before the thread goes idle: let it get there.
    for (int k = 0; k < 5000 && pool.counters().idle_threads == 0; ++k) std::this_thread::sleep_for(100us);
  }
  // Sequential calls: one thread serves them all.
  EXPECT_EQ(pool.counters().threads_started, 1u);
}

TEST(SpawnBlockingTest, IdleThreadsExitAfterKeepAlive) {
  BlockingPoolOptions o;
  o.keep_alive = 20ms;
  BlockingPool pool(o);
  EXPECT_EQ(block_on(pool.spawn_blocking([] { return 1; })).value(), 1);
  for (int i = 0; i < 2000 && pool.counters().threads != 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(pool.counters().threads, 0u);
  // And a new one starts for the next call.
  EXPECT_EQ(block_on(pool.spawn_blocking([] { return 2; })).value(), 2);
  EXPECT_EQ(pool.counters().threads_started, 2u);
}

#if defined(__cpp_exceptions)
TEST(SpawnBlockingTest, ExceptionBecomesErrorAndThreadSurvives) {
  BlockingPool pool;
  auto h = pool.spawn_blocking([]() -> int { throw std::runtime_error("disk on fire"); });
  JoinResult<int> r = block_on(std::move(h));
  ASSERT_TRUE(r.is_exception());
  EXPECT_THROW(std::rethrow_exception(r.exception()), std::runtime_error);
  for (int k = 0; k < 5000 && pool.counters().idle_threads == 0; ++k) std::this_thread::sleep_for(100us);
  EXPECT_EQ(pool.counters().idle_threads, 1u);  // the thread survived
  EXPECT_EQ(block_on(pool.spawn_blocking([] { return 3; })).value(), 3);
  EXPECT_EQ(pool.counters().threads_started, 1u);
}
#endif

TEST(SpawnBlockingTest, AbortBeforeStartCancels) {
  BlockingPoolOptions o;
  o.max_threads = 1;
  BlockingPool pool(o);
  Latch latch;
  auto busy = pool.spawn_blocking([&] { latch.wait(); });
  std::atomic<bool> ran{false};
  auto queued = pool.spawn_blocking([&] { ran = true; });
  queued.abort();
  latch.release();
  EXPECT_TRUE(block_on(std::move(queued)).is_cancelled());
  EXPECT_TRUE(block_on(std::move(busy)).is_ok());
  EXPECT_FALSE(ran.load());
}

TEST(SpawnBlockingTest, ShutdownCancelsQueuedAndWaitsForRunning) {
  BlockingPoolOptions o;
  o.max_threads = 1;
  BlockingPool pool(o);
  Latch latch;
  std::atomic<bool> started{false};
  auto running = pool.spawn_blocking([&] {
    started = true;
    latch.wait();
    return 1;
  });
  auto queued = pool.spawn_blocking([] { return 2; });
  while (!started.load()) std::this_thread::yield();
  std::thread releaser([&] {
    std::this_thread::sleep_for(20ms);
    latch.release();
  });
  EXPECT_TRUE(pool.shutdown(10s));
  releaser.join();
  EXPECT_EQ(block_on(std::move(running)).value(), 1);  // ran to completion
  EXPECT_TRUE(block_on(std::move(queued)).is_cancelled());
  EXPECT_TRUE(block_on(pool.spawn_blocking([] { return 3; })).is_cancelled());  // refused
}

TEST(SpawnBlockingTest, ShutdownTimeoutDetachesStuckThreads) {
  auto latch = std::make_shared<Latch>();
  JoinHandle<Unit> h;
  {
    BlockingPool pool;
    auto started = std::make_shared<std::atomic<bool>>(false);
    h = pool.spawn_blocking([latch, started] {
      started->store(true);
      latch->wait();
    });
    while (!started->load()) std::this_thread::yield();
    EXPECT_FALSE(pool.shutdown(10ms));
  }  // the destructor does not wait again
  EXPECT_FALSE(h.is_finished());
  latch->release();
  EXPECT_TRUE(block_on(std::move(h)).is_ok());  // the detached thread finished it
}

Task<int> awaits_blocking(BlockingPool* pool) {
  int a = (co_await pool->spawn_blocking([] { return 20; })).value();
  int b = (co_await pool->spawn_blocking([] { return 22; })).value();
  co_return a + b;
}

TEST(SpawnBlockingTest, AwaitedFromThreadPoolTasks) {
  BlockingPool blocking;
  ThreadPool pool(2);
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 50; ++i) hs.push_back(pool.spawn(awaits_blocking(&blocking)));
  for (auto& h : hs) EXPECT_EQ(pool.block_on(std::move(h)).value(), 42);
}

TEST(SpawnBlockingTest, DumpListsPendingCalls) {
  BlockingPool pool;
  Latch latch;
  auto h = pool.spawn_blocking([&] { latch.wait(); });
  const std::uint32_t line = __LINE__ - 1;
  std::vector<TaskInfo> d = pool.dump();
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].site.line, line);
  latch.release();
  EXPECT_TRUE(block_on(std::move(h)).is_ok());
}

}  // namespace
}  // namespace weft
