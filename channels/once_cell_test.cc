#include "channels/once_cell.h"

#include <memory>
#include <string>
#include <vector>

#include "executor/local_executor.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/gate.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::Gate;
using testing::GateFuture;
using testing::poll_once;

TEST(OnceCellTest, HeaderExample) {
  weft::OnceCell<int> cell;
  EXPECT_EQ(cell.get(), nullptr);
  auto f = cell.get_or_init([] { return weft::ready(7); });
  EXPECT_EQ(weft::testing::poll_once(f).value().get(), 7);
  EXPECT_EQ(*cell.get(), 7);
  EXPECT_TRUE(cell.set(8).error().is_already_initialized());
}

TEST(OnceCellTest, SetOnceAndGiveTheValueBack) {
  OnceCell<std::string> cell;
  EXPECT_FALSE(cell.initialized());
  EXPECT_EQ(cell.get(), nullptr);
  EXPECT_TRUE(cell.set("a").is_ok());
  EXPECT_TRUE(cell.initialized());
  EXPECT_EQ(*cell.get(), "a");
  auto again = cell.set("b");
  ASSERT_TRUE(again.is_err());
  EXPECT_TRUE(again.error().is_already_initialized());
  EXPECT_EQ(std::move(again.error()).into_inner(), "b");
  EXPECT_EQ(*cell.get(), "a");
}

TEST(OnceCellTest, ConstructedWithAValue) {
  OnceCell<int> cell(3);
  EXPECT_TRUE(cell.initialized());
  EXPECT_EQ(*cell.get(), 3);
  int calls = 0;
  auto f = cell.get_or_init([&] {
    ++calls;
    return ready(4);
  });
  EXPECT_EQ(poll_once(f).value().get(), 3);
  EXPECT_EQ(calls, 0);
}

TEST(OnceCellTest, OneInitialiserRunsOthersWaitAndSeeItsValue) {
  OnceCell<int> cell;
  Gate gate;
  int calls_a = 0, calls_b = 0;
  CountingWaker wa, wb;
  auto a = cell.get_or_init([&] {
    ++calls_a;
    return GateFuture<int>(&gate, 1);
  });
  auto b = cell.get_or_init([&] {
    ++calls_b;
    return ready(2);
  });
  EXPECT_TRUE(poll_once(a, wa).is_pending());  // runs its initialiser
  EXPECT_EQ(calls_a, 1);
  EXPECT_TRUE(poll_once(b, wb).is_pending());  // waits for it
  EXPECT_EQ(calls_b, 0);
  auto s = cell.set(9);
  ASSERT_TRUE(s.is_err());
  EXPECT_TRUE(s.error().is_initializing());
  EXPECT_EQ(std::move(s.error()).into_inner(), 9);
  gate.fire();
  EXPECT_EQ(wa.wakes(), 1);
  auto pa = poll_once(a, wa);
  ASSERT_TRUE(pa.is_ready());
  EXPECT_EQ(pa.value().get(), 1);
  EXPECT_EQ(wb.wakes(), 1);  // the value is published: waiters woken
  auto pb = poll_once(b, wb);
  ASSERT_TRUE(pb.is_ready());
  EXPECT_EQ(&pb.value().get(), cell.get());
  EXPECT_EQ(calls_b, 0);
  EXPECT_EQ(wa.outstanding() + wb.outstanding(), 0);
}

TEST(OnceCellTest, DroppedInitialiserLetsTheNextWaiterRunItsOwn) {
  OnceCell<int> cell;
  Gate gate;
  CountingWaker wa, wb, wc;
  auto b = cell.get_or_init([] { return ready(2); });
  auto c = cell.get_or_init([] { return ready(3); });
  {
    auto a = cell.get_or_init([&] { return GateFuture<int>(&gate, 1); });
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(b, wb).is_pending());
    EXPECT_TRUE(poll_once(c, wc).is_pending());
  }  // the initialiser is cancelled (its future destroyed)
  EXPECT_EQ(gate.drops, 1);
  EXPECT_FALSE(cell.initialized());
  EXPECT_EQ(wb.wakes(), 1);  // b, first in line, may initialise now
  EXPECT_EQ(wc.wakes(), 0);
  auto pb = poll_once(b, wb);
  ASSERT_TRUE(pb.is_ready());
  EXPECT_EQ(pb.value().get(), 2);
  EXPECT_EQ(wc.wakes(), 1);
  EXPECT_EQ(poll_once(c, wc).value().get(), 2);
  EXPECT_EQ(wa.outstanding() + wb.outstanding() + wc.outstanding(), 0);
}

TEST(OnceCellTest, DroppedWaiterIsUnlinked) {
  OnceCell<int> cell;
  Gate gate;
  CountingWaker wa, wb;
  auto a = cell.get_or_init([&] { return GateFuture<int>(&gate, 1); });
  EXPECT_TRUE(poll_once(a, wa).is_pending());
  {
    auto b = cell.get_or_init([] { return ready(2); });
    EXPECT_TRUE(poll_once(b, wb).is_pending());
    EXPECT_EQ(wb.outstanding(), 1);
  }
  EXPECT_EQ(wb.outstanding(), 0);
  gate.fire();
  EXPECT_EQ(poll_once(a, wa).value().get(), 1);
}

TEST(OnceCellTest, WaiterHandedThePermitAndDroppedPassesItOn) {
  OnceCell<int> cell;
  Gate gate;
  CountingWaker wa, wb, wc;
  auto c = cell.get_or_init([] { return ready(3); });
  {
    auto b = cell.get_or_init([] { return ready(2); });
    {
      auto a = cell.get_or_init([&] { return GateFuture<int>(&gate, 1); });
      EXPECT_TRUE(poll_once(a, wa).is_pending());
      EXPECT_TRUE(poll_once(b, wb).is_pending());
      EXPECT_TRUE(poll_once(c, wc).is_pending());
    }  // a's permit goes to b...
    EXPECT_EQ(wb.wakes(), 1);
  }  // ...which is dropped before it ran: on to c
  EXPECT_EQ(wc.wakes(), 1);
  EXPECT_EQ(poll_once(c, wc).value().get(), 3);
}

TEST(OnceCellTest, GetOrTryInitErrorLetsTheNextOneTry) {
  OnceCell<int> cell;
  Gate gate;
  CountingWaker wa, wb;
  auto a = cell.get_or_try_init([&] {
    return GateFuture<Result<int, std::string>>(&gate, Err{std::string("no")});
  });
  auto b = cell.get_or_try_init([] { return ready(Result<int, std::string>(5)); });
  EXPECT_TRUE(poll_once(a, wa).is_pending());
  EXPECT_TRUE(poll_once(b, wb).is_pending());
  gate.fire();
  auto pa = poll_once(a, wa);
  ASSERT_TRUE(pa.is_ready());
  ASSERT_TRUE(pa.value().is_err());
  EXPECT_EQ(pa.value().error(), "no");
  EXPECT_FALSE(cell.initialized());
  EXPECT_EQ(wb.wakes(), 1);
  auto pb = poll_once(b, wb);
  ASSERT_TRUE(pb.is_ready());
  ASSERT_TRUE(pb.value().is_ok());
  EXPECT_EQ(pb.value().value().get(), 5);
  EXPECT_EQ(*cell.get(), 5);
  // Already set: no initialiser runs.
  auto c = cell.get_or_try_init([]() -> Ready<Result<int, std::string>> {
    ADD_FAILURE() << "must not run";
    return ready(Result<int, std::string>(6));
  });
  EXPECT_EQ(poll_once(c).value().value().get(), 5);
}

TEST(OnceCellTest, TakeEmptiesTheCellForANewValue) {
  int live = 0;
  {
    OnceCell<testing::Tracked> cell;
    EXPECT_FALSE(cell.take().has_value());
    EXPECT_TRUE(cell.set(testing::Tracked(&live, 1)).is_ok());
    EXPECT_EQ(live, 1);
    auto t = cell.take();
    ASSERT_TRUE(t.has_value());
    EXPECT_EQ(t->value(), 1);
    EXPECT_FALSE(cell.initialized());
    EXPECT_EQ(live, 1);
    auto f = cell.get_or_init([&] { return ready(testing::Tracked(&live, 2)); });
    EXPECT_EQ(poll_once(f).value().get().value(), 2);
    EXPECT_EQ(cell.get_mut()->value(), 2);
    EXPECT_EQ(live, 2);
  }
  EXPECT_EQ(live, 0);  // the cell destroyed its value
  OnceCell<std::string> s("x");
  EXPECT_EQ(std::move(s).into_inner(), "x");
}

TEST(OnceCellTest, FastPathsDoNotAllocate) {
  OnceCell<int> cell;
  auto a = cell.get_or_init([] { return ready(1); });
  auto b = cell.get_or_init([] { return ready(2); });
  testing::ScopedNoAlloc no_alloc;
  EXPECT_EQ(poll_once(a).value().get(), 1);
  EXPECT_EQ(poll_once(b).value().get(), 1);
  EXPECT_EQ(*cell.get(), 1);
}

TEST(OnceCellTest, TasksShareOneInitialisation) {
  LocalExecutor ex;
  OnceCell<std::string> cell;
  int inits = 0;
  std::vector<std::string> seen;
  auto init = [&]() -> Task<std::string> {
    ++inits;
    co_await yield_now();
    co_await yield_now();
    co_return "config";
  };
  auto user = [&]() -> Task<Unit> {
    const std::string& v = co_await cell.get_or_init(init);
    seen.push_back(v);
  };
  std::vector<JoinHandle<Unit>> hs;
  for (int i = 0; i < 6; ++i) hs.push_back(ex.spawn_local(user()));
  ex.run_until_stalled();
  EXPECT_EQ(inits, 1);
  EXPECT_EQ(seen, std::vector<std::string>(6, "config"));
}

TEST(OnceCellTest, AbortedInitialiserTaskHandsOver) {
  LocalExecutor ex;
  OnceCell<int> cell;
  Gate gate;
  int inits = 0;
  auto slow = [&]() -> Task<Unit> {
    co_await cell.get_or_init([&] {
      ++inits;
      return GateFuture<int>(&gate, 1);
    });
  };
  auto fast = [&]() -> Task<int> {
    co_return (co_await cell.get_or_init([&] {
                ++inits;
                return ready(2);
              })).get();
  };
  auto h1 = ex.spawn_local(slow());
  auto h2 = ex.spawn_local(fast());
  ex.run_until_stalled();
  EXPECT_EQ(inits, 1);
  h1.abort();
  ex.run_until_stalled();
  EXPECT_EQ(inits, 2);
  EXPECT_EQ(*cell.get(), 2);
  EXPECT_EQ(ex.block_on(std::move(h2)).value(), 2);
}

}  // namespace
}  // namespace weft
