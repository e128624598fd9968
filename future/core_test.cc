#include "future/future.h"

#include <string>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/poll.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "future/waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;

// ---- Poll ----

static_assert(sizeof(Poll<int>) == sizeof(std::optional<int>));
static_assert(sizeof(Poll<std::string>) == sizeof(std::optional<std::string>));
static_assert(std::is_trivially_copyable_v<Poll<int>>);

TEST(PollTest, ReadyAndPending) {
  Poll<int> p = Pending{};
  EXPECT_TRUE(p.is_pending());
  Poll<int> q = 42;
  ASSERT_TRUE(q.is_ready());
  EXPECT_EQ(q.value(), 42);
  EXPECT_EQ(std::move(q).map([](int x) { return x + 1; }).value(), 43);
  EXPECT_TRUE(Poll<int>(Pending{}).map([](int x) { return x; }).is_pending());
  EXPECT_EQ(Poll<Unit>(Unit{}), Poll<Unit>::ready(Unit{}));
}

TEST(PollDeathTest, ValueOfPendingIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  Poll<int> p = Pending{};
  EXPECT_DEATH((void)p.value(), "Poll::value\\(\\) called on a pending Poll");
}

// ---- Waker ----

struct Flag {
  bool woken = false;
};
const RawWakerVTable kFlagVt = {
    [](const void* p) { return RawWaker{p, &kFlagVt}; },
    [](const void* p) { static_cast<Flag*>(const_cast<void*>(p))->woken = true; },
    [](const void* p) { static_cast<Flag*>(const_cast<void*>(p))->woken = true; },
    [](const void*) {}};

TEST(WakerTest, HeaderExample) {
  Flag f;
  Waker w = Waker::from_raw(RawWaker{&f, &kFlagVt});
  w.wake_by_ref();  // f.woken == true
  EXPECT_TRUE(f.woken);
}

static_assert(sizeof(Waker) == 2 * sizeof(void*));

TEST(WakerTest, CloneWakeDropAreCounted) {
  CountingWaker cw;
  {
    Waker a = cw.waker();
    EXPECT_EQ(cw.outstanding(), 1);
    Waker b = a;  // clone
    EXPECT_EQ(cw.outstanding(), 2);
    EXPECT_TRUE(a.will_wake(b));
    std::move(b).wake();  // consumes b's reference
    EXPECT_EQ(cw.wakes(), 1);
    EXPECT_EQ(cw.outstanding(), 1);
    EXPECT_TRUE(b.is_noop());  // NOLINT: moved-from is the noop waker
    a.wake_by_ref();
    EXPECT_EQ(cw.wakes(), 2);
    Waker c = std::move(a);  // move: no clone
    EXPECT_EQ(cw.clones(), 1);
    EXPECT_EQ(cw.outstanding(), 1);
  }
  EXPECT_EQ(cw.outstanding(), 0);
}

TEST(WakerTest, AssignmentReusesWhenWillWake) {
  CountingWaker cw;
  Waker a = cw.waker();
  Waker b = cw.waker();
  const int clones = cw.clones();
  a = b;  // same task: no clone, no drop
  EXPECT_EQ(cw.clones(), clones);
  EXPECT_EQ(cw.outstanding(), 2);
  register_waker(a, b);
  EXPECT_EQ(cw.clones(), clones);
  Waker n;
  register_waker(n, b);  // different: clones
  EXPECT_EQ(cw.outstanding(), 3);
  EXPECT_TRUE(n.will_wake(b));
}

TEST(WakerTest, NoopWakerDoesNothingAndNeedsNoAllocation) {
  testing::ScopedNoAlloc no_alloc;
  Waker w = noop_waker();
  w.wake_by_ref();
  std::move(w).wake();
  EXPECT_TRUE(noop_waker().is_noop());
}

// ---- Context and the cooperative budget ----

TEST(ContextTest, UnconstrainedContextAlwaysProceeds) {
  CountingWaker cw;
  Context cx(cw.borrowed());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(cx.poll_proceed());
  EXPECT_EQ(cw.wakes(), 0);
  EXPECT_EQ(cx.budget(), nullptr);
}

TEST(ContextTest, BudgetExhaustionWakesAndRefuses) {
  CountingWaker cw;
  Budget budget(3);
  Context cx(cw.borrowed(), &budget);
  EXPECT_TRUE(cx.poll_proceed());
  EXPECT_TRUE(cx.poll_proceed());
  EXPECT_TRUE(cx.poll_proceed());
  EXPECT_EQ(cw.wakes(), 0);
  EXPECT_FALSE(cx.poll_proceed());  // spent: wakes the task so it is polled again
  EXPECT_EQ(cw.wakes(), 1);
  budget.refill();
  EXPECT_EQ(budget.remaining(), Budget::kDefault);
  EXPECT_TRUE(cx.poll_proceed());
}

// A leaf future that is always ready but respects the budget: a loop polling
// it until Pending runs exactly `budget` times.
struct Counter {
  using Output = int;
  int n = 0;
  Poll<int> poll(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    return ++n;
  }
};
static_assert(Future<Counter>);

TEST(ContextTest, AlwaysReadyLeafYieldsAfterTheBudget) {
  CountingWaker cw;
  Budget budget;  // kDefault
  Context cx(cw.borrowed(), &budget);
  Counter c;
  int ready = 0;
  while (c.poll(cx).is_ready()) ++ready;
  EXPECT_EQ(ready, static_cast<int>(Budget::kDefault));
  EXPECT_EQ(cw.wakes(), 1);
}

// ---- Future concept and traits ----

struct NotAFuture {
  int poll(Context&) { return 0; }
};
struct NoOutput {
  Poll<int> poll(Context&) { return 0; }
};
struct Safe {
  using Output = int;
  static constexpr bool kCancelSafe = true;
  Poll<int> poll(Context&) { return 1; }
};

static_assert(Future<Counter>);
static_assert(!Future<NotAFuture>);
static_assert(!Future<NoOutput>);
static_assert(!Future<int>);
static_assert(std::is_same_v<OutputOf<Counter&>, int>);
static_assert(CancelSafe<Safe>);
static_assert(!CancelSafe<Counter>);
static_assert(CancelSafe<UnsafeCancel<Counter>>);
static_assert(std::is_same_v<decltype(unsafe_cancel(Counter{})), UnsafeCancel<Counter>>);

TEST(FutureTest, UnsafeCancelPollsTheInnerFuture) {
  auto f = unsafe_cancel(Counter{});
  EXPECT_EQ(testing::poll_once(f).value(), 1);
  EXPECT_EQ(testing::poll_once(f).value(), 2);
}

TEST(FutureTest, MoveGuardIsFreeForUnpinFutures) {
  struct S {
    int x;
    [[no_unique_address]] future_internal::MoveGuard<true> g;
  };
  static_assert(sizeof(S) == sizeof(int));
}

}  // namespace
}  // namespace weft
