#include "future/join.h"

#include <cstdint>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/gate.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

using testing::Gate;
using testing::GateFuture;
using testing::Tracked;

// Pending `n` times (waking itself each time), then Ready(v); counts polls.
struct Countdown {
  using Output = int;
  static constexpr bool kUnpin = true;
  int n;
  int v;
  int* polls;
  Poll<int> poll(Context& cx) {
    ++*polls;
    if (n > 0) {
      --n;
      cx.waker().wake_by_ref();
      return Pending{};
    }
    return v;
  }
};

// A leaf that does one unit of budgeted work, then is Ready(v).
struct Budgeted {
  using Output = int;
  static constexpr bool kUnpin = true;
  int v;
  int* polls;
  Poll<int> poll(Context& cx) {
    ++*polls;
    if (!cx.poll_proceed()) return Pending{};
    return v;
  }
};

struct MoveOnly {
  int v;
  MoveOnly(int x) : v(x) {}
  MoveOnly(MoveOnly&&) = default;
  MoveOnly& operator=(MoveOnly&&) = default;
};

TEST(JoinTest, HeaderExample) {
  auto j = weft::join(weft::ready(1), weft::yield_now(), weft::ready('x'));
  EXPECT_TRUE(testing::poll_once(j).is_pending());   // yield_now is not done
  auto [n, unit, c] = testing::poll_once(j).value();  // only yield_now re-polled
  EXPECT_EQ(n, 1);
  EXPECT_EQ(c, 'x');
}

// Compile-time facts.
using JoinRR = Join<Ready<int>, Ready<char>>;
static_assert(Future<JoinRR>);
static_assert(std::is_same_v<OutputOf<JoinRR>, std::tuple<int, char>>);
static_assert(std::is_same_v<decltype(join(ready(1), ready('c'))), JoinRR>);
static_assert(Unpin<JoinRR>);
static_assert(!Unpin<Join<Ready<int>, GateFuture<int, false>>>);
static_assert(!CancelSafe<JoinRR>, "join is not cancel-safe");
static_assert(std::is_same_v<OutputOf<Join<YieldNow>>, std::tuple<Unit>>);
// Size: a slot is max(future, output), plus a one-byte mask (+ padding).
static_assert(sizeof(Join<Ready<std::int64_t>, Ready<std::int64_t>>) <=
              sizeof(Ready<std::int64_t>) * 2 + alignof(std::int64_t));
static_assert(sizeof(Join<Countdown, Countdown, Countdown>) <= 3 * sizeof(Countdown) + 8);
static_assert(sizeof(Join<YieldNow, YieldNow>) <= 3);
// Not Unpin: debug builds add one pointer for the moved-after-poll check.
static_assert(sizeof(Join<GateFuture<int, false>, GateFuture<int, false>>) <=
              2 * sizeof(GateFuture<int, false>) + 8 + (WEFT_DEBUG_CHECKS ? sizeof(void*) : 0));
// join needs futures.
template <class... Fs>
concept CanJoin = requires(Fs... fs) { join(std::move(fs)...); };
static_assert(CanJoin<Ready<int>>);
static_assert(!CanJoin<int, Ready<int>>);
static_assert(!CanJoin<>);

TEST(JoinTest, OutputsInArgumentOrder) {
  auto j = join(ready(1), ready(std::int64_t{2}), ready('c'), ready(MoveOnly(4)));
  auto p = poll_once(j);
  ASSERT_TRUE(p.is_ready());
  auto [a, b, c, d] = std::move(p).value();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 2);
  EXPECT_EQ(c, 'c');
  EXPECT_EQ(d.v, 4);
}

TEST(JoinTest, PollsOnlyUnfinishedChildren) {
  int p0 = 0, p1 = 0, p2 = 0;
  auto j = join(Countdown{0, 10, &p0}, Countdown{2, 20, &p1}, Countdown{1, 30, &p2});
  CountingWaker w;
  EXPECT_TRUE(poll_once(j, w).is_pending());  // child 0 done
  EXPECT_TRUE(poll_once(j, w).is_pending());  // child 2 done
  auto r = poll_once(j, w);                   // child 1 done
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value(), std::make_tuple(10, 20, 30));
  EXPECT_EQ(p0, 1);  // polled once: finished at once, never again
  EXPECT_EQ(p1, 3);
  EXPECT_EQ(p2, 2);
}

TEST(JoinTest, FinishedChildIsDestroyedAtOnceAndWakeupsAreNotLost) {
  Gate a, b;
  CountingWaker w;
  {
    auto j = join(GateFuture<>(&a, 1), GateFuture<>(&b, 2));
    EXPECT_TRUE(poll_once(j, w).is_pending());
    EXPECT_EQ(a.polls, 1);
    EXPECT_EQ(b.polls, 1);
    EXPECT_EQ(w.outstanding(), 2);  // each child holds a clone

    a.fire();
    EXPECT_EQ(w.wakes(), 1);  // the pending result arranged a wake-up
    EXPECT_TRUE(poll_once(j, w).is_pending());
    EXPECT_EQ(a.polls, 2);
    EXPECT_EQ(a.drops, 1);  // destroyed as soon as it was Ready
    EXPECT_EQ(b.polls, 2);

    EXPECT_TRUE(poll_once(j, w).is_pending());  // a spurious poll
    EXPECT_EQ(a.polls, 2);                      // the finished child is not polled again
    EXPECT_EQ(b.polls, 3);

    b.fire();
    EXPECT_EQ(w.wakes(), 2);
    auto r = poll_once(j, w);
    ASSERT_TRUE(r.is_ready());
    EXPECT_EQ(r.value(), std::make_tuple(1, 2));
    EXPECT_EQ(b.drops, 1);
  }
  EXPECT_EQ(a.drops, 1);
  EXPECT_EQ(b.drops, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(JoinTest, CancelAtEveryPendingPoint) {
  // Fire the first k gates, poll, then drop the join.
  for (int k = 0; k <= 2; ++k) {
    Gate g[3];
    int live = 0;
    CountingWaker w;
    {
      auto j = join(GateFuture<Tracked>(&g[0], Tracked(&live, 0)),
                    GateFuture<Tracked>(&g[1], Tracked(&live, 1)),
                    GateFuture<Tracked>(&g[2], Tracked(&live, 2)));
      EXPECT_TRUE(poll_once(j, w).is_pending());
      for (int i = 0; i < k; ++i) g[i].fire();
      EXPECT_TRUE(poll_once(j, w).is_pending());
      EXPECT_EQ(live, 3);  // k outputs stored, 3 - k still in their futures
    }
    for (const Gate& x : g) EXPECT_EQ(x.drops, 1) << "k=" << k;
    EXPECT_EQ(live, 0) << "k=" << k;  // stored outputs were destroyed too
    EXPECT_EQ(w.outstanding(), 0) << "k=" << k;
  }
}

TEST(JoinTest, DestroyedBeforeFirstPoll) {
  Gate a;
  { auto j = join(GateFuture<>(&a, 1), ready(2)); }
  EXPECT_EQ(a.drops, 1);
  EXPECT_EQ(a.polls, 0);
}

TEST(JoinTest, NoAllocation) {
  Gate a, b;
  int polls = 0;
  CountingWaker w;
  testing::ScopedNoAlloc no_alloc;
  auto j = join(GateFuture<>(&a, 1), Countdown{2, 2, &polls}, ready(3), GateFuture<>(&b, 4));
  EXPECT_TRUE(poll_once(j, w).is_pending());
  a.fire();
  EXPECT_TRUE(poll_once(j, w).is_pending());
  b.fire();
  auto r = poll_once(j, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value(), std::make_tuple(1, 2, 3, 4));
}

TEST(JoinTest, PassesTheBudgetDown) {
  int p0 = 0, p1 = 0;
  auto j = join(Budgeted{1, &p0}, Budgeted{2, &p1});
  CountingWaker w;
  Budget one(1);
  EXPECT_TRUE(poll_once(j, w, &one).is_pending());  // child 1 found the budget spent
  EXPECT_EQ(w.wakes(), 1);                          // ... and woke the task
  Budget more(4);
  auto r = poll_once(j, w, &more);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value(), std::make_tuple(1, 2));
  EXPECT_EQ(p0, 1);
  EXPECT_EQ(p1, 2);
  EXPECT_EQ(more.remaining(), 3u);
}

TEST(JoinTest, UnpinJoinMayMoveBetweenPolls) {
  Gate a, b;
  std::optional<Join<GateFuture<>, GateFuture<>>> j;
  j.emplace(GateFuture<>(&a, 1), GateFuture<>(&b, 2));
  CountingWaker w;
  a.fire();
  EXPECT_TRUE(poll_once(*j, w).is_pending());  // a's output is stored
  auto moved = std::move(*j);                   // moves the stored output and b
  j.reset();
  EXPECT_EQ(b.drops, 0);
  b.fire();
  auto r = poll_once(moved, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value(), std::make_tuple(1, 2));
}

TEST(JoinTest, NotUnpinJoinMayMoveBeforeFirstPoll) {
  Gate a;
  auto j = join(GateFuture<int, false>(&a, 5), ready(6));
  auto k = std::move(j);
  a.fire();
  EXPECT_EQ(poll_once(k).value(), std::make_tuple(5, 6));
}

TEST(JoinTest, ManyChildrenAndNesting) {
  auto j = join(ready(0), ready(1), ready(2), ready(3), ready(4), ready(5), ready(6), ready(7),
                ready(8), yield_now());  // 10 children: a 16-bit mask
  static_assert(sizeof(j) <= 10 * sizeof(Ready<int>) + 2);
  EXPECT_TRUE(poll_once(j).is_pending());
  EXPECT_EQ(std::get<8>(poll_once(j).value()), 8);

  auto nested = map(join(join(ready(1), yield_now()), ready(2)), [](auto t) {
    return std::get<0>(std::get<0>(t)) + std::get<1>(t);
  });
  EXPECT_TRUE(poll_once(nested).is_pending());
  EXPECT_EQ(poll_once(nested).value(), 3);
}

#if defined(__cpp_exceptions)
// A future whose move constructor throws when asked to.
struct ThrowOnMove {
  using Output = int;
  static constexpr bool kUnpin = true;
  bool throws;
  explicit ThrowOnMove(bool t) : throws(t) {}
  ThrowOnMove(ThrowOnMove&& o) noexcept(false) : throws(o.throws) {
    if (throws) throw 1;
  }
  Poll<int> poll(Context&) { return 0; }
};

// A value whose move constructor throws at the `*countdown`-th move (0:
// never); counts live ones.
struct ThrowingValue {
  int* live;
  int* countdown;
  ThrowingValue(int* l, int* c) : live(l), countdown(c) { ++*live; }
  ThrowingValue(ThrowingValue&& o) noexcept(false) : live(o.live), countdown(o.countdown) {
    if (*countdown > 0 && --*countdown == 0) throw 2;
    ++*live;
  }
  ~ThrowingValue() { --*live; }
};

TEST(JoinTest, ThrowingChildConstructorDestroysTheChildrenBuilt) {
  Gate a;
  EXPECT_THROW((void)join(GateFuture<>(&a, 1), ThrowOnMove(true)), int);
  EXPECT_EQ(a.drops, 1);
}

TEST(JoinTest, ThrowingOutputAbandonsTheJoin) {
  Gate a, b;
  int live = 0;
  int never = 0;
  int b_moves = 0;
  {
    auto j = join(GateFuture<ThrowingValue>(&a, ThrowingValue(&live, &never)),
                  GateFuture<ThrowingValue>(&b, ThrowingValue(&live, &b_moves)));
    a.fire();
    EXPECT_TRUE(poll_once(j).is_pending());  // a's output is stored
    b.fire();
    // b's poll moves its value into the Poll (1st move); the join moves it
    // into b's slot (2nd move), which throws.
    b_moves = 2;
    EXPECT_THROW((void)poll_once(j), int);
    EXPECT_EQ(a.drops, 1);
    EXPECT_EQ(b.drops, 1);
    EXPECT_EQ(live, 0);  // a's stored output was destroyed too
  }
  EXPECT_EQ(live, 0);  // nothing destroyed twice
}
#endif  // __cpp_exceptions

TEST(JoinDeathTest, PolledAfterReady) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  auto j = join(ready(1), ready(2));
  (void)poll_once(j);
  EXPECT_DEATH((void)poll_once(j), "Join must not be polled after it returned ready");
#endif
}

TEST(JoinDeathTest, MovedAfterFirstPoll) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  EXPECT_DEATH(
      {
        Gate a;
        auto j = join(GateFuture<int, false>(&a, 1), ready(2));
        (void)poll_once(j);
        auto k = std::move(j);
        (void)poll_once(k);
      },
      "Join was moved after its first poll");
#endif
}

}  // namespace
}  // namespace weft
