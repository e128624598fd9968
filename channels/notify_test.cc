#include "channels/notify.h"

#include <deque>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "executor/local_executor.h"
#include "future/future.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(Future<Notified>);
static_assert(CancelSafe<Notified>);
static_assert(!std::is_copy_constructible_v<Notify>);
static_assert(!std::is_move_constructible_v<Notify>);

TEST(NotifyTest, HeaderExample) {
  weft::Notify notify;
  notify.notify_one();  // nobody waits: stores a permit
  weft::LocalExecutor ex;
  ex.block_on(notify.notified());  // takes it at once
  auto n = notify.notified();
  EXPECT_TRUE(testing::poll_once(n).is_pending());
  notify.notify_waiters();
  EXPECT_TRUE(testing::poll_once(n).is_ready());
}

TEST(NotifyTest, NotifyOneWithoutWaiterStoresOnePermit) {
  Notify notify;
  notify.notify_one();
  notify.notify_one();  // not cumulative
  auto a = notify.notified();
  auto b = notify.notified();
  EXPECT_TRUE(poll_once(a).is_ready());
  EXPECT_TRUE(poll_once(b).is_pending());
}

TEST(NotifyTest, PermitIsTakenByTheFirstPollNotTheFirstCreated) {
  Notify notify;
  auto older = notify.notified();
  auto newer = notify.notified();
  notify.notify_one();
  EXPECT_TRUE(poll_once(newer).is_ready());
  EXPECT_TRUE(poll_once(older).is_pending());
}

TEST(NotifyTest, NotifyOneWakesWaitersInFifoOrder) {
  Notify notify;
  CountingWaker w[3];
  std::deque<Notified> ns;
  for (int i = 0; i < 3; ++i) {
    ns.push_back(notify.notified());
    EXPECT_TRUE(poll_once(ns[i], w[i]).is_pending());
  }
  for (int round = 0; round < 3; ++round) {
    notify.notify_one();
    for (int i = 0; i < 3; ++i) EXPECT_EQ(w[i].wakes(), i <= round ? 1 : 0) << round << " " << i;
    EXPECT_TRUE(poll_once(ns[round], w[round]).is_ready());
  }
  // Nobody waits any more: the next one is a permit.
  notify.notify_one();
  auto n = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());
  for (auto& x : w) EXPECT_EQ(x.outstanding(), 0);
}

TEST(NotifyTest, NotifyLastWakesTheMostRecentWaiter) {
  Notify notify;
  CountingWaker w[3];
  std::deque<Notified> ns;
  for (int i = 0; i < 3; ++i) {
    ns.push_back(notify.notified());
    EXPECT_TRUE(poll_once(ns[i], w[i]).is_pending());
  }
  notify.notify_last();
  EXPECT_EQ(w[2].wakes(), 1);
  EXPECT_EQ(w[0].wakes() + w[1].wakes(), 0);
  EXPECT_TRUE(poll_once(ns[2], w[2]).is_ready());
  EXPECT_TRUE(poll_once(ns[1], w[1]).is_pending());
  notify.notify_last();
  EXPECT_TRUE(poll_once(ns[1], w[1]).is_ready());
  EXPECT_TRUE(poll_once(ns[0], w[0]).is_pending());
}

TEST(NotifyTest, NotifyWaitersWakesEveryWaiterAndStoresNoPermit) {
  Notify notify;
  constexpr int kWaiters = 100;  // more than one wake batch (32)
  std::deque<CountingWaker> w(kWaiters);
  std::deque<Notified> ns;
  for (int i = 0; i < kWaiters; ++i) {
    ns.push_back(notify.notified());
    ASSERT_TRUE(poll_once(ns[i], w[i]).is_pending());
  }
  notify.notify_waiters();
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(w[i].wakes(), 1);
    EXPECT_TRUE(poll_once(ns[i], w[i]).is_ready());
    EXPECT_EQ(w[i].outstanding(), 0);
  }
  auto later = notify.notified();
  EXPECT_TRUE(poll_once(later).is_pending());  // no permit was stored
}

TEST(NotifyTest, NotifyWaitersBeforeFirstPollIsNotLost) {
  Notify notify;
  auto n = notify.notified();
  notify.notify_waiters();
  auto after = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());
  EXPECT_TRUE(poll_once(after).is_pending());  // created after the call
}

TEST(NotifyTest, NotifyWaitersKeepsAStoredPermit) {
  Notify notify;
  notify.notify_one();
  notify.notify_waiters();
  auto n = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());  // the permit
  auto m = notify.notified();
  EXPECT_TRUE(poll_once(m).is_pending());
}

TEST(NotifyTest, EnableRegistersWithoutPolling) {
  Notify notify;
  auto a = notify.notified();
  EXPECT_FALSE(a.enable());
  EXPECT_FALSE(a.enable());  // idempotent
  auto b = notify.notified();
  CountingWaker wb;
  EXPECT_TRUE(poll_once(b, wb).is_pending());
  notify.notify_one();  // goes to `a`, registered first
  EXPECT_TRUE(a.enable());
  EXPECT_EQ(wb.wakes(), 0);
  EXPECT_TRUE(poll_once(b, wb).is_pending());
  EXPECT_TRUE(poll_once(a).is_ready());
}

TEST(NotifyTest, EnableTakesAStoredPermit) {
  Notify notify;
  notify.notify_one();
  auto a = notify.notified();
  EXPECT_TRUE(a.enable());
  auto b = notify.notified();
  EXPECT_TRUE(poll_once(b).is_pending());  // a has the permit
  EXPECT_TRUE(poll_once(a).is_ready());
}

TEST(NotifyTest, EnabledNotifiedSeesNotifyWaiters) {
  Notify notify;
  auto a = notify.notified();
  EXPECT_FALSE(a.enable());
  notify.notify_waiters();
  EXPECT_TRUE(a.enable());
  EXPECT_TRUE(poll_once(a).is_ready());
}

TEST(NotifyTest, DroppedWaiterThatReceivedNotifyOnePassesItOn) {
  Notify notify;
  CountingWaker wa, wb;
  auto b = std::make_optional<Notified>(notify.notified());
  {
    auto a = notify.notified();
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(*b, wb).is_pending());
    notify.notify_one();
    EXPECT_EQ(wa.wakes(), 1);
    EXPECT_EQ(wb.wakes(), 0);
  }  // a dropped before it returned Ready
  EXPECT_EQ(wb.wakes(), 1);
  EXPECT_TRUE(poll_once(*b, wb).is_ready());
  b.reset();
  EXPECT_EQ(wa.outstanding(), 0);
  EXPECT_EQ(wb.outstanding(), 0);
}

TEST(NotifyTest, DroppedWaiterThatReceivedNotifyOneRestoresThePermit) {
  Notify notify;
  {
    auto a = notify.notified();
    EXPECT_TRUE(poll_once(a).is_pending());
    notify.notify_one();
  }
  auto n = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());
}

TEST(NotifyTest, DroppedAfterEnableTookThePermitRestoresIt) {
  Notify notify;
  notify.notify_one();
  {
    auto a = notify.notified();
    EXPECT_TRUE(a.enable());
  }
  auto n = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());
}

TEST(NotifyTest, DroppedWaiterThatReceivedNotifyWaitersPassesNothingOn) {
  Notify notify;
  auto b = notify.notified();
  {
    auto a = notify.notified();
    EXPECT_TRUE(poll_once(a).is_pending());
    notify.notify_waiters();
  }
  EXPECT_TRUE(poll_once(b).is_ready());  // b received it itself (created before)
  auto c = notify.notified();
  EXPECT_TRUE(poll_once(c).is_pending());  // and no permit appeared
}

TEST(NotifyTest, DroppingAPendingNotifiedUnlinksItAndReleasesTheWaker) {
  Notify notify;
  CountingWaker w;
  {
    auto a = notify.notified();
    EXPECT_TRUE(poll_once(a, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(w.wakes(), 0);
  // Nobody waits: notify_one stores the permit rather than picking a ghost.
  notify.notify_one();
  auto n = notify.notified();
  EXPECT_TRUE(poll_once(n).is_ready());
}

TEST(NotifyTest, DroppingAWaiterInTheMiddleKeepsTheOthersInOrder) {
  Notify notify;
  CountingWaker w[3];
  auto a = notify.notified();
  auto c = notify.notified();
  EXPECT_TRUE(poll_once(a, w[0]).is_pending());
  {
    auto b = notify.notified();
    EXPECT_TRUE(poll_once(b, w[1]).is_pending());
    EXPECT_TRUE(poll_once(c, w[2]).is_pending());
  }
  notify.notify_one();
  notify.notify_one();
  EXPECT_TRUE(poll_once(a, w[0]).is_ready());
  EXPECT_TRUE(poll_once(c, w[2]).is_ready());
  for (auto& x : w) EXPECT_EQ(x.outstanding(), 0);
}

TEST(NotifyTest, RepollReplacesTheWaker) {
  Notify notify;
  CountingWaker w1, w2;
  auto a = notify.notified();
  EXPECT_TRUE(poll_once(a, w1).is_pending());
  EXPECT_TRUE(poll_once(a, w2).is_pending());
  EXPECT_EQ(w1.outstanding(), 0);
  notify.notify_one();
  EXPECT_EQ(w1.wakes(), 0);
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_TRUE(poll_once(a, w2).is_ready());
}

TEST(NotifyTest, ExhaustedBudgetKeepsTheNotification) {
  Notify notify;
  CountingWaker w;
  auto a = notify.notified();
  EXPECT_TRUE(poll_once(a, w).is_pending());
  notify.notify_one();
  Budget spent(0);
  EXPECT_TRUE(poll_once(a, w, &spent).is_pending());
  EXPECT_EQ(w.wakes(), 2);  // the notification, then the budget's self-wake
  Budget fresh;
  EXPECT_TRUE(poll_once(a, w, &fresh).is_ready());
  EXPECT_EQ(fresh.remaining(), Budget::kDefault - 1);
}

TEST(NotifyTest, ExhaustedBudgetOnFirstPollLeavesThePermit) {
  Notify notify;
  notify.notify_one();
  CountingWaker w;
  {
    auto a = notify.notified();
    Budget spent(0);
    EXPECT_TRUE(poll_once(a, w, &spent).is_pending());
    EXPECT_EQ(w.wakes(), 1);
  }
  auto b = notify.notified();
  EXPECT_TRUE(poll_once(b).is_ready());
}

TEST(NotifyTest, MovesBeforeTheFirstPoll) {
  Notify notify;
  auto a = notify.notified();
  notify.notify_waiters();
  Notified b = std::move(a);  // keeps its creation-time call count
  EXPECT_TRUE(poll_once(b).is_ready());
}

// A waker that, when woken, calls back into the Notify: wakers must run
// without the Notify's lock held.
struct ReentrantWaker {
  Notify* notify = nullptr;
  int wakes = 0;
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) {
    auto* self = static_cast<ReentrantWaker*>(const_cast<void*>(p));
    self->wakes += 1;
    self->notify->notify_one();  // stores a permit (nobody else waits)
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake, &drop};
  Waker waker() { return Waker::from_raw(RawWaker{this, &kVTable}); }
};

TEST(NotifyTest, WakersRunWithoutTheLock) {
  Notify notify;
  ReentrantWaker rw{&notify};
  Waker w = rw.waker();
  auto a = notify.notified();
  EXPECT_TRUE(poll_once(a, w).is_pending());
  notify.notify_waiters();
  EXPECT_EQ(rw.wakes, 1);
  EXPECT_TRUE(poll_once(a, w).is_ready());
  auto b = notify.notified();
  EXPECT_TRUE(poll_once(b).is_ready());  // the permit stored from inside the wake
}

TEST(NotifyTest, NoAllocationWhileWaitingAndNotifying) {
  Notify notify;
  CountingWaker w;
  auto a = notify.notified();
  auto b = notify.notified();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(a, w).is_pending());
  notify.notify_one();
  EXPECT_TRUE(poll_once(a, w).is_ready());
  notify.notify_one();
  EXPECT_TRUE(poll_once(b, w).is_ready());
  auto c = notify.notified();
  EXPECT_TRUE(poll_once(c, w).is_pending());
  notify.notify_waiters();
  EXPECT_TRUE(poll_once(c, w).is_ready());
}

Task<int> wait_times(Notify* notify, int n, int* progress) {
  for (int i = 0; i < n; ++i) {
    co_await notify->notified();
    *progress += 1;
  }
  co_return *progress;
}

TEST(NotifyTest, TasksOnLocalExecutor) {
  LocalExecutor ex;
  Notify notify;
  int p1 = 0, p2 = 0;
  auto h1 = ex.spawn_local(wait_times(&notify, 2, &p1));
  auto h2 = ex.spawn_local(wait_times(&notify, 2, &p2));
  ex.run_until_stalled();
  EXPECT_EQ(p1 + p2, 0);
  notify.notify_one();  // task 1 registered first
  ex.run_until_stalled();
  EXPECT_EQ(p1, 1);
  EXPECT_EQ(p2, 0);
  notify.notify_waiters();  // both
  ex.run_until_stalled();
  EXPECT_EQ(p1, 2);
  EXPECT_EQ(p2, 1);
  notify.notify_one();
  EXPECT_EQ(ex.block_on(std::move(h2)).value(), 2);
  EXPECT_EQ(ex.block_on(std::move(h1)).value(), 2);
}

TEST(NotifyTest, CancellingATaskPassesItsNotificationOn) {
  LocalExecutor ex;
  Notify notify;
  int p1 = 0, p2 = 0;
  auto h1 = ex.spawn_local(wait_times(&notify, 1, &p1));
  auto h2 = ex.spawn_local(wait_times(&notify, 1, &p2));
  ex.run_until_stalled();
  notify.notify_one();  // to task 1 ...
  h1.abort();           // ... which is cancelled before it runs again
  ex.run_until_stalled();
  EXPECT_EQ(p1, 0);
  EXPECT_EQ(p2, 1);  // task 2 got the notification
  EXPECT_EQ(ex.block_on(std::move(h2)).value(), 1);
}

}  // namespace
}  // namespace weft
