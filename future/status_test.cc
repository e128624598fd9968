#include "future/status.h"

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/gate.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::PendingOnce;
using testing::poll_once;

using testing::Gate;
using testing::GateFuture;
using testing::Tracked;

template <class T>
Ready<absl::StatusOr<T>> ok(T v) {
  return ready(absl::StatusOr<T>(std::move(v)));
}
template <class T>
Ready<absl::StatusOr<T>> err(absl::Status s) {
  return ready(absl::StatusOr<T>(std::move(s)));
}

TEST(StatusTest, HeaderExample) {
  auto f = weft::and_then(weft::ready(absl::StatusOr<int>(20)),
                          [](int x) { return weft::ready(absl::StatusOr<int>(x + 1)); });
  auto j = weft::try_join(std::move(f), weft::ready(absl::OkStatus()));
  auto [n, unit] = testing::poll_once(j).value().value();
  EXPECT_EQ(n, 21);
}

// Compile-time facts.
using IntToStr = Ready<absl::StatusOr<std::string>> (*)(int);
using AT = AndThen<Ready<absl::StatusOr<int>>, IntToStr>;
static_assert(Future<AT>);
static_assert(std::is_same_v<OutputOf<AT>, absl::StatusOr<std::string>>);
static_assert(Unpin<AT> && !CancelSafe<AT>);
using ME = MapErr<Ready<absl::Status>, absl::Status (*)(absl::Status)>;
static_assert(Future<ME> && CancelSafe<ME> && std::is_same_v<OutputOf<ME>, absl::Status>);
using TJ = TryJoin<Ready<absl::StatusOr<int>>, Ready<absl::Status>, Ready<absl::StatusOr<char>>>;
static_assert(std::is_same_v<OutputOf<TJ>, absl::StatusOr<std::tuple<int, Unit, char>>>);
static_assert(Unpin<TJ> && !CancelSafe<TJ>);
static_assert(!Unpin<TryJoin<GateFuture<absl::Status, false>>>);
static_assert(sizeof(TryJoin<Ready<absl::StatusOr<int>>, Ready<absl::StatusOr<int>>>) <=
              2 * sizeof(Ready<absl::StatusOr<int>>) + 8);
// Only futures of Status / StatusOr.
template <class... Fs>
concept CanTryJoin = requires(Fs... fs) { try_join(std::move(fs)...); };
static_assert(CanTryJoin<Ready<absl::Status>>);
static_assert(!CanTryJoin<Ready<int>>);
template <class F>
concept CanMapErr = requires(F f) { map_err(std::move(f), [](absl::Status s) { return s; }); };
static_assert(CanMapErr<Ready<absl::Status>> && !CanMapErr<Ready<int>>);

TEST(AndThenTest, OkContinuesWithTheValue) {
  auto f = and_then(PendingOnce(ok(20)), [](int x) { return PendingOnce(ok(std::to_string(x))); });
  CountingWaker w;
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_TRUE(poll_once(f, w).is_pending());  // the second future's first poll
  EXPECT_EQ(w.wakes(), 2);
  auto r = poll_once(f, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value().value(), "20");
}

TEST(AndThenTest, ErrorShortCircuits) {
  int calls = 0;
  auto f = and_then(err<int>(absl::NotFoundError("gone")), [&](int) {
    ++calls;
    return ok(std::string("never"));
  });
  auto r = poll_once(f);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value().status(), absl::NotFoundError("gone"));
  EXPECT_EQ(calls, 0);
}

TEST(AndThenTest, StatusOutputs) {
  auto f = and_then(ready(absl::OkStatus()), [] { return ok(5); });
  EXPECT_EQ(poll_once(f).value().value(), 5);
  auto g = and_then(ok(1), [](int) { return ready(absl::InternalError("x")); });
  EXPECT_EQ(poll_once(g).value(), absl::InternalError("x"));
  auto h = and_then(ready(absl::AbortedError("a")), [] { return ready(absl::OkStatus()); });
  EXPECT_EQ(poll_once(h).value(), absl::AbortedError("a"));
}

TEST(AndThenTest, CancelInEachState) {
  Gate a, b;
  CountingWaker w;
  {
    auto f = and_then(GateFuture<absl::StatusOr<int>>(&a, 1),
                      [&](int x) { return GateFuture<absl::StatusOr<int>>(&b, x + 1); });
    EXPECT_TRUE(poll_once(f, w).is_pending());  // first state
    a.fire();
    EXPECT_TRUE(poll_once(f, w).is_pending());  // second state
    EXPECT_EQ(a.drops, 1);
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(b.drops, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

// A future of absl::StatusOr<int> that counts its moves.
struct MoveCountingStatus {
  using Output = absl::StatusOr<int>;
  int v;
  int* moves;
  MoveCountingStatus(int value, int* m) : v(value), moves(m) {}
  MoveCountingStatus(MoveCountingStatus&& o) noexcept : v(o.v), moves(o.moves) { *moves += 1; }
  Poll<Output> poll(Context&) { return Output(v); }
};

TEST(AndThenTest, TheFunctionsFutureIsBuiltInPlace) {
  int moves = 0;
  auto a = and_then(ready(absl::StatusOr<int>(2)), [&](int x) { return MoveCountingStatus(x + 1, &moves); });
  EXPECT_EQ(*testing::poll_once(a).value(), 3);
  auto b = or_else(ready(absl::StatusOr<int>(absl::InternalError("x"))),
                   [&](absl::Status) { return MoveCountingStatus(7, &moves); });
  EXPECT_EQ(*testing::poll_once(b).value(), 7);
  EXPECT_EQ(moves, 0);
}

TEST(OrElseTest, OkPassesThroughAndErrorRecovers) {
  int calls = 0;
  auto f = or_else(ok(3), [&](absl::Status) {
    ++calls;
    return ok(0);
  });
  EXPECT_EQ(poll_once(f).value().value(), 3);
  EXPECT_EQ(calls, 0);

  auto g = or_else(PendingOnce(err<int>(absl::UnavailableError("retry"))), [&](absl::Status s) {
    ++calls;
    EXPECT_EQ(s, absl::UnavailableError("retry"));
    return PendingOnce(ok(7));
  });
  EXPECT_TRUE(poll_once(g).is_pending());
  EXPECT_TRUE(poll_once(g).is_pending());
  EXPECT_EQ(poll_once(g).value().value(), 7);
  EXPECT_EQ(calls, 1);

  auto h = or_else(ready(absl::CancelledError()), [](absl::Status) { return ready(absl::OkStatus()); });
  EXPECT_TRUE(poll_once(h).value().ok());
}

TEST(MapErrTest, MapsOnlyErrors) {
  auto add_context = [](absl::Status s) {
    return absl::Status(s.code(), std::string("reading config: ") + std::string(s.message()));
  };
  auto f = map_err(ok(1), add_context);
  EXPECT_EQ(poll_once(f).value().value(), 1);
  auto g = map_err(err<int>(absl::NotFoundError("no file")), add_context);
  EXPECT_EQ(poll_once(g).value().status(), absl::NotFoundError("reading config: no file"));
  auto h = map_err(ready(absl::InternalError("x")), [](absl::Status) { return absl::OkStatus(); });
  EXPECT_TRUE(poll_once(h).value().ok());  // a Status may be mapped to OK
}

TEST(TryJoinTest, AllOkGivesEveryValue) {
  Gate a, b;
  CountingWaker w;
  auto j = try_join(GateFuture<absl::StatusOr<std::string>>(&a, std::string("x")),
                    GateFuture<absl::Status>(&b, absl::OkStatus()), ok(3));
  EXPECT_TRUE(poll_once(j, w).is_pending());
  b.fire();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(j, w).is_pending());
  EXPECT_EQ(b.drops, 1);
  EXPECT_TRUE(poll_once(j, w).is_pending());
  EXPECT_EQ(b.polls, 2);  // a finished child is not polled again
  EXPECT_EQ(a.polls, 3);
  a.fire();
  auto r = poll_once(j, w);
  ASSERT_TRUE(r.is_ready());
  ASSERT_TRUE(r.value().ok());
  EXPECT_EQ(*r.value(), std::make_tuple(std::string("x"), Unit{}, 3));
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(TryJoinTest, FirstErrorCancelsTheRestBeforeReturning) {
  Gate a, b, c;
  int live = 0;
  CountingWaker w;
  auto j = try_join(GateFuture<absl::StatusOr<Tracked>>(&a, Tracked(&live, 1)),
                    GateFuture<absl::Status>(&b, absl::DataLossError("bad")),
                    GateFuture<absl::StatusOr<int>>(&c, 3));
  EXPECT_TRUE(poll_once(j, w).is_pending());
  a.fire();
  EXPECT_TRUE(poll_once(j, w).is_pending());  // a's value is stored
  EXPECT_EQ(live, 1);
  EXPECT_EQ(w.outstanding(), 2);
  const int c_polls = c.polls;
  b.fire();
  auto r = poll_once(j, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(r.value().status(), absl::DataLossError("bad"));
  // While `j` is still alive: everything inside it is already gone.
  EXPECT_EQ(c.polls, c_polls);  // not polled after the error
  EXPECT_EQ(b.drops, 1);
  EXPECT_EQ(c.drops, 1);
  EXPECT_EQ(live, 0);  // a's stored value was destroyed too
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(TryJoinTest, CancelWhilePending) {
  Gate a, b;
  int live = 0;
  CountingWaker w;
  {
    auto j = try_join(GateFuture<absl::StatusOr<Tracked>>(&a, Tracked(&live)),
                      GateFuture<absl::Status>(&b, absl::OkStatus()));
    a.fire();
    EXPECT_TRUE(poll_once(j, w).is_pending());
    EXPECT_EQ(live, 1);
  }
  EXPECT_EQ(a.drops, 1);
  EXPECT_EQ(b.drops, 1);
  EXPECT_EQ(live, 0);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(TryJoinTest, NoAllocationOnTheOkPath) {
  Gate a;
  CountingWaker w;
  testing::ScopedNoAlloc no_alloc;
  auto j = try_join(GateFuture<absl::StatusOr<int>>(&a, 1), ready(absl::OkStatus()), ok(2));
  EXPECT_TRUE(poll_once(j, w).is_pending());
  a.fire();
  auto r = poll_once(j, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_EQ(*r.value(), std::make_tuple(1, Unit{}, 2));
}

TEST(StatusDeathTest, ContractViolations) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  auto j = try_join(ready(absl::OkStatus()));
  (void)poll_once(j);
  EXPECT_DEATH((void)poll_once(j), "TryJoin must not be polled after it returned ready");
  auto f = and_then(ok(1), [](int x) { return ok(x); });
  (void)poll_once(f);
  EXPECT_DEATH((void)poll_once(f), "AndThen must not be polled after it returned ready");
  auto g = or_else(ok(1), [](absl::Status) { return ok(0); });
  (void)poll_once(g);
  EXPECT_DEATH((void)poll_once(g), "OrElse must not be polled after it returned ready");
  auto h = map_err(err<int>(absl::InternalError("x")), [](absl::Status) { return absl::OkStatus(); });
  EXPECT_DEATH((void)poll_once(h), "map_err: the function returned OK for a StatusOr output");
  EXPECT_DEATH(
      {
        Gate a;
        auto t = try_join(GateFuture<absl::Status, false>(&a, absl::OkStatus()));
        (void)poll_once(t);
        auto u = std::move(t);
        (void)poll_once(u);
      },
      "TryJoin was moved after its first poll");
#endif
}

}  // namespace
}  // namespace weft
