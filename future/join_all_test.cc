#include "future/join_all.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/gate.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::AllocCounter;
using testing::CountingWaker;
using testing::poll_once;

using testing::Gate;
using testing::GateFuture;
using testing::Tracked;

// A future whose move constructor may throw (select_all's rebuild path).
struct ThrowingMove {
  using Output = int;
  static constexpr bool kUnpin = true;
  int v;
  bool ready;
  explicit ThrowingMove(int x, bool r) : v(x), ready(r) {}
  ThrowingMove(ThrowingMove&& o) noexcept(false) : v(o.v), ready(o.ready) {}
  Poll<int> poll(Context&) {
    if (ready) return v;
    return Pending{};
  }
};

template <std::size_t N>
std::vector<GateFuture<>> gates(std::array<Gate, N>& g) {
  std::vector<GateFuture<>> v;
  for (std::size_t i = 0; i < N; ++i) v.emplace_back(&g[i], static_cast<int>(i) * 10);
  return v;
}

TEST(JoinAllTest, HeaderExample) {
  std::vector<weft::Ready<int>> v;
  for (int i = 0; i < 3; ++i) v.push_back(weft::ready(i * 10));
  auto all = weft::join_all(std::move(v));
  EXPECT_EQ(testing::poll_once(all).value(), (std::vector<int>{0, 10, 20}));
}

// Compile-time facts.
static_assert(Future<JoinAll<Ready<int>>>);
static_assert(std::is_same_v<OutputOf<JoinAll<Ready<int>>>, std::vector<int>>);
static_assert(Unpin<JoinAll<GateFuture<int, false>>>, "children live on the heap");
static_assert(!CancelSafe<JoinAll<Ready<int>>>);
static_assert(Future<SelectAll<Ready<int>>>);
static_assert(std::is_same_v<OutputOf<SelectAll<Ready<int>>>, SelectAllOutput<Ready<int>>>);
static_assert(CancelSafe<SelectAll<Ready<int>>> && Unpin<SelectAll<Ready<int>>>);
static_assert(!CancelSafe<SelectAll<ThrowingMove>>);

TEST(JoinAllTest, OutputsInInputOrderAndOnlyUnfinishedChildrenArePolled) {
  std::array<Gate, 4> g;
  CountingWaker w;
  auto all = join_all(gates(g));
  EXPECT_TRUE(poll_once(all, w).is_pending());
  EXPECT_EQ(w.outstanding(), 4);

  g[2].fire();
  g[0].fire();
  EXPECT_EQ(w.wakes(), 2);
  EXPECT_TRUE(poll_once(all, w).is_pending());
  EXPECT_EQ(all.running(), 2u);
  EXPECT_EQ(g[0].drops, 1);  // destroyed as soon as it was Ready
  EXPECT_EQ(g[2].drops, 1);

  EXPECT_TRUE(poll_once(all, w).is_pending());
  EXPECT_EQ(g[0].polls, 2);  // finished children are skipped
  EXPECT_EQ(g[2].polls, 2);
  EXPECT_EQ(g[1].polls, 3);
  EXPECT_EQ(g[3].polls, 3);

  g[3].fire();
  g[1].fire();
  auto r = poll_once(all, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value(), (std::vector<int>{0, 10, 20, 30}));
  EXPECT_EQ(w.outstanding(), 0);
  for (const Gate& x : g) EXPECT_EQ(x.drops, 1);
}

TEST(JoinAllTest, EmptyIsReadyAtOnceWithoutAllocating) {
  auto all = join_all(std::vector<Ready<int>>{});
  testing::ScopedNoAlloc no_alloc;
  auto r = poll_once(all);
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r.value().empty());
}

TEST(JoinAllTest, AllocatesOnceToBuildAndOnceForTheResult) {
  std::array<Gate, 3> g;
  std::vector<GateFuture<>> v = gates(g);
  CountingWaker w;
  std::optional<JoinAll<GateFuture<>>> all;
  {
    AllocCounter c;
    all.emplace(std::move(v));
    EXPECT_EQ(c.allocations(), 1u);  // the slot array
  }
  {
    AllocCounter c;
    EXPECT_TRUE(poll_once(*all, w).is_pending());
    g[1].fire();
    EXPECT_TRUE(poll_once(*all, w).is_pending());
    g[0].fire();
    g[2].fire();
    auto r = poll_once(*all, w);
    ASSERT_TRUE(r.is_ready());
    EXPECT_EQ(c.allocations(), 1u);  // the result vector
  }
}

TEST(JoinAllTest, CancelAtEveryPendingPoint) {
  for (int k = 0; k <= 3; ++k) {
    std::array<Gate, 3> g;
    int live = 0;
    CountingWaker w;
    {
      std::vector<GateFuture<Tracked>> v;
      for (int i = 0; i < 3; ++i) v.emplace_back(&g[i], Tracked(&live, i));
      auto all = join_all(std::move(v));
      EXPECT_TRUE(poll_once(all, w).is_pending());
      for (int i = 0; i < k && i < 3; ++i) g[i].fire();
      if (k < 3) {
        EXPECT_TRUE(poll_once(all, w).is_pending());
      }
      EXPECT_EQ(live, 3);
    }
    for (const Gate& x : g) EXPECT_EQ(x.drops, 1) << "k=" << k;
    EXPECT_EQ(live, 0) << "k=" << k;
    EXPECT_EQ(w.outstanding(), 0) << "k=" << k;
  }
}

TEST(JoinAllTest, MovesBetweenPolls) {
  std::array<Gate, 2> g;
  auto all = join_all(gates(g));
  g[0].fire();
  EXPECT_TRUE(poll_once(all).is_pending());
  auto moved = std::move(all);  // Unpin: the slots stay where they are
  g[1].fire();
  EXPECT_EQ(poll_once(moved).value(), (std::vector<int>{0, 10}));
}

TEST(JoinAllTest, ChildrenThatAreNotUnpinNeverMove) {
  std::array<Gate, 3> g;
  std::vector<testing::AssertUnmoved<GateFuture<int, false>>> v;
  for (int i = 0; i < 3; ++i) v.emplace_back(GateFuture<int, false>(&g[i], i));
  auto all = join_all(std::move(v));
  EXPECT_TRUE(poll_once(all).is_pending());
  auto moved = std::move(all);  // AssertUnmoved aborts if a child moved
  for (Gate& x : g) x.fire();
  EXPECT_EQ(poll_once(moved).value(), (std::vector<int>{0, 1, 2}));
}

TEST(JoinAllDeathTest, PolledAfterReady) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  auto all = join_all(std::vector<Ready<int>>{});
  (void)poll_once(all);
  EXPECT_DEATH((void)poll_once(all), "JoinAll must not be polled after it returned ready");
#endif
}

TEST(SelectAllTest, WinnerIndexAndRemainingInOrder) {
  std::array<Gate, 4> g;
  CountingWaker w;
  auto s = select_all(gates(g));
  EXPECT_TRUE(poll_once(s, w).is_pending());
  EXPECT_EQ(w.outstanding(), 4);
  g[2].fire();
  EXPECT_EQ(w.wakes(), 1);
  AllocCounter c;
  auto r = poll_once(s, w);
  EXPECT_EQ(c.allocations(), 0u);  // the winner is removed in place
  ASSERT_TRUE(r.is_ready());
  SelectAllOutput<GateFuture<>> out = std::move(r).value();
  EXPECT_EQ(out.output, 20);
  EXPECT_EQ(out.index, 2u);
  ASSERT_EQ(out.remaining.size(), 3u);
  EXPECT_EQ(out.remaining[0].gate(), &g[0]);
  EXPECT_EQ(out.remaining[1].gate(), &g[1]);
  EXPECT_EQ(out.remaining[2].gate(), &g[3]);
  EXPECT_EQ(g[2].drops, 1);  // only the winner is gone
  EXPECT_EQ(g[0].drops + g[1].drops + g[3].drops, 0);
  EXPECT_EQ(w.outstanding(), 3);  // the others are still waiting
  out.remaining.clear();
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(SelectAllTest, DrainInALoop) {
  std::array<Gate, 3> g;
  for (Gate& x : g) x.open = true;
  std::vector<GateFuture<>> rest = gates(g);
  std::vector<int> got;
  while (!rest.empty()) {
    auto s = select_all(std::move(rest));
    auto out = std::move(poll_once(s)).value();
    got.push_back(out.output);
    rest = std::move(out.remaining);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int>{0, 10, 20}));
  for (const Gate& x : g) EXPECT_EQ(x.drops, 1);
}

TEST(SelectAllTest, RotatingStartIsFair) {
  int wins[3] = {0, 0, 0};
  for (int i = 0; i < 30; ++i) {
    std::vector<Ready<int>> v;
    for (int k = 0; k < 3; ++k) v.push_back(ready(k));
    auto s = select_all(std::move(v));
    ++wins[poll_once(s).value().index];
  }
  EXPECT_EQ(wins[0], 10);
  EXPECT_EQ(wins[1], 10);
  EXPECT_EQ(wins[2], 10);
}

TEST(SelectAllTest, MoveThatMayThrowRebuildsRemaining) {
  std::vector<ThrowingMove> v;
  v.emplace_back(0, false);
  v.emplace_back(1, true);
  v.emplace_back(2, false);
  auto s = select_all(std::move(v));
  auto out = std::move(poll_once(s)).value();
  EXPECT_EQ(out.output, 1);
  EXPECT_EQ(out.index, 1u);
  ASSERT_EQ(out.remaining.size(), 2u);
  EXPECT_EQ(out.remaining[0].v, 0);
  EXPECT_EQ(out.remaining[1].v, 2);
}

TEST(SelectAllTest, CancelDropsEveryChild) {
  std::array<Gate, 3> g;
  CountingWaker w;
  {
    auto s = select_all(gates(g));
    EXPECT_TRUE(poll_once(s, w).is_pending());
  }
  for (const Gate& x : g) EXPECT_EQ(x.drops, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(SelectAllDeathTest, EmptyAndPolledAfterReady) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  EXPECT_DEATH((void)select_all(std::vector<Ready<int>>{}), "select_all needs at least one future");
  std::vector<Ready<int>> v;
  v.push_back(ready(1));
  auto s = select_all(std::move(v));
  (void)poll_once(s);
  EXPECT_DEATH((void)poll_once(s), "SelectAll must not be polled after it returned ready");
#endif
}

}  // namespace
}  // namespace weft
