#include "channels/static_mutex.h"

#include <optional>
#include <type_traits>
#include <utility>

#include "executor/static_executor.h"
#include "future/frame_allocator.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"
#include "tools/base/sync.h"

// ----------------------------------------------------------------------------
// The header example, verbatim (Job is a Task in a static arena).
// ----------------------------------------------------------------------------
namespace header_example {

struct ArenaTag;
using Job = weft::Task<int, weft::TaskArena<2048, ArenaTag>>;
struct Log {
  int ids[8] = {};
  int size = 0;
  constexpr Log() = default;
  void append(int id) {
    if (size < 8) ids[size++] = id;
  }
};

constinit weft::StaticMutex<Log, weft::CriticalSectionPolicy> log;
Job writer(int id) {
  auto g = co_await log.lock();
  g->append(id);
  co_await weft::yield_now();  // others run; `log` stays locked
  g->append(id);
  co_return 0;
}

}  // namespace header_example

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;
using testing::ScopedNoAlloc;

using Mtx = StaticMutex<int, CriticalSectionPolicy>;
static_assert(Future<Mtx::LockFuture>);
static_assert(CancelSafe<Mtx::LockFuture>);
static_assert(std::is_same_v<OutputOf<Mtx::LockFuture>, StaticMutexGuard<int, CriticalSectionPolicy>>);
static_assert(!std::is_copy_constructible_v<Mtx::Guard> && std::is_move_constructible_v<Mtx::Guard>);

constinit StaticMutex<int, AtomicPolicy> g_counter;
constinit StaticMutex<int> g_counter_default{41};

TEST(StaticMutexTest, HeaderExample) {
  using header_example::Job;
  TaskStorage<Job> a, b;
  StaticExecutor<2, CriticalSectionPolicy> ex;
  auto ha = ex.spawn(a, [] { return header_example::writer(1); });
  auto hb = ex.spawn(b, [] { return header_example::writer(2); });
  ASSERT_TRUE(ha && hb);
  ex.run_until_idle();
  ASSERT_TRUE(ha->is_finished() && hb->is_finished());
  EXPECT_FALSE(header_example::log.is_locked());
  auto g = header_example::log.try_lock();
  ASSERT_TRUE(g);
  ASSERT_EQ((*g)->size, 4);
  EXPECT_EQ((*g)->ids[0], 1);  // no interleaving: 1 1 2 2
  EXPECT_EQ((*g)->ids[1], 1);
  EXPECT_EQ((*g)->ids[2], 2);
  EXPECT_EQ((*g)->ids[3], 2);
}

TEST(StaticMutexTest, ConstinitGlobalsWork) {
  {
    auto g = g_counter.try_lock();
    ASSERT_TRUE(g);
    **g += 1;
  }
  auto f = g_counter_default.lock();
  auto g = poll_once(f);
  ASSERT_TRUE(g.is_ready());
  EXPECT_EQ(*g.value(), 41);
  EXPECT_EQ(*g_counter.try_lock().value(), 1);
}

TEST(StaticMutexTest, TryLockFailsWhileLockedAndGuardUnlocks) {
  Mtx m(5);
  {
    auto g = m.try_lock();
    ASSERT_TRUE(g);
    EXPECT_TRUE(m.is_locked());
    EXPECT_FALSE(m.try_lock());
    **g = 6;
    auto moved = std::move(*g);  // the moved-to guard holds the lock
    g.reset();
    EXPECT_TRUE(m.is_locked());
    EXPECT_EQ(*moved, 6);
  }
  EXPECT_FALSE(m.is_locked());
  EXPECT_EQ(*m.try_lock().value(), 6);
}

TEST(StaticMutexTest, WaitersGetTheLockInFifoOrderByHandoff) {
  Mtx m;
  CountingWaker c1, c2;
  std::optional<Mtx::Guard> held = m.try_lock();
  auto l1 = m.lock();
  auto l2 = m.lock();
  EXPECT_TRUE(poll_once(l1, c1).is_pending());
  EXPECT_TRUE(poll_once(l2, c2).is_pending());
  held.reset();
  EXPECT_EQ(c1.wakes(), 1);
  EXPECT_EQ(c2.wakes(), 0);
  EXPECT_TRUE(m.is_locked());        // handed to l1, not released
  EXPECT_FALSE(m.try_lock());        // so nobody barges in
  auto l3 = m.lock();
  EXPECT_TRUE(poll_once(l3).is_pending());  // queued behind l2
  EXPECT_TRUE(poll_once(l2, c2).is_pending());
  {
    auto g1 = poll_once(l1, c1);
    ASSERT_TRUE(g1.is_ready());
  }
  EXPECT_EQ(c2.wakes(), 1);
  {
    auto g2 = poll_once(l2, c2);
    ASSERT_TRUE(g2.is_ready());
  }
  auto g3 = poll_once(l3);
  ASSERT_TRUE(g3.is_ready());
  EXPECT_EQ(c1.outstanding() + c2.outstanding(), 0);
}

TEST(StaticMutexTest, AWaiterDroppedAfterTheHandoffPassesTheLockOn) {
  Mtx m;
  CountingWaker c1, c2;
  std::optional<Mtx::Guard> held = m.try_lock();
  std::optional<Mtx::LockFuture> l1;
  l1.emplace(m.lock());
  auto l2 = m.lock();
  EXPECT_TRUE(poll_once(*l1, c1).is_pending());
  EXPECT_TRUE(poll_once(l2, c2).is_pending());
  held.reset();  // handed to l1
  EXPECT_EQ(c1.wakes(), 1);
  l1.reset();    // l1 never took it: l2 gets it
  EXPECT_EQ(c2.wakes(), 1);
  {
    auto g = poll_once(l2, c2);
    ASSERT_TRUE(g.is_ready());
  }
  EXPECT_FALSE(m.is_locked());

  // Dropped after the handoff with nobody else waiting: unlocked.
  held = m.try_lock();
  l1.emplace(m.lock());
  EXPECT_TRUE(poll_once(*l1, c1).is_pending());
  held.reset();
  EXPECT_TRUE(m.is_locked());
  l1.reset();
  EXPECT_FALSE(m.is_locked());
  EXPECT_EQ(c1.outstanding() + c2.outstanding(), 0);
}

TEST(StaticMutexTest, CancellingAWaiterLeavesNoWaker) {
  Mtx m;
  CountingWaker cw;
  auto held = m.try_lock();
  {
    auto l = m.lock();
    EXPECT_TRUE(poll_once(l, cw).is_pending());
    EXPECT_EQ(cw.outstanding(), 1);
  }
  EXPECT_EQ(cw.outstanding(), 0);
  held.reset();
  EXPECT_EQ(cw.wakes(), 0);
  EXPECT_FALSE(m.is_locked());
}

TEST(StaticMutexTest, NoOperationAllocates) {
  StaticMutex<int, AtomicPolicy> m;
  CountingWaker cw;
  ScopedNoAlloc no_alloc;
  auto held = m.try_lock();
  auto l = m.lock();
  EXPECT_TRUE(poll_once(l, cw).is_pending());
  held.reset();
  auto g = poll_once(l, cw);
  ASSERT_TRUE(g.is_ready());
  *g.value() += 1;
  EXPECT_EQ(cw.outstanding(), 0);
}

TEST(StaticMutexTest, AnImmediateLockSpendsTheBudget) {
  Mtx m;
  CountingWaker cw;
  Budget spent(0);
  auto l = m.lock();
  EXPECT_TRUE(poll_once(l, cw, &spent).is_pending());
  EXPECT_EQ(cw.wakes(), 1);
  EXPECT_FALSE(m.is_locked());
  EXPECT_TRUE(poll_once(l, cw).is_ready());
}

// Four tasks on a StaticExecutor each add 1 to a counter 50 times, holding
// the lock across a yield: no increment may be lost.
struct CountTag;
using CountJob = Task<int, TaskArena<4096, CountTag>>;
constinit StaticMutex<int, CriticalSectionPolicy> g_shared;
CountJob add_many() {
  for (int i = 0; i < 50; ++i) {
    auto g = co_await g_shared.lock();
    const int seen = *g;
    co_await yield_now();  // the others queue up meanwhile
    *g = seen + 1;
  }
  co_return 0;
}

TEST(StaticMutexTest, TasksOnAStaticExecutorLoseNoIncrement) {
  TaskStorage<CountJob> t[4];
  StaticExecutor<4, CriticalSectionPolicy> ex;
  for (auto& s : t) ASSERT_TRUE(ex.spawn(s, [] { return add_many(); }));
  ex.run_until_idle();
  EXPECT_EQ(ex.live(), 0u);
  EXPECT_EQ(*g_shared.try_lock().value(), 200);
}

}  // namespace
}  // namespace weft
