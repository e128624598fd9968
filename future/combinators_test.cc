#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::PendingOnce;
using testing::poll_once;

// A future that is Pending `n` times (waking each time), then Ready(v); it
// counts its polls and destructions.
struct Countdown {
  using Output = int;
  static constexpr bool kCancelSafe = true;
  int n;
  int v;
  int* polls;
  int* drops = nullptr;
  Countdown(int n_, int v_, int* p, int* d = nullptr) : n(n_), v(v_), polls(p), drops(d) {}
  Countdown(Countdown&& o) noexcept : n(o.n), v(o.v), polls(o.polls), drops(std::exchange(o.drops, nullptr)) {}
  ~Countdown() {
    if (drops != nullptr) ++*drops;
  }
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

// A future that registers a clone of the waker and never completes.
struct Parked {
  using Output = int;
  Waker stored;
  Poll<int> poll(Context& cx) {
    register_waker(stored, cx.waker());
    return Pending{};
  }
};

TEST(ReadyTest, HeaderExample) {
  auto f = weft::ready(7);
  Context cx(noop_waker());
  EXPECT_EQ(f.poll(cx).value(), 7);
}

static_assert(Future<Ready<int>> && CancelSafe<Ready<int>> && Unpin<Ready<int>>);
static_assert(Future<PendingForever<int>> && CancelSafe<PendingForever<int>>);
static_assert(Future<YieldNow> && CancelSafe<YieldNow>);
static_assert(std::is_same_v<OutputOf<decltype(lazy([] {}))>, Unit>);

TEST(ReadyTest, ReadyPendingLazyPollFn) {
  auto p = pending<int>();
  EXPECT_TRUE(poll_once(p).is_pending());
  EXPECT_TRUE(poll_once(p).is_pending());
  int calls = 0;
  auto l = lazy([&] { return ++calls; });
  EXPECT_EQ(calls, 0);  // nothing runs before the first poll
  EXPECT_EQ(poll_once(l).value(), 1);
  int n = 0;
  auto pf = poll_fn([&](Context&) -> Poll<int> {
    if (++n < 3) return Pending{};
    return n;
  });
  EXPECT_TRUE(poll_once(pf).is_pending());
  EXPECT_TRUE(poll_once(pf).is_pending());
  EXPECT_EQ(poll_once(pf).value(), 3);
  auto u = ready();
  EXPECT_EQ(poll_once(u).value(), Unit{});
}

TEST(ReadyDeathTest, PollAfterReadyIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  auto f = ready(1);
  (void)poll_once(f);
  EXPECT_DEATH((void)poll_once(f), "Ready must not be polled after it returned ready");
}

TEST(YieldNowTest, PendingOnceWithAWakeThenReady) {
  CountingWaker w;
  auto y = yield_now();
  EXPECT_TRUE(poll_once(y, w).is_pending());
  EXPECT_EQ(w.wakes(), 1);  // woke itself: the executor polls it again
  EXPECT_TRUE(poll_once(y, w).is_ready());
  EXPECT_EQ(w.wakes(), 1);
}

TEST(MapTest, HeaderExample) {
  auto f = weft::map(weft::ready(20), [](int x) { return x + 1; });
  auto g = weft::then(std::move(f), [](int x) { return weft::ready(x * 2); });
  EXPECT_EQ(testing::poll_once(g).value(), 42);
}

TEST(MapTest, MapsOnlyWhenReadyAndForwardsWakeups) {
  int polls = 0;
  int calls = 0;
  auto m = map(Countdown(2, 5, &polls), [&](int x) {
    ++calls;
    return std::to_string(x);
  });
  static_assert(std::is_same_v<OutputOf<decltype(m)>, std::string>);
  CountingWaker w;
  EXPECT_TRUE(poll_once(m, w).is_pending());
  EXPECT_TRUE(poll_once(m, w).is_pending());
  EXPECT_EQ(w.wakes(), 2);  // the child's wakes reached our waker
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(poll_once(m, w).value(), "5");
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(polls, 3);  // no needless re-poll
}

TEST(MapTest, VoidFunctionGivesUnit) {
  int seen = 0;
  auto m = map(ready(3), [&](int x) { seen = x; });
  static_assert(std::is_same_v<OutputOf<decltype(m)>, Unit>);
  EXPECT_TRUE(poll_once(m).is_ready());
  EXPECT_EQ(seen, 3);
}

TEST(MapTest, SizeIsTheSumOfItsParts) {
  auto m = map(ready(1), [](int x) { return x; });
  // Ready<int> plus the engaged flag of the consumed function.
  static_assert(sizeof(m) <= sizeof(Ready<int>) + alignof(Ready<int>));
  auto cap = map(ready(1), [p = static_cast<int*>(nullptr)](int x) { return x + (p ? 1 : 0); });
  static_assert(sizeof(cap) <= sizeof(Ready<int>) + 2 * sizeof(void*));
  SUCCEED();
}

TEST(MapTest, CancellationDropsTheChildAndItsWaker) {
  CountingWaker w;
  {
    auto m = map(Parked{}, [](int x) { return x; });
    EXPECT_TRUE(poll_once(m, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);  // the child holds a clone
  }
  EXPECT_EQ(w.outstanding(), 0);  // dropped with the child
}

TEST(MapDeathTest, PollAfterReadyNamesTheCombinator) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  auto m = map(ready(1), [](int x) { return x; });
  (void)poll_once(m);
  EXPECT_DEATH((void)poll_once(m), "Map must not be polled after it returned ready");
}

TEST(MapDeathTest, MovingANonUnpinFutureAfterPollIsCaught) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  struct NotUnpin {
    using Output = int;
    Poll<int> poll(Context&) { return Pending{}; }
  };
  static_assert(!Unpin<NotUnpin>);
  auto m = map(NotUnpin{}, [](int x) { return x; });
  (void)poll_once(m);
  EXPECT_DEATH(
      {
        auto moved = std::move(m);
        (void)poll_once(moved);
      },
      "Map was moved after its first poll");
}

TEST(InspectTest, SeesTheOutputOnce) {
  int seen = 0;
  int polls = 0;
  auto f = inspect(Countdown(1, 9, &polls), [&](const int& x) { seen += x; });
  EXPECT_TRUE(poll_once(f).is_pending());
  EXPECT_EQ(seen, 0);
  EXPECT_EQ(poll_once(f).value(), 9);
  EXPECT_EQ(seen, 9);
  static_assert(CancelSafe<decltype(f)>);
}

TEST(ThenTest, RunsTheSecondFutureAndDropsTheFirstEarly) {
  int polls1 = 0, polls2 = 0, drops1 = 0;
  auto t = then(Countdown(1, 4, &polls1, &drops1), [&](int x) { return Countdown(1, x * 10, &polls2); });
  CountingWaker w;
  EXPECT_TRUE(poll_once(t, w).is_pending());  // first pending
  EXPECT_TRUE(poll_once(t, w).is_pending());  // first ready, second pending
  EXPECT_EQ(drops1, 1);                       // the first was destroyed at the transition
  EXPECT_EQ(poll_once(t, w).value(), 40);
  EXPECT_EQ(polls1, 2);
  EXPECT_EQ(polls2, 2);
  EXPECT_EQ(w.wakes(), 2);
  static_assert(!CancelSafe<decltype(t)>);
}

TEST(ThenTest, CancellationAtEachPendingPoint) {
  CountingWaker w;
  {  // pending in the first future
    auto t = then(Parked{}, [](int) { return ready(1); });
    (void)poll_once(t, w);
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  {  // pending in the second
    auto t = then(ready(1), [](int) { return Parked{}; });
    (void)poll_once(t, w);
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
}

// A future that counts its moves (Ready(v) at the first poll).
struct MoveCounting {
  using Output = int;
  int v;
  int* moves;
  MoveCounting(int value, int* m) : v(value), moves(m) {}
  MoveCounting(MoveCounting&& o) noexcept : v(o.v), moves(o.moves) { *moves += 1; }
  Poll<int> poll(Context&) { return v; }
};

TEST(ThenTest, BuildsTheSecondFutureInPlace) {
  int moves = 0;
  auto t = then(ready(2), [&](int x) { return MoveCounting(x * 10, &moves); });
  EXPECT_EQ(poll_once(t).value(), 20);
  EXPECT_EQ(moves, 0);  // the future fn returned was never moved into the state
}

#if defined(__cpp_exceptions)
TEST(ThenTest, AnExceptionFromTheFunctionLeavesNothingBehind) {
  int drops = 0;
  struct Tracked {
    explicit Tracked(int* d) : drops(d) {}
    int* drops;
    ~Tracked() { *drops += 1; }
  };
  {
    auto t = then(ready(1), [tr = std::make_shared<Tracked>(&drops)](int) -> Ready<int> {
      throw std::runtime_error("then");
    });
    EXPECT_THROW((void)poll_once(t), std::runtime_error);
    EXPECT_EQ(drops, 1);  // the function (and its capture) died while the exception left
  }
  EXPECT_EQ(drops, 1);  // and only once
}
#endif

TEST(FlattenTest, AwaitsTheInnerFuture) {
  int polls = 0;
  auto f = flatten(map(ready(2), [&](int x) { return Countdown(x, x, &polls); }));
  int pendings = 0;
  Poll<int> p = Pending{};
  while ((p = poll_once(f)).is_pending()) ++pendings;
  EXPECT_EQ(pendings, 2);
  EXPECT_EQ(p.value(), 2);
}

TEST(FuseTest, PendingForeverAfterReady) {
  auto f = fuse(ready(5));
  EXPECT_FALSE(f.is_terminated());
  EXPECT_EQ(poll_once(f).value(), 5);
  EXPECT_TRUE(f.is_terminated());
  CountingWaker w;
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_EQ(w.outstanding(), 0);  // registers nothing
}

TEST(CombinatorsTest, NoAllocation) {
  testing::ScopedNoAlloc no_alloc;
  int polls = 0;
  auto f = fuse(then(map(Countdown(3, 1, &polls), [](int x) { return x + 1; }),
                     [](int x) { return inspect(ready(x * 3), [](const int&) {}); }));
  Poll<int> p = Pending{};
  while ((p = poll_once(f)).is_pending()) {
  }
  EXPECT_EQ(p.value(), 6);
  auto y = yield_now();
  (void)poll_once(y);
  (void)poll_once(y);
}

TEST(CombinatorsTest, PendingOnceChildIsRepolled) {
  auto f = map(PendingOnce(ready(1)), [](int x) { return x + 1; });
  CountingWaker w;
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 2);
}

}  // namespace
}  // namespace weft
