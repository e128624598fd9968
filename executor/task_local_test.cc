#include "executor/task_local.h"

#include <string>
#include <utility>

#include "executor/local_executor.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

static weft::TaskLocal<int> kRequestId{weft::TaskLocal<int>::kInherit};
static TaskLocal<std::string> kUser;  // not inherited
static TaskLocal<int> kDeadline{TaskLocal<int>::kInherit};

static_assert(Future<TaskLocalFuture<int, Ready<int>>>);
static_assert(TaskLocalFuture<int, Ready<int>>::kUnpin);

TEST(TaskLocalTest, HeaderExample) {
  weft::LocalExecutor ex;
  auto child = ex.block_on(kRequestId.scope(7, weft::lazy([&] {
    return ex.spawn_local(weft::lazy([] { return kRequestId.get(); }));  // inherits 7
  })));
  EXPECT_EQ(ex.block_on(std::move(child)).value(), 7);
}

TEST(TaskLocalTest, BoundOnlyInsideTheScope) {
  EXPECT_FALSE(kRequestId.is_set());
  LocalExecutor ex;
  int inside = ex.block_on(kRequestId.scope(3, lazy([] { return kRequestId.get(); })));
  EXPECT_EQ(inside, 3);
  EXPECT_EQ(kRequestId.try_get(), nullptr);
}

TEST(TaskLocalTest, SyncScopeAndShadowing) {
  kRequestId.sync_scope(1, [] {
    EXPECT_EQ(kRequestId.get(), 1);
    kRequestId.sync_scope(2, [] { EXPECT_EQ(kRequestId.get(), 2); });
    EXPECT_EQ(kRequestId.get(), 1);
  });
  EXPECT_FALSE(kRequestId.is_set());
}

TEST(TaskLocalTest, InheritanceIsOptInPerKey) {
  LocalExecutor ex;
  struct Seen {
    int request = -1;
    bool user_visible = true;
    int deadline = -1;
  };
  Seen seen;
  auto spawner = lazy([&] {
    return ex.spawn_local(lazy([&] {
      seen.request = kRequestId.get();
      seen.user_visible = kUser.is_set();
      seen.deadline = kDeadline.get();
    }));
  });
  auto h = ex.block_on(kRequestId.scope(11, kUser.scope("ann", kDeadline.scope(99, std::move(spawner)))));
  ex.block_on(std::move(h));
  EXPECT_EQ(seen.request, 11);
  EXPECT_FALSE(seen.user_visible);
  EXPECT_EQ(seen.deadline, 99);
}

TEST(TaskLocalTest, GrandchildrenInheritAndChildrenMayRebind) {
  LocalExecutor ex;
  int grandchild_saw = 0;
  int parent_after = 0;
  auto grandchild = [&]() -> Task<> {
    grandchild_saw = kRequestId.get();
    co_return;
  };
  auto child = [&]() -> Task<> {
    EXPECT_EQ(kRequestId.get(), 5);
    co_await kRequestId.scope(6, lazy([&] { kRequestId.get() += 0; }));
    kRequestId.get() = 50;  // the child's own copy
    co_await spawn_local(grandchild());
  };
  auto parent = [&]() -> Task<> {
    co_await spawn_local(child());
    parent_after = kRequestId.get();
  };
  ex.block_on(kRequestId.scope(5, parent()));
  EXPECT_EQ(grandchild_saw, 50);
  EXPECT_EQ(parent_after, 5);  // the child's rebinding did not leak upward
}

TEST(TaskLocalTest, TasksDoNotSeeTheBindingsOfTheirPoller) {
  LocalExecutor outer;
  bool inner_task_saw = true;
  outer.block_on(kUser.scope("outer", lazy([&] {
    // An executor driven inside a scoped future: its tasks start clean.
    LocalExecutor inner;
    auto h = inner.spawn_local(lazy([&] { inner_task_saw = kUser.is_set(); }));
    inner.run_until_stalled();
  })));
  EXPECT_FALSE(inner_task_saw);
}

TEST(TaskLocalTest, ValueSurvivesSuspensions) {
  LocalExecutor ex;
  auto body = [&]() -> Task<int> {
    int before = kRequestId.get();
    co_await yield_now();
    co_await yield_now();
    co_return before + kRequestId.get();
  };
  auto h = ex.spawn_local(kRequestId.scope(21, body()));
  EXPECT_EQ(ex.block_on(std::move(h)).value(), 42);
}

}  // namespace
}  // namespace weft
