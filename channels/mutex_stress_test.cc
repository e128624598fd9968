// Stress: threads (block_on) and ThreadPool tasks increment a plain counter
// under a Mutex, dropping pending lock futures at random. Run under
// --config=tsan: a missing happens-before on the counter is a report.
#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "channels/internal/sync_test_util.h"
#include "channels/mutex.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::Deadline;
using channels_internal::TryOnce;

constexpr long kIncrementsPerStream = 100000;

TEST(MutexStressTest, CounterIsExactWithThreadsTasksAndCancellations) {
  Deadline deadline(std::chrono::seconds(40));
  Mutex<long> m(0);
  std::atomic<long> done{0};       // increments actually made
  std::atomic<long> cancelled{0};  // lock futures dropped while pending
  // Test wakers are not reference-counted: they outlive the threads (a
  // release on one thread may still be waking a dropped future's waker).
  std::deque<testing::CountingWaker> wakers(2);

  // Two OS threads: block_on(m.lock()), try_lock, and poll-once-then-drop.
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      testing::CountingWaker& w = wakers[t];
      std::mt19937 rng(t + 1);
      long mine = 0;
      while (mine < kIncrementsPerStream && !deadline.passed()) {
        const unsigned r = rng() % 16;
        if (r == 0) {
          auto f = m.lock();
          auto p = testing::poll_once(f, w);
          if (p.is_pending()) {
            cancelled.fetch_add(1);
            continue;  // `f` dropped: unlinked, or its handoff passed on
          }
          *p.value() += 1;
        } else if (r == 1) {
          auto g = m.try_lock();
          if (!g) continue;
          **g += 1;
        } else {
          auto g = m.blocking_lock();
          const long v = *g;
          if (r == 2) std::this_thread::yield();  // hold it a while
          *g = v + 1;
        }
        ++mine;
      }
      done.fetch_add(mine);
    });
  }

  // Two streams of tasks on a 2-worker pool (4 tasks each doing half).
  ThreadPool pool(2);
  // The lambda outlives the tasks (a coroutine lambda's captures live in
  // the lambda object, not in the frame).
  auto stream = [&](int s) -> Task<long> {
      std::mt19937 rng(100 + s);
      long mine = 0;
      while (mine < kIncrementsPerStream / 2 && !deadline.passed()) {
        if (rng() % 16 == 0) {
          auto g = co_await TryOnce(m.lock());  // Pending: dropped (cancelled)
          if (!g) {
            cancelled.fetch_add(1);
            continue;
          }
          **g += 1;
        } else {
          auto g = co_await m.lock();
          *g += 1;
        }
        ++mine;
      }
      co_return mine;
  };
  std::vector<JoinHandle<long>> handles;
  for (int s = 0; s < 4; ++s) handles.push_back(pool.spawn(stream(s)));
  for (auto& h : handles) {
    auto r = block_on(std::move(h));
    ASSERT_TRUE(r.is_ok());
    done.fetch_add(r.value());
  }
  for (auto& th : threads) th.join();

  EXPECT_EQ(m.get_mut(), done.load());  // no lost update, no double count
  EXPECT_TRUE(m.try_lock().is_ok());    // no leaked lock
  for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
  EXPECT_GT(done.load(), 0);
  if (!deadline.passed()) {
    EXPECT_EQ(done.load(), 4 * kIncrementsPerStream);
    EXPECT_GT(cancelled.load(), 0);
  }
}

TEST(MutexStressTest, OwnedGuardsAcrossThreads) {
  Deadline deadline(std::chrono::seconds(20));
  auto m = std::make_shared<Mutex<long>>(0);
  std::atomic<long> done{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&] {
      long mine = 0;
      for (int i = 0; i < 500 && !deadline.passed(); ++i) {
        auto g = block_on(Mutex<long>::lock_owned(m));
        // Hand the guard to another thread, which unlocks it there.
        std::thread([g = std::move(g)]() mutable { *g += 1; }).join();
        ++mine;
      }
      done.fetch_add(mine);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(m->get_mut(), done.load());
}

}  // namespace
}  // namespace weft
