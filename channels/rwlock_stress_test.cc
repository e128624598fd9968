// Stress: writers keep two fields equal (each write breaks the invariant
// for a while), readers check it; threads (block_on) and ThreadPool tasks,
// downgrades, and random drops of pending read/write futures. Run under
// --config=tsan.
#include <atomic>
#include <chrono>
#include <deque>
#include <random>
#include <thread>
#include <vector>

#include "channels/internal/sync_test_util.h"
#include "channels/rwlock.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::Deadline;
using channels_internal::TryOnce;

struct Pair {
  long a = 0;
  long b = 0;
};

TEST(RwLockStressTest, ReadersNeverSeeAHalfWrite) {
  constexpr int kOpsPerThread = 20000;
  Deadline deadline(std::chrono::seconds(40));
  RwLock<Pair> l;
  std::atomic<long> writes{0}, reads{0}, torn{0}, cancelled{0};
  std::deque<testing::CountingWaker> wakers(4);

  auto write_once = [&](RwLockWriteGuard<Pair>& g) {
    g->a += 1;
    std::this_thread::yield();
    g->b += 1;
  };
  auto check = [&](const Pair& p) {
    if (p.a != p.b) torn.fetch_add(1);
    reads.fetch_add(1);
  };

  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      testing::CountingWaker& w = wakers[t];
      std::mt19937 rng(t + 1);
      const bool writer = t < 2;
      for (int i = 0; i < kOpsPerThread && !deadline.passed(); ++i) {
        const unsigned r = rng() % 16;
        if (r == 0) {  // poll once, maybe drop while queued
          if (writer) {
            auto f = l.write();
            auto p = testing::poll_once(f, w);
            if (p.is_pending()) {
              cancelled.fetch_add(1);
              continue;
            }
            write_once(p.value());
            writes.fetch_add(1);
          } else {
            auto f = l.read();
            auto p = testing::poll_once(f, w);
            if (p.is_pending()) {
              cancelled.fetch_add(1);
              continue;
            }
            check(*p.value());
          }
        } else if (r == 1) {
          if (writer) {
            auto g = l.try_write();
            if (!g) continue;
            write_once(g.value());
            writes.fetch_add(1);
          } else {
            auto g = l.try_read();
            if (g) check(**g);
          }
        } else if (writer) {
          auto g = l.blocking_write();
          write_once(g);
          writes.fetch_add(1);
          if (r == 2) {
            auto rd = std::move(g).downgrade();  // readers may join; no writer
            check(*rd);
          }
        } else {
          auto g = l.blocking_read();
          check(*g);
        }
      }
    });
  }

  ThreadPool pool(2);
  auto task = [&](int s) -> Task<Unit> {
    std::mt19937 rng(100 + s);
    for (int i = 0; i < kOpsPerThread / 2 && !deadline.passed(); ++i) {
      const unsigned r = rng() % 8;
      if (r == 0) {
        auto g = co_await TryOnce(l.write());
        if (!g) {
          cancelled.fetch_add(1);
          continue;
        }
        (*g)->a += 1;
        co_await yield_now();  // suspended mid-write: readers must wait
        (*g)->b += 1;
        writes.fetch_add(1);
      } else if (r == 1) {
        auto g = co_await l.write();
        g->a += 1;
        co_await yield_now();
        g->b += 1;
        writes.fetch_add(1);
        auto rd = std::move(g).downgrade();
        check(*rd);
      } else {
        auto g = co_await l.read();
        check(*g);
        if (r == 2) co_await yield_now();
      }
    }
  };
  std::vector<JoinHandle<Unit>> handles;
  for (int s = 0; s < 2; ++s) handles.push_back(pool.spawn(task(s)));
  for (auto& h : handles) ASSERT_TRUE(block_on(std::move(h)).is_ok());
  for (auto& th : threads) th.join();

  EXPECT_EQ(torn.load(), 0);
  const Pair& p = l.get_mut();
  EXPECT_EQ(p.a, writes.load());
  EXPECT_EQ(p.b, writes.load());
  EXPECT_GT(reads.load(), 0);
  EXPECT_TRUE(l.try_write().is_ok());  // nothing leaked
  for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
  if (!deadline.passed()) {
    EXPECT_GT(cancelled.load(), 0);
  }
}

}  // namespace
}  // namespace weft
