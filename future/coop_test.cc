#include "future/coop.h"

#include <type_traits>

#include "future/ready.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;

// Does `units` units of work in one poll, each through poll_proceed; Ready
// with how many it did, or Pending (having done some) when the budget ran out.
struct Work {
  using Output = int;
  static constexpr bool kUnpin = true;
  int units;
  int done = 0;
  Poll<int> poll(Context& cx) {
    while (done < units) {
      if (!cx.poll_proceed()) return Pending{};
      ++done;
    }
    return done;
  }
};

// Not Unpin, not cancel-safe.
struct Pinned {
  using Output = int;
  Poll<int> poll(Context&) { return 1; }
};

static_assert(Future<ConsumeBudget>);
static_assert(CancelSafe<ConsumeBudget>);
static_assert(Unpin<Unconstrained<Work>>);
static_assert(!Unpin<Unconstrained<Pinned>>);
static_assert(!CancelSafe<Unconstrained<Pinned>>);
static_assert(CancelSafe<Unconstrained<Ready<int>>>);
static_assert(sizeof(ConsumeBudget) == 1);

TEST(CoopTest, ConsumeBudgetTakesUnitsThenYieldsOnce) {
  CountingWaker w;
  Waker waker = w.waker();
  Budget budget(2);
  Context cx(waker, &budget);
  ConsumeBudget a, b, c;
  EXPECT_TRUE(a.poll(cx).is_ready());
  EXPECT_TRUE(b.poll(cx).is_ready());
  EXPECT_EQ(budget.remaining(), 0u);
  EXPECT_TRUE(c.poll(cx).is_pending());  // spent: the task is woken to yield
  EXPECT_EQ(w.wakes(), 1);
  budget.refill();  // the executor's next poll
  EXPECT_TRUE(c.poll(cx).is_ready());
  EXPECT_EQ(budget.remaining(), Budget::kDefault - 1);
}

TEST(CoopTest, ConsumeBudgetWithoutABudgetIsAlwaysReady) {
  Context cx(noop_waker());
  for (int i = 0; i < 1000; ++i) {
    ConsumeBudget c;
    ASSERT_TRUE(c.poll(cx).is_ready());
  }
}

TEST(CoopTest, UnconstrainedIgnoresTheBudgetAndLeavesItUntouched) {
  CountingWaker w;
  Waker waker = w.waker();
  Budget budget(3);
  Context cx(waker, &budget);
  Work constrained{10};
  EXPECT_TRUE(constrained.poll(cx).is_pending());  // stopped after 3 units
  EXPECT_EQ(constrained.done, 3);
  EXPECT_EQ(w.wakes(), 1);
  budget.refill(3);
  auto free_run = unconstrained(Work{10});
  Poll<int> p = free_run.poll(cx);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value(), 10);
  EXPECT_EQ(budget.remaining(), 3u);  // not charged
  EXPECT_EQ(w.wakes(), 1);            // and no yield
}

TEST(CoopTest, UnconstrainedPassesTheWakerOn) {
  CountingWaker w;
  Waker waker = w.waker();
  Context cx(waker);
  auto f = unconstrained(testing::PendingOnce(ready(5)));
  EXPECT_TRUE(f.poll(cx).is_pending());
  EXPECT_EQ(w.wakes(), 1);  // woken through the outer task's waker
  Poll<int> p = f.poll(cx);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value(), 5);
}

}  // namespace
}  // namespace weft
