#include "channels/mutex.h"

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "executor/local_executor.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(CancelSafe<Mutex<int>::LockFuture>);
static_assert(CancelSafe<Mutex<int>::LockOwnedFuture>);
static_assert(!std::is_copy_constructible_v<MutexGuard<int>>);
static_assert(!std::is_move_constructible_v<Mutex<int>>);

TEST(MutexTest, HeaderExample) {
  weft::Mutex<int> m(1);
  auto held = m.try_lock();
  ASSERT_TRUE(held.is_ok());
  **held += 1;
  EXPECT_TRUE(m.try_lock().is_err());      // locked
  held = weft::Err{weft::TryLockError{}};  // drops the guard: unlocked
  EXPECT_EQ(*m.try_lock().value(), 2);
}

TEST(MutexTest, UncontendedLockIsReadyAtOnceAndStoresNoWaker) {
  Mutex<std::string> m("a");
  CountingWaker w;
  {
    auto f = m.lock();
    auto p = poll_once(f, w);
    ASSERT_TRUE(p.is_ready());
    MutexGuard<std::string> g = std::move(p).value();
    g->append("b");
    EXPECT_EQ(*g, "ab");
    EXPECT_TRUE(m.try_lock().is_err());
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(*m.try_lock().value(), "ab");
}

TEST(MutexTest, LockAndUnlockDoNotAllocate) {
  Mutex<int> m(0);
  CountingWaker w;
  auto held = m.try_lock();
  ASSERT_TRUE(held);
  auto f = m.lock();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(f, w).is_pending());  // queued: the node is inside `f`
  held = Err{TryLockError{}};                  // hands the lock to `f`
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());
  *p.value() += 1;
}

TEST(MutexTest, WaiterIsWokenWhenTheGuardIsDropped) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  ASSERT_TRUE(held);
  CountingWaker w;
  auto f = m.lock();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_TRUE(poll_once(f, w).is_pending());  // re-poll keeps one waker
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_EQ(w.wakes(), 0);
  held = Err{TryLockError{}};
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 0);
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_TRUE(m.try_lock().is_err());
}

TEST(MutexTest, ReleasedLockIsHandedToTheWaiterNotBarged) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  CountingWaker w;
  auto f = m.lock();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  held = Err{TryLockError{}};  // the lock now belongs to `f`, not yet polled
  EXPECT_TRUE(m.try_lock().is_err());
  auto late = m.lock();
  EXPECT_TRUE(poll_once(late).is_pending());  // and a later lock() queues behind
  EXPECT_TRUE(poll_once(f, w).is_ready());
}

TEST(MutexTest, FifoOrderAmongTasks) {
  LocalExecutor ex;
  Mutex<std::vector<int>> m;
  auto held = m.try_lock();
  ASSERT_TRUE(held);
  std::vector<int> order;
  auto worker = [&](int id) -> Task<Unit> {
    for (int round = 0; round < 3; ++round) {
      auto g = co_await m.lock();
      order.push_back(id);
      g->push_back(id);
      co_await yield_now();  // hold across a suspension: the others queue
    }
    co_return;
  };
  // Spawned 0..4; each queues on its first poll in that order.
  for (int i = 0; i < 5; ++i) ex.spawn_detached(worker(i));
  ex.run_until_stalled();
  EXPECT_TRUE(order.empty());
  held = Err{TryLockError{}};
  ex.run_until_stalled();
  // Round robin: an unlocking task re-queues behind everyone already waiting.
  std::vector<int> expected;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) expected.push_back(i);
  }
  EXPECT_EQ(order, expected);
  EXPECT_EQ(m.get_mut(), expected);
}

TEST(MutexTest, DroppingAQueuedLockUnlinksIt) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  CountingWaker wa, wb;
  auto b = m.lock();
  {
    auto a = m.lock();
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(b, wb).is_pending());
    EXPECT_EQ(wa.outstanding(), 1);
  }
  EXPECT_EQ(wa.outstanding(), 0);
  held = Err{TryLockError{}};
  EXPECT_EQ(wa.wakes(), 0);
  EXPECT_EQ(wb.wakes(), 1);  // `b` is next, not stuck behind the dropped `a`
  EXPECT_TRUE(poll_once(b, wb).is_ready());
  EXPECT_EQ(wb.outstanding(), 0);
}

TEST(MutexTest, DroppingAWaiterThatWasHandedTheLockPassesItOn) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  CountingWaker wa, wb;
  auto b = m.lock();
  {
    auto a = m.lock();
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(b, wb).is_pending());
    held = Err{TryLockError{}};  // handed to `a`
    EXPECT_EQ(wa.wakes(), 1);
    EXPECT_EQ(wb.wakes(), 0);
  }  // `a` dropped before it saw the lock
  EXPECT_EQ(wa.outstanding(), 0);
  EXPECT_EQ(wb.wakes(), 1);
  auto p = poll_once(b, wb);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(wb.outstanding(), 0);
}

TEST(MutexTest, DroppingTheLastWaiterAfterHandoffUnlocks) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  CountingWaker w;
  {
    auto a = m.lock();
    EXPECT_TRUE(poll_once(a, w).is_pending());
    held = Err{TryLockError{}};
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(m.try_lock().is_ok());
}

TEST(MutexTest, CancelledTasksLeaveNoWakerAndTheLockStillWorks) {
  LocalExecutor ex;
  Mutex<int> m(0);
  auto held = m.try_lock();
  std::vector<JoinHandle<Unit>> handles;
  auto worker = [&]() -> Task<Unit> {
    auto g = co_await m.lock();
    *g += 1;
    co_return;
  };
  for (int i = 0; i < 4; ++i) handles.push_back(ex.spawn_local(worker()));
  ex.run_until_stalled();
  handles[1].abort();
  handles[2].abort();
  ex.run_until_stalled();
  held = Err{TryLockError{}};
  ex.run_until_stalled();
  EXPECT_EQ(m.get_mut(), 2);
  EXPECT_TRUE(m.try_lock().is_ok());
}

TEST(MutexTest, GetMutAndIntoInner) {
  Mutex<std::string> m("x");
  m.get_mut() += "y";
  EXPECT_EQ(*m.try_lock().value(), "xy");
  std::string s = std::move(m).into_inner();
  EXPECT_EQ(s, "xy");
  Mutex<std::vector<int>> v(std::in_place, 3, 7);
  EXPECT_EQ(v.get_mut().size(), 3u);
}

TEST(MutexTest, OwnedGuardKeepsTheMutexAlive) {
  auto m = std::make_shared<Mutex<int>>(5);
  std::weak_ptr<Mutex<int>> weak = m;
  auto g = Mutex<int>::try_lock_owned(m);
  ASSERT_TRUE(g);
  EXPECT_TRUE(Mutex<int>::try_lock_owned(m).is_err());
  m.reset();
  EXPECT_FALSE(weak.expired());
  **g += 1;
  EXPECT_EQ(*g.value(), 6);
  EXPECT_EQ(g->mutex().get(), weak.lock().get());
  g = Err{TryLockError{}};
  EXPECT_TRUE(weak.expired());
}

TEST(MutexTest, LockOwnedWaitsAndCanBeTheLastReference) {
  auto m = std::make_shared<Mutex<int>>(0);
  std::weak_ptr<Mutex<int>> weak = m;
  auto g = Mutex<int>::try_lock_owned(m);
  ASSERT_TRUE(g);
  CountingWaker w;
  {
    auto f = Mutex<int>::lock_owned(std::move(m));
    EXPECT_TRUE(poll_once(f, w).is_pending());
    g = Err{TryLockError{}};  // handed to `f`, which now holds the only reference
    EXPECT_FALSE(weak.expired());
    EXPECT_EQ(w.wakes(), 1);
  }  // dropped: unlocks, then frees the mutex
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(w.outstanding(), 0);

  auto m2 = std::make_shared<Mutex<int>>(1);
  auto f2 = Mutex<int>::lock_owned(m2);
  auto p = poll_once(f2, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(*p.value(), 1);
  EXPECT_EQ(m2.use_count(), 2);
}

TEST(MutexTest, MappedGuardKeepsTheLockUntilDropped) {
  struct Pair {
    int a = 1;
    std::string b = "b";
  };
  Mutex<Pair> m;
  auto g = m.try_lock();
  ASSERT_TRUE(g);
  auto mb = std::move(g.value()).map([](Pair& p) -> std::string& { return p.b; });
  mb->append("c");
  EXPECT_TRUE(m.try_lock().is_err());
  auto mb2 = std::move(mb).map([](std::string& s) -> char& { return s[0]; });
  *mb2 = 'B';
  EXPECT_TRUE(m.try_lock().is_err());
  { auto gone = std::move(mb2); }
  auto again = m.try_lock();
  ASSERT_TRUE(again);
  EXPECT_EQ(again.value()->b, "Bc");
}

TEST(MutexTest, GuardMoveAssignmentUnlocksTheOldLock) {
  Mutex<int> a(1), b(2);
  auto ga = a.try_lock().value();
  auto gb = b.try_lock().value();
  ga = std::move(gb);  // `a` unlocked, `ga` now holds `b`
  EXPECT_TRUE(a.try_lock().is_ok());
  EXPECT_TRUE(b.try_lock().is_err());
  EXPECT_EQ(*ga, 2);
  EXPECT_EQ(&ga.mutex(), &b);
}

TEST(MutexTest, BlockingLockWaitsForAnotherThread) {
  Mutex<int> m(0);
  auto held = m.try_lock();
  std::atomic<bool> got{false};
  std::thread t([&] {
    auto g = m.blocking_lock();
    *g += 1;
    got.store(true);
  });
  // The thread cannot get the lock while we hold it (no sleep: the lock
  // itself is the synchronisation; we only check it did not get it early).
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_FALSE(got.load());
  **held += 10;
  held = Err{TryLockError{}};
  t.join();
  EXPECT_TRUE(got.load());
  EXPECT_EQ(*m.blocking_lock(), 11);
}

TEST(MutexTest, TasksOnTheLocalExecutorIncrementUnderTheLock) {
  LocalExecutor ex;
  Mutex<long> m(0);
  auto worker = [&](int n) -> Task<Unit> {
    for (int i = 0; i < n; ++i) {
      auto g = co_await m.lock();
      const long v = *g;
      if (i % 3 == 0) co_await yield_now();  // a read-modify-write across a suspension
      *g = v + 1;
    }
    co_return;
  };
  for (int t = 0; t < 8; ++t) ex.spawn_detached(worker(100));
  ex.run_until_stalled();
  EXPECT_EQ(m.get_mut(), 800);
}

}  // namespace
}  // namespace weft
