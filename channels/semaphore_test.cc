#include "channels/semaphore.h"

#include <memory>
#include <optional>
#include <vector>

#include "executor/local_executor.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

TEST(SemaphoreTest, TryAcquireAndPermitReturnOnDrop) {
  Semaphore sem(3);
  {
    auto a = sem.try_acquire_many(2);
    ASSERT_TRUE(a.is_ok());
    EXPECT_EQ(a->num_permits(), 2u);
    EXPECT_EQ(sem.available_permits(), 1u);
    auto b = sem.try_acquire_many(2);
    ASSERT_TRUE(b.is_err());
    EXPECT_EQ(b.error(), TryAcquireError::kNoPermits);
  }
  EXPECT_EQ(sem.available_permits(), 3u);
  {
    auto p = sem.try_acquire();
    ASSERT_TRUE(p);
    p->forget();
  }
  EXPECT_EQ(sem.available_permits(), 2u);
  sem.add_permits(5);
  EXPECT_EQ(sem.available_permits(), 7u);
}

TEST(SemaphoreTest, AcquireWaitsAndIsWokenByRelease) {
  Semaphore sem(1);
  auto held = sem.try_acquire();
  ASSERT_TRUE(held);
  auto f = sem.acquire();
  CountingWaker w;
  EXPECT_TRUE(poll_once(f, w.borrowed()).is_pending());
  EXPECT_EQ(w.outstanding(), 1);
  held = Err{TryAcquireError::kNoPermits};  // releases the permit
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(f, w.borrowed());
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_ok());
  EXPECT_EQ(p.value()->num_permits(), 1u);
  EXPECT_EQ(sem.available_permits(), 0u);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(SemaphoreTest, FifoLargeRequestIsNotStarvedBySmallOnes) {
  Semaphore sem(0);
  CountingWaker wa, wb;
  auto big = sem.acquire_many(3);
  auto small = sem.acquire_many(1);
  EXPECT_TRUE(poll_once(big, wa.borrowed()).is_pending());
  EXPECT_TRUE(poll_once(small, wb.borrowed()).is_pending());
  sem.add_permits(2);  // both go to `big` (partial), none to `small`
  EXPECT_EQ(wa.wakes(), 0);
  EXPECT_EQ(wb.wakes(), 0);
  EXPECT_EQ(sem.available_permits(), 0u);
  EXPECT_TRUE(sem.try_acquire().is_err());  // no barging past the queue
  sem.add_permits(2);                       // 1 completes big, 1 serves small
  EXPECT_EQ(wa.wakes(), 1);
  EXPECT_EQ(wb.wakes(), 1);
  auto pb = poll_once(big, wa.borrowed());
  auto ps = poll_once(small, wb.borrowed());
  ASSERT_TRUE(pb.is_ready() && ps.is_ready());
  EXPECT_EQ(pb.value()->num_permits(), 3u);
  EXPECT_EQ(ps.value()->num_permits(), 1u);
}

TEST(SemaphoreTest, DroppingAQueuedAcquireHandsItsPartialPermitsOn) {
  Semaphore sem(0);
  CountingWaker wa, wb;
  auto b = sem.acquire_many(1);
  {
    auto a = sem.acquire_many(3);
    EXPECT_TRUE(poll_once(a, wa.borrowed()).is_pending());
    EXPECT_TRUE(poll_once(b, wb.borrowed()).is_pending());
    sem.add_permits(2);  // assigned to `a`
    EXPECT_EQ(wb.wakes(), 0);
  }  // `a` cancelled: its 2 permits go to `b` (1) and the semaphore (1)
  EXPECT_EQ(wa.outstanding(), 0);
  EXPECT_EQ(wb.wakes(), 1);
  auto pb = poll_once(b, wb.borrowed());
  ASSERT_TRUE(pb.is_ready());
  EXPECT_EQ(sem.available_permits(), 1u);
}

TEST(SemaphoreTest, DroppingAServedButUnpolledAcquireGivesThePermitsBack) {
  Semaphore sem(0);
  CountingWaker w;
  {
    auto a = sem.acquire_many(2);
    EXPECT_TRUE(poll_once(a, w.borrowed()).is_pending());
    sem.add_permits(2);
    EXPECT_EQ(w.wakes(), 1);
  }
  EXPECT_EQ(sem.available_permits(), 2u);
}

TEST(SemaphoreTest, CloseFailsWaitersAndNewAcquiresButKeepsHeldPermits) {
  Semaphore sem(1);
  auto held = sem.try_acquire();
  CountingWaker w;
  auto f = sem.acquire();
  EXPECT_TRUE(poll_once(f, w.borrowed()).is_pending());
  sem.close();
  EXPECT_TRUE(sem.is_closed());
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(f, w.borrowed());
  ASSERT_TRUE(p.is_ready());
  EXPECT_TRUE(p.value().is_err());
  auto g = sem.acquire();
  auto pg = poll_once(g);
  ASSERT_TRUE(pg.is_ready());
  EXPECT_TRUE(pg.value().is_err());
  EXPECT_EQ(sem.try_acquire().error(), TryAcquireError::kClosed);
  EXPECT_EQ(held->num_permits(), 1u);
}

TEST(SemaphoreTest, OwnedPermitKeepsTheSemaphoreAlive) {
  auto sem = std::make_shared<Semaphore>(1);
  auto p = Semaphore::try_acquire_owned(sem);
  ASSERT_TRUE(p);
  std::weak_ptr<Semaphore> weak = sem;
  sem.reset();
  EXPECT_FALSE(weak.expired());
  EXPECT_EQ(p->semaphore()->available_permits(), 0u);
  p = Err{TryAcquireError::kClosed};
  EXPECT_TRUE(weak.expired());
}

TEST(SemaphoreTest, QueuedOwnedAcquireHoldingTheLastReferenceUnlinksFirst) {
  auto sem = std::make_shared<Semaphore>(0);
  CountingWaker w;
  {
    auto f = Semaphore::acquire_owned(sem);
    sem.reset();  // `f` holds the last reference
    EXPECT_TRUE(poll_once(f, w.borrowed()).is_pending());
  }  // the node unlinks before the semaphore is destroyed (ASan would see it)
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(SemaphoreTest, SplitAndMerge) {
  Semaphore sem(4);
  auto p = sem.try_acquire_many(4);
  ASSERT_TRUE(p);
  auto q = p->split(1);
  ASSERT_TRUE(q);
  EXPECT_EQ(p->num_permits(), 3u);
  EXPECT_TRUE(p->split(9).is_err());
  p->merge(std::move(q.value()));
  EXPECT_EQ(p->num_permits(), 4u);
  EXPECT_EQ(q->num_permits(), 0u);
}

TEST(SemaphoreTest, LimitsConcurrencyOfTasksOnTheLocalExecutor) {
  LocalExecutor ex;
  Semaphore sem(2);
  int inside = 0;
  int max_inside = 0;
  int finished = 0;
  auto worker = [&]() -> Task<Unit> {
    auto permit = co_await sem.acquire();
    EXPECT_TRUE(permit.is_ok());
    ++inside;
    max_inside = std::max(max_inside, inside);
    co_await yield_now();
    co_await yield_now();
    --inside;
    ++finished;
    co_return;
  };
  for (int i = 0; i < 10; ++i) ex.spawn_detached(worker());
  ex.run_until_stalled();
  EXPECT_EQ(finished, 10);
  EXPECT_EQ(max_inside, 2);
  EXPECT_EQ(sem.available_permits(), 2u);
}

}  // namespace
}  // namespace weft
