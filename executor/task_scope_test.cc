#include "executor/task_scope.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "executor/local_executor.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

static_assert(CancelSafe<JoinNext<JoinSet<int>>>);
static_assert(CancelSafe<JoinNextWithId<JoinSet<int>>>);
static_assert(!std::is_move_constructible_v<TaskScope<int>>);
static_assert(std::is_move_constructible_v<JoinSet<int>>);

// Pending until fired (single thread).
struct Gate {
  bool open = false;
  Waker waker;
  void fire() {
    open = true;
    std::move(waker).wake();
  }
  auto wait() {
    return poll_fn([this](Context& cx) -> Poll<Unit> {
      if (open) return Unit{};
      register_waker(waker, cx.waker());
      return Pending{};
    });
  }
};

// Never ready; records its destruction through a pointer it borrows.
struct Borrower {
  using Output = Unit;
  static constexpr bool kUnpin = true;
  int* parent_local;
  explicit Borrower(int* p) : parent_local(p) {}
  Borrower(Borrower&& o) noexcept : parent_local(std::exchange(o.parent_local, nullptr)) {}
  ~Borrower() {
    if (parent_local != nullptr) *parent_local += 100;  // touches the parent's frame
  }
  Poll<Unit> poll(Context&) {
    *parent_local += 1;
    return Pending{};
  }
};

weft::Task<int> sum_of_squares(weft::LocalExecutor& ex) {
  std::vector<int> inputs = {1, 2, 3};  // borrowed by the children
  weft::TaskScope<int> scope(ex);
  for (const int& x : inputs) scope.spawn(weft::lazy([&x] { return x * x; }));
  int sum = 0;
  while (auto r = co_await scope.join_next()) sum += r->value();
  co_return sum;  // 14
}

TEST(TaskScopeTest, HeaderExample) {
  LocalExecutor ex;
  EXPECT_EQ(ex.block_on(sum_of_squares(ex)), 14);
}

TEST(TaskScopeTest, ChildBorrowsAParentLocalAndIsJoinedBeforeItDies) {
  LocalExecutor ex;
  int observed = 0;
  auto parent = [&]() -> Task<> {
    int local = 0;  // lives in the coroutine frame
    {
      TaskScope<Unit> scope(ex);
      scope.spawn(Borrower(&local));
      scope.spawn(Borrower(&local));
      co_await yield_now();  // let the children run (they write `local`)
      EXPECT_EQ(local, 2);
      EXPECT_EQ(ex.live_tasks(), 3u);
    }  // the scope cancels and joins both: their destructors write `local`
    observed = local;
    EXPECT_EQ(ex.live_tasks(), 1u);  // just the parent
  };
  ex.block_on(ex.spawn_local(parent()));  // the parent is a task too
  EXPECT_EQ(observed, 202);
}

TEST(TaskScopeTest, ScopeOnTheStackOutsideAnyTask) {
  LocalExecutor ex;
  int local = 0;
  {
    TaskScope<Unit> scope(ex);
    scope.spawn(Borrower(&local));  // queued, never polled
    ex.run_until_stalled();
    scope.spawn(Borrower(&local));  // queued, not polled
    EXPECT_EQ(scope.len(), 2u);
  }
  EXPECT_EQ(local, 201);
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST(TaskScopeTest, JoinNextYieldsInCompletionOrder) {
  LocalExecutor ex;
  Gate a, b, c;
  auto parent = [&]() -> Task<std::vector<int>> {
    TaskScope<int> scope(ex);
    scope.spawn(map(a.wait(), [](Unit) { return 1; }));
    scope.spawn(map(b.wait(), [](Unit) { return 2; }));
    scope.spawn(map(c.wait(), [](Unit) { return 3; }));
    co_await yield_now();
    b.fire();
    c.fire();
    a.fire();
    std::vector<int> order;
    while (auto r = co_await scope.join_next()) order.push_back(r->value());
    EXPECT_EQ(scope.len(), 0u);
    co_return order;
  };
  EXPECT_EQ(ex.block_on(parent()), (std::vector<int>{2, 3, 1}));
}

TEST(TaskScopeTest, JoinNextOnEmptySetIsNullopt) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  auto r = ex.block_on(set.join_next());
  EXPECT_FALSE(r.has_value());
}

TEST(TaskScopeTest, JoinNextIsCancelSafe) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  Gate g;
  set.spawn(map(g.wait(), [](Unit) { return 5; }));
  ex.run_until_stalled();
  testing::CountingWaker w;
  {
    auto next = set.join_next();
    EXPECT_TRUE(testing::poll_once(next, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }  // dropped while pending: nothing lost, no waker left behind
  EXPECT_EQ(w.outstanding(), 0);
  g.fire();
  ex.run_until_stalled();
  auto r = ex.block_on(set.join_next());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value(), 5);
}

TEST(TaskScopeTest, JoinNextWithIdTellsWhichTaskEachResultCameFrom) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  Gate a, b;
  const TaskId ia = set.spawn(map(a.wait(), [](Unit) { return 1; }));
  const TaskId ib = set.spawn(map(b.wait(), [](Unit) { return 2; }));
  ASSERT_NE(ia, ib);
  ex.run_until_stalled();
  EXPECT_TRUE(set.abort(ia));  // a cancelled result still names its task
  b.fire();
  std::vector<std::pair<TaskId, bool>> got;  // (id, cancelled)
  for (;;) {
    std::optional<JoinedTask<int>> j = ex.block_on(set.join_next_with_id());
    if (!j.has_value()) break;
    got.emplace_back(j->id, j->result.is_cancelled());
    if (j->id == ib) {
      EXPECT_EQ(j->result.value(), 2);
    }
  }
  std::sort(got.begin(), got.end());
  std::vector<std::pair<TaskId, bool>> want = {{ia, true}, {ib, false}};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(got, want);
}

TEST(TaskScopeTest, AbortByIdCancelsOnlyThatTask) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  Gate a, b;
  const TaskId ia = set.spawn(map(a.wait(), [](Unit) { return 1; }));
  set.spawn(map(b.wait(), [](Unit) { return 2; }));
  ex.run_until_stalled();
  EXPECT_TRUE(set.abort(ia));
  EXPECT_FALSE(set.abort(TaskId{0}));  // no member has it
  ex.run_until_stalled();
  std::optional<JoinResult<int>> first = set.try_join_next();
  ASSERT_TRUE(first.has_value());
  EXPECT_TRUE(first->is_cancelled());
  EXPECT_EQ(set.len(), 1u);
  EXPECT_FALSE(set.try_join_next().has_value());  // the other still runs
  b.fire();
  ex.run_until_stalled();
  std::optional<JoinResult<int>> second = set.try_join_next();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->value(), 2);
  EXPECT_FALSE(set.abort(ia));  // joined: no longer a member
  EXPECT_TRUE(set.is_empty());
}

TEST(TaskScopeTest, TryJoinNextLeavesAPendingJoinNextRegistered) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  Gate g;
  set.spawn(map(g.wait(), [](Unit) { return 9; }));
  ex.run_until_stalled();
  testing::CountingWaker w;
  auto next = set.join_next();
  EXPECT_TRUE(testing::poll_once(next, w).is_pending());
  EXPECT_FALSE(set.try_join_next().has_value());  // nothing ready; no waiter replaced
  EXPECT_EQ(w.outstanding(), 1);
  g.fire();
  ex.run_until_stalled();
  EXPECT_EQ(w.wakes(), 1);  // the pending join_next is still the one woken
  auto r = testing::poll_once(next, w);
  ASSERT_TRUE(r.is_ready());
  ASSERT_TRUE(r.value().has_value());
  EXPECT_EQ(r.value()->value(), 9);
}

TEST(TaskScopeTest, JoinSetSpawnBlockingRunsOnTheBlockingPoolAsAMember) {
  LocalExecutor ex;
  BlockingPool pool;
  JoinSet<int> set(ex);
  const std::thread::id here = std::this_thread::get_id();
  std::atomic<int> on_other_threads{0};
  for (int i = 1; i <= 4; ++i) {
    set.spawn_blocking(pool, [i, here, &on_other_threads] {
      if (std::this_thread::get_id() != here) on_other_threads.fetch_add(1);
      return i * 10;
    });
  }
  set.spawn(ready(5));  // mixed with ordinary tasks
  EXPECT_EQ(set.len(), 5u);
  int sum = 0;
  for (JoinResult<int>& r : ex.block_on(set.join_all())) sum += r.value();
  EXPECT_EQ(sum, 105);
  EXPECT_EQ(on_other_threads.load(), 4);
  JoinSet<Unit> units(ex);
  units.spawn_blocking([] {});  // void -> Unit, on the process-wide pool
  auto r = ex.block_on(units.join_next());
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(r->is_ok());
}

TEST(TaskScopeTest, AbortAllCancelsPendingChildren) {
  LocalExecutor ex;
  JoinSet<int> set(ex);
  Gate g;
  set.spawn(map(g.wait(), [](Unit) { return 1; }));
  set.spawn(ready(2));
  ex.run_until_stalled();  // the second finishes
  set.abort_all();
  std::vector<JoinResult<int>> all = ex.block_on(set.join_all());
  ASSERT_EQ(all.size(), 2u);
  int cancelled = 0, values = 0;
  for (auto& r : all) {
    if (r.is_cancelled()) cancelled += 1;
    if (r.is_ok()) values += r.value();
  }
  EXPECT_EQ(cancelled, 1);
  EXPECT_EQ(values, 2);
  EXPECT_TRUE(set.is_empty());
}

TEST(TaskScopeTest, DroppingAJoinSetAbortsWithoutWaiting) {
  LocalExecutor ex;
  int local = 0;
  {
    JoinSet<Unit> set(ex);
    set.spawn(Borrower(&local));
    ex.run_until_stalled();
    EXPECT_EQ(local, 1);
  }
  EXPECT_EQ(local, 1);  // aborted, not yet cancelled (no synchronous join)
  ex.run_until_stalled();
  EXPECT_EQ(local, 101);  // cancelled at its next run
}

TEST(TaskScopeTest, MovedJoinSetKeepsItsTasks) {
  LocalExecutor ex;
  JoinSet<int> a(ex);
  a.spawn(ready(4));
  JoinSet<int> b(std::move(a));
  EXPECT_EQ(b.len(), 1u);
  auto r = ex.block_on(b.join_next());
  EXPECT_EQ(r->value(), 4);
}

TEST(TaskScopeTest, ManyChildrenJoinedOnlyWhenWoken) {
  LocalExecutor ex;
  constexpr int kChildren = 2000;
  auto parent = [&]() -> Task<long> {
    TaskScope<int> scope(ex);
    for (int i = 0; i < kChildren; ++i) scope.spawn(ready(i));
    long sum = 0;
    while (auto r = co_await scope.join_next()) sum += r->value();
    co_return sum;
  };
  EXPECT_EQ(ex.block_on(parent()), static_cast<long>(kChildren) * (kChildren - 1) / 2);
}

TEST(TaskScopeTest, ExceptionInAChildIsItsResult) {
  LocalExecutor ex;
  auto parent = [&]() -> Task<bool> {
    TaskScope<int> scope(ex);
    scope.spawn(poll_fn([](Context&) -> Poll<int> { throw 1; }));
    auto r = co_await scope.join_next();
    co_return r->is_exception();
  };
  EXPECT_TRUE(ex.block_on(parent()));
}

}  // namespace
}  // namespace weft
