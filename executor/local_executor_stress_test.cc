// Cross-thread stress of the task core through LocalExecutor: remote wakes,
// aborts racing with completion, JoinHandles dropped or awaited on other
// threads while their tasks complete, wakers outliving the executor. Run under
// --config=tsan. Every loop is bounded in count and in time (kBudget).
#include "executor/local_executor.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/block_on.h"
#include "future/map.h"
#include "future/ready.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

constexpr auto kBudget = std::chrono::seconds(20);

bool out_of_time(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start > kBudget;
}

// A thread-safe counter a future can wait on ("value >= n").
class Counter {
 public:
  void bump() {
    std::vector<Waker> ws;
    {
      std::lock_guard<std::mutex> lock(mu_);
      value_ += 1;
      ws.swap(waiters_);
    }
    for (Waker& w : ws) std::move(w).wake();
  }
  std::uint64_t value() {
    std::lock_guard<std::mutex> lock(mu_);
    return value_;
  }
  auto at_least(std::uint64_t n) {
    return poll_fn([this, n](Context& cx) -> Poll<std::uint64_t> {
      std::lock_guard<std::mutex> lock(mu_);
      if (value_ >= n) return value_;
      waiters_.push_back(cx.waker());
      return Pending{};
    });
  }

 private:
  std::mutex mu_;
  std::uint64_t value_ = 0;
  std::vector<Waker> waiters_;
};

// Ping-pong between the executor's task and another thread: a lost wake-up
// would hang (caught by the test timeout).
TEST(LocalExecutorStressTest, NoLostRemoteWakeups) {
  constexpr std::uint64_t kRounds = 20000;
  const auto start = std::chrono::steady_clock::now();
  LocalExecutor ex;
  Counter ping, pong;
  auto task = ex.spawn_local(poll_fn([&, round = std::uint64_t{1}](Context& cx) mutable -> Poll<Unit> {
    while (round <= kRounds) {
      auto f = ping.at_least(round);
      if (f.poll(cx).is_pending()) return Pending{};
      pong.bump();
      round += 1;
    }
    return Unit{};
  }));
  std::thread other([&] {
    for (std::uint64_t r = 1; r <= kRounds && !out_of_time(start); ++r) {
      ping.bump();
      while (pong.value() < r && !out_of_time(start)) std::this_thread::yield();
    }
  });
  auto r = ex.block_on(std::move(task));
  other.join();
  EXPECT_TRUE(r.is_ok());
  EXPECT_EQ(pong.value(), kRounds);
}

// Several threads wake many tasks at once; every task must see every bump.
TEST(LocalExecutorStressTest, ManyWakersManyTasks) {
  constexpr int kTasks = 64;
  constexpr int kThreads = 3;
  constexpr std::uint64_t kBumpsPerThread = 2000;
  LocalExecutor ex;
  Counter c;
  std::vector<JoinHandle<std::uint64_t>> hs;
  for (int i = 0; i < kTasks; ++i) hs.push_back(ex.spawn_local(c.at_least(kThreads * kBumpsPerThread)));
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t) {
    ts.emplace_back([&] {
      for (std::uint64_t i = 0; i < kBumpsPerThread; ++i) c.bump();
    });
  }
  for (auto& h : hs) EXPECT_EQ(ex.block_on(std::move(h)).value(), kThreads * kBumpsPerThread);
  for (auto& t : ts) t.join();
  EXPECT_EQ(ex.live_tasks(), 0u);
}

// abort() from another thread races with the task completing on the
// executor's thread: the result is the value or "cancelled", never anything
// else, and nothing leaks (ASan) or races (TSan).
TEST(LocalExecutorStressTest, AbortRacesWithCompletion) {
  constexpr int kRounds = 3000;
  const auto start = std::chrono::steady_clock::now();
  LocalExecutor ex;
  std::mt19937 rng(12345);
  int values = 0, cancelled = 0;
  for (int i = 0; i < kRounds && !out_of_time(start); ++i) {
    auto c = std::make_shared<Counter>();
    JoinHandle<int> h = ex.spawn_local(map(c->at_least(1), [i](std::uint64_t) { return i; }));
    ex.run_until_stalled();  // the task waits on the counter
    const bool abort_first = (rng() & 1) != 0;
    std::thread t([ah = h.abort_handle(), c, abort_first] {
      if (abort_first) {
        ah.abort();
        c->bump();
      } else {
        c->bump();
        ah.abort();
      }
    });
    JoinResult<int> r = ex.block_on(std::move(h));
    t.join();
    if (r.is_ok()) {
      EXPECT_EQ(r.value(), i);
      values += 1;
    } else {
      EXPECT_TRUE(r.is_cancelled());
      cancelled += 1;
    }
  }
  EXPECT_EQ(ex.live_tasks(), 0u);
  EXPECT_GT(values + cancelled, 0);
}

// JoinHandles dropped on another thread while their tasks complete (output
// dropped exactly once: checked by ASan), and handles awaited with
// weft::block_on on another thread.
TEST(LocalExecutorStressTest, HandlesDroppedAndAwaitedOnOtherThreads) {
  constexpr int kRounds = 2000;
  const auto start = std::chrono::steady_clock::now();
  LocalExecutor ex;
  for (int i = 0; i < kRounds && !out_of_time(start); ++i) {
    auto c = std::make_shared<Counter>();
    auto payload = std::make_shared<int>(i);
    JoinHandle<std::shared_ptr<int>> dropped =
        ex.spawn_local(map(c->at_least(1), [payload](std::uint64_t) { return payload; }));
    JoinHandle<int> awaited = ex.spawn_local(map(c->at_least(1), [i](std::uint64_t) { return i; }));
    ex.run_until_stalled();
    std::atomic<int> got{-1};
    std::thread t([&, c] {
      c->bump();
      dropped = JoinHandle<std::shared_ptr<int>>();  // races with completion
      got.store(block_on(std::move(awaited)).value());
    });
    while (ex.live_tasks() != 0 && !out_of_time(start)) {
      ex.run_until_stalled();
      std::this_thread::yield();
    }
    t.join();
    EXPECT_EQ(got.load(), i);
    EXPECT_EQ(payload.use_count(), 1);  // the output was dropped
  }
}

// Waker clones woken and dropped on other threads while the executor is being
// destroyed.
TEST(LocalExecutorStressTest, WakersRaceWithExecutorDestruction) {
  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    std::vector<Waker> wakers;
    std::atomic<bool> go{false};
    std::vector<std::thread> ts;
    {
      LocalExecutor ex;
      std::vector<JoinHandle<Unit>> hs;
      for (int i = 0; i < 8; ++i) {
        hs.push_back(ex.spawn_local(poll_fn([&wakers](Context& cx) -> Poll<Unit> {
          wakers.push_back(cx.waker());
          return Pending{};
        })));
      }
      ex.run_until_stalled();
      for (int t = 0; t < 2; ++t) {
        std::vector<Waker> mine(wakers.begin() + t * 4, wakers.begin() + t * 4 + 4);
        ts.emplace_back([mine = std::move(mine), &go]() mutable {
          while (!go.load()) std::this_thread::yield();
          for (Waker& w : mine) w.wake_by_ref();
          for (Waker& w : mine) std::move(w).wake();
        });
      }
      go.store(true);
      // ex is destroyed here, racing with the wakes.
    }
    for (auto& t : ts) t.join();
    wakers.clear();
  }
}

}  // namespace
}  // namespace weft
