#include "channels/barrier.h"

#include <deque>
#include <functional>
#include <memory>
#include <optional>
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

static_assert(!CancelSafe<Barrier::WaitFuture>);

// A waker that runs a callback when woken (to act in the middle of a
// release, between the leader's wake batches).
class CallbackWaker {
 public:
  explicit CallbackWaker(std::function<void()> f) : f_(std::move(f)) {}
  Waker waker() { return Waker::from_raw(RawWaker{this, &kVTable}); }

 private:
  static CallbackWaker* self(const void* p) { return static_cast<CallbackWaker*>(const_cast<void*>(p)); }
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) {
    if (auto f = std::exchange(self(p)->f_, nullptr)) f();
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake, &drop};
  std::function<void()> f_;
};

TEST(BarrierTest, HeaderExample) {
  weft::Barrier b(2);
  auto first = b.wait();
  EXPECT_TRUE(weft::testing::poll_once(first).is_pending());
  auto second = b.wait();
  EXPECT_TRUE(weft::testing::poll_once(second).value().is_leader());
  EXPECT_FALSE(weft::testing::poll_once(first).value().is_leader());
}

TEST(BarrierTest, ReleasesAllWhenTheLastArrivesWithOneLeader) {
  Barrier b(3);
  EXPECT_EQ(b.parties(), 3u);
  CountingWaker w1, w2;
  auto a = b.wait(), c = b.wait(), d = b.wait();
  EXPECT_TRUE(poll_once(a, w1).is_pending());
  EXPECT_TRUE(poll_once(c, w2).is_pending());
  EXPECT_TRUE(poll_once(c, w2).is_pending());  // re-poll: still one waker
  EXPECT_EQ(w1.outstanding() + w2.outstanding(), 2);
  auto pd = poll_once(d);
  ASSERT_TRUE(pd.is_ready());
  EXPECT_TRUE(pd.value().is_leader());
  EXPECT_EQ(w1.wakes(), 1);
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_EQ(w1.outstanding() + w2.outstanding(), 0);
  EXPECT_FALSE(poll_once(a, w1).value().is_leader());
  EXPECT_FALSE(poll_once(c, w2).value().is_leader());
}

TEST(BarrierTest, ZeroOrOnePartyAlwaysLeads) {
  Barrier zero(0), one(1);
  EXPECT_EQ(zero.parties(), 1u);
  for (int i = 0; i < 3; ++i) {
    auto a = zero.wait();
    auto b = one.wait();
    EXPECT_TRUE(poll_once(a).value().is_leader());
    EXPECT_TRUE(poll_once(b).value().is_leader());
  }
}

TEST(BarrierTest, ReusableAcrossGenerations) {
  Barrier b(2);
  for (int gen = 0; gen < 5; ++gen) {
    CountingWaker w;
    auto a = b.wait();
    auto c = b.wait();
    EXPECT_TRUE(poll_once(a, w).is_pending());
    EXPECT_TRUE(poll_once(c).value().is_leader());
    EXPECT_EQ(w.wakes(), 1);
    EXPECT_FALSE(poll_once(a, w).value().is_leader());
  }
}

TEST(BarrierTest, WaitDoesNotAllocate) {
  Barrier b(3);
  CountingWaker w;
  auto a = b.wait(), c = b.wait(), d = b.wait();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(a, w).is_pending());
  EXPECT_TRUE(poll_once(c, w).is_pending());
  EXPECT_TRUE(poll_once(d, w).value().is_leader());
}

TEST(BarrierTest, DroppingAPendingWaitUnArrives) {
  Barrier b(3);
  CountingWaker wa, wc;
  auto c = b.wait();
  {
    auto a = b.wait();
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(c, wc).is_pending());
  }  // `a` leaves: only `c` counts now
  EXPECT_EQ(wa.outstanding(), 0);
  auto d = b.wait();
  EXPECT_TRUE(poll_once(d, wa).is_pending());  // 2 of 3: not released
  EXPECT_EQ(wc.wakes(), 0);
  auto e = b.wait();
  EXPECT_TRUE(poll_once(e).value().is_leader());
  EXPECT_EQ(wc.wakes(), 1);
  EXPECT_FALSE(poll_once(c, wc).value().is_leader());
  EXPECT_FALSE(poll_once(d, wa).value().is_leader());
  EXPECT_EQ(wa.outstanding() + wc.outstanding(), 0);
}

TEST(BarrierTest, DroppingAReleasedWaitStaysCounted) {
  Barrier b(2);
  CountingWaker w;
  {
    auto a = b.wait();
    EXPECT_TRUE(poll_once(a, w).is_pending());
    auto c = b.wait();
    EXPECT_TRUE(poll_once(c).value().is_leader());
  }  // `a` was released (counted), then dropped unpolled
  EXPECT_EQ(w.outstanding(), 0);
  // The next generation starts from zero.
  auto d = b.wait();
  EXPECT_TRUE(poll_once(d, w).is_pending());
  auto e = b.wait();
  EXPECT_TRUE(poll_once(e).value().is_leader());
}

TEST(BarrierTest, ManyWaitersAreAllWokenInBatches) {
  constexpr int kN = 100;  // more than one wake batch (32)
  Barrier b(kN);
  std::deque<CountingWaker> wakers(kN - 1);
  std::vector<std::optional<Barrier::WaitFuture>> waits;
  waits.reserve(kN - 1);
  for (int i = 0; i < kN - 1; ++i) {
    waits.emplace_back(b.wait());
    EXPECT_TRUE(poll_once(*waits.back(), wakers[i]).is_pending());
  }
  auto last = b.wait();
  EXPECT_TRUE(poll_once(last).value().is_leader());
  for (int i = 0; i < kN - 1; ++i) {
    EXPECT_EQ(wakers[i].wakes(), 1) << i;
    EXPECT_EQ(wakers[i].outstanding(), 0) << i;
    EXPECT_FALSE(poll_once(*waits[i], wakers[i]).value().is_leader());
  }
}

TEST(BarrierTest, CancellationsDuringARelease) {
  // While the leader wakes its first batch (lock dropped), a woken waker
  // drops a waiter of the same generation that is not woken yet (it stays
  // counted) and arrives-and-leaves in the next generation (un-arrives).
  constexpr int kN = 40;
  Barrier b(kN);
  std::vector<std::optional<Barrier::WaitFuture>> waits;
  waits.reserve(kN - 1);
  std::deque<CountingWaker> wakers(kN - 1);
  bool ran = false;
  CallbackWaker first([&] {
    ran = true;
    waits[kN - 2].reset();  // in the second batch: not woken yet
    auto next = b.wait();
    EXPECT_TRUE(poll_once(next).is_pending());
  });  // `next` dropped: un-arrives from the new generation
  for (int i = 0; i < kN - 1; ++i) {
    waits.emplace_back(b.wait());
    Waker w = i == 0 ? first.waker() : wakers[i].borrowed();
    Context cx(w);
    EXPECT_TRUE(waits.back()->poll(cx).is_pending());
  }
  auto last = b.wait();
  EXPECT_TRUE(poll_once(last).value().is_leader());
  EXPECT_TRUE(ran);
  EXPECT_EQ(wakers[kN - 2].wakes(), 0);  // dropped before its batch
  for (int i = 1; i < kN - 2; ++i) EXPECT_EQ(wakers[i].wakes(), 1) << i;
  for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
  for (int i = 0; i < kN - 2; ++i) EXPECT_FALSE(poll_once(*waits[i]).value().is_leader());
  // The next generation needs kN fresh arrivals: the one that left does
  // not count.
  waits.clear();
  std::vector<std::optional<Barrier::WaitFuture>> next;
  next.reserve(kN);
  for (int i = 0; i < kN - 1; ++i) {
    next.emplace_back(b.wait());
    EXPECT_TRUE(poll_once(*next.back()).is_pending()) << i;
  }
  next.emplace_back(b.wait());
  EXPECT_TRUE(poll_once(*next.back()).value().is_leader());
  for (int i = 0; i < kN - 1; ++i) EXPECT_TRUE(poll_once(*next[i]).is_ready());
}

TEST(BarrierTest, TasksMeetEveryRound) {
  LocalExecutor ex;
  constexpr int kTasks = 5;
  constexpr int kRounds = 10;
  Barrier b(kTasks);
  std::vector<int> arrived(kRounds, 0);
  std::vector<int> leaders(kRounds, 0);
  int early = 0;
  auto worker = [&](int id) -> Task<Unit> {
    for (int r = 0; r < kRounds; ++r) {
      arrived[r] += 1;
      if ((id + r) % 2 == 0) co_await yield_now();
      auto res = co_await b.wait();
      if (arrived[r] != kTasks) ++early;  // nobody passes before all arrived
      if (res.is_leader()) leaders[r] += 1;
    }
  };
  for (int i = 0; i < kTasks; ++i) ex.spawn_detached(worker(i));
  ex.run_until_stalled();
  EXPECT_EQ(early, 0);
  EXPECT_EQ(leaders, std::vector<int>(kRounds, 1));
  EXPECT_EQ(arrived, std::vector<int>(kRounds, kTasks));
}

}  // namespace
}  // namespace weft
