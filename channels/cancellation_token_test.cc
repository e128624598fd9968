#include "channels/cancellation_token.h"

#include <deque>
#include <optional>
#include <type_traits>
#include <vector>

#include "executor/local_executor.h"
#include "future/future.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(Future<WaitForCancellation>);
static_assert(CancelSafe<WaitForCancellation>);
static_assert(std::is_copy_constructible_v<CancellationToken>);
static_assert(!std::is_copy_constructible_v<DropGuard>);

TEST(CancellationTokenTest, HeaderExample) {
  weft::CancellationToken root;
  weft::CancellationToken child = root.child_token();
  auto waiting = child.cancelled();
  EXPECT_TRUE(testing::poll_once(waiting).is_pending());
  root.cancel();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_TRUE(testing::poll_once(waiting).is_ready());
}

TEST(CancellationTokenTest, CopiesShareTheFlag) {
  CancellationToken a;
  CancellationToken b = a;
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(b.is_cancelled());
  a.cancel();
  EXPECT_TRUE(b.is_cancelled());
  a.cancel();  // idempotent
  EXPECT_TRUE(a.is_cancelled());
}

TEST(CancellationTokenTest, CancelledWakesEveryWaiter) {
  CancellationToken token;
  constexpr int kWaiters = 50;  // more than one wake batch
  std::deque<CountingWaker> w(kWaiters);
  std::deque<WaitForCancellation> fs;
  for (int i = 0; i < kWaiters; ++i) {
    fs.push_back(token.cancelled());
    EXPECT_TRUE(poll_once(fs[i], w[i]).is_pending());
  }
  token.cancel();
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(w[i].wakes(), 1);
    EXPECT_TRUE(poll_once(fs[i], w[i]).is_ready());
    EXPECT_EQ(w[i].outstanding(), 0);
  }
}

TEST(CancellationTokenTest, CancelledOfACancelledTokenIsReadyAtOnce) {
  CancellationToken token;
  token.cancel();
  auto f = token.cancelled();
  EXPECT_TRUE(poll_once(f).is_ready());
}

TEST(CancellationTokenTest, CancelBetweenCreationAndFirstPollIsSeen) {
  CancellationToken token;
  auto f = token.cancelled();
  token.cancel();
  EXPECT_TRUE(poll_once(f).is_ready());
}

TEST(CancellationTokenTest, DroppingAPendingFutureReleasesItsWaker) {
  CancellationToken token;
  CountingWaker w;
  {
    auto f = token.cancelled();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  token.cancel();
  EXPECT_EQ(w.wakes(), 0);
}

TEST(CancellationTokenTest, FutureOutlivesTheToken) {
  CountingWaker w;
  std::optional<WaitForCancellation> f;
  CancellationToken root;
  {
    CancellationToken child = root.child_token();
    f.emplace(child.cancelled());
  }  // the future keeps the child alive (and in the tree)
  EXPECT_EQ(root.child_count(), 1u);
  EXPECT_TRUE(poll_once(*f, w).is_pending());
  root.cancel();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(*f, w).is_ready());
  f.reset();
  EXPECT_EQ(root.child_count(), 0u);
}

TEST(CancellationTokenTest, CancellingAChildLeavesTheParent) {
  CancellationToken parent;
  CancellationToken child = parent.child_token();
  CancellationToken sibling = parent.child_token();
  child.cancel();
  EXPECT_TRUE(child.is_cancelled());
  EXPECT_FALSE(parent.is_cancelled());
  EXPECT_FALSE(sibling.is_cancelled());
  parent.cancel();
  EXPECT_TRUE(sibling.is_cancelled());
}

TEST(CancellationTokenTest, ChildOfACancelledTokenIsCancelled) {
  CancellationToken parent;
  parent.cancel();
  CancellationToken child = parent.child_token();
  EXPECT_TRUE(child.is_cancelled());
  CancellationToken grandchild = child.child_token();
  EXPECT_TRUE(grandchild.is_cancelled());
  auto f = grandchild.cancelled();
  EXPECT_TRUE(poll_once(f).is_ready());
}

TEST(CancellationTokenTest, CancellingAParentCancelsTheWholeSubtree) {
  CancellationToken root;
  CancellationToken a = root.child_token();
  CancellationToken b = root.child_token();
  CancellationToken a1 = a.child_token();
  CancellationToken a2 = a.child_token();
  CancellationToken a11 = a1.child_token();
  CancellationToken a111 = a11.child_token();
  CancellationToken b1 = b.child_token();
  CountingWaker w;
  auto f = a111.cancelled();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  a.cancel();  // a subtree only
  for (auto* t : {&a, &a1, &a2, &a11, &a111}) EXPECT_TRUE(t->is_cancelled());
  for (auto* t : {&root, &b, &b1}) EXPECT_FALSE(t->is_cancelled());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(a.child_count(), 0u);  // the cancelled subtree was detached
  root.cancel();
  for (auto* t : {&root, &b, &b1}) EXPECT_TRUE(t->is_cancelled());
  EXPECT_TRUE(poll_once(f, w).is_ready());
}

TEST(CancellationTokenTest, DeepChainIsCancelledWithoutRecursion) {
  CancellationToken root;
  std::vector<CancellationToken> chain;
  chain.push_back(root.child_token());
  for (int i = 0; i < 100'000; ++i) chain.push_back(chain.back().child_token());
  root.cancel();
  EXPECT_TRUE(chain.back().is_cancelled());
  EXPECT_TRUE(chain[chain.size() / 2].is_cancelled());
  // Dropping the chain front to back (each drop moves children up) is linear.
  chain.clear();
  EXPECT_EQ(root.child_count(), 0u);
}

TEST(CancellationTokenTest, DroppedChildUnlinksFromItsParent) {
  CancellationToken parent;
  for (int i = 0; i < 1000; ++i) {
    CancellationToken child = parent.child_token();
    CancellationToken grandchild = child.child_token();
    EXPECT_EQ(parent.child_count(), 1u);
  }
  EXPECT_EQ(parent.child_count(), 0u);
}

TEST(CancellationTokenTest, ChildrenOfADroppedTokenMoveToItsParent) {
  CancellationToken root;
  std::optional<CancellationToken> middle(root.child_token());
  CancellationToken leaf = middle->child_token();
  EXPECT_EQ(root.child_count(), 1u);
  middle.reset();  // leaf moves up to root
  EXPECT_EQ(root.child_count(), 1u);
  root.cancel();
  EXPECT_TRUE(leaf.is_cancelled());
}

TEST(CancellationTokenTest, ChildrenOfADroppedRootBecomeRoots) {
  std::optional<CancellationToken> root(std::in_place);
  CancellationToken leaf = root->child_token();
  root.reset();
  EXPECT_FALSE(leaf.is_cancelled());
  leaf.cancel();
  EXPECT_TRUE(leaf.is_cancelled());
}

TEST(CancellationTokenTest, ReplacingATokenByItsChildDoesNotGrowAChain) {
  CancellationToken root;
  CancellationToken t = root.child_token();
  for (int i = 0; i < 1000; ++i) t = t.child_token();  // the old t dies each time
  EXPECT_EQ(root.child_count(), 1u);
  root.cancel();
  EXPECT_TRUE(t.is_cancelled());
}

TEST(CancellationTokenTest, DropGuardCancelsUnlessDisarmed) {
  CancellationToken a, b;
  { auto guard = a.drop_guard(); }
  EXPECT_TRUE(a.is_cancelled());
  CancellationToken back;
  {
    auto guard = b.drop_guard();
    DropGuard moved = std::move(guard);
    back = moved.disarm();
  }
  EXPECT_FALSE(b.is_cancelled());
  EXPECT_TRUE(back == b);
  {
    auto guard = CancellationToken(b).drop_guard();  // rvalue: moves the handle in
  }
  EXPECT_TRUE(b.is_cancelled());
}

TEST(CancellationTokenTest, NoAllocationWhileWaitingAndCancelling) {
  CancellationToken token;
  CancellationToken child = token.child_token();
  CountingWaker w;
  auto f = child.cancelled();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(f, w).is_pending());
  token.cancel();
  EXPECT_TRUE(poll_once(f, w).is_ready());
}

Task<int> wait_for(CancellationToken token, int* done) {
  co_await token.cancelled();
  *done += 1;
  co_return *done;
}

TEST(CancellationTokenTest, TasksOnLocalExecutor) {
  LocalExecutor ex;
  CancellationToken root;
  int done = 0;
  auto h1 = ex.spawn_local(wait_for(root.child_token(), &done));
  auto h2 = ex.spawn_local(wait_for(root.child_token().child_token(), &done));
  auto h3 = ex.spawn_local(wait_for(root, &done));
  ex.run_until_stalled();
  EXPECT_EQ(done, 0);
  EXPECT_EQ(root.child_count(), 2u);
  root.cancel();
  ex.run_until_stalled();
  EXPECT_EQ(done, 3);
  EXPECT_EQ(root.child_count(), 0u);
}

TEST(CancellationTokenTest, AbortingAWaitingTaskUnlinksIt) {
  LocalExecutor ex;
  CancellationToken root;
  int done = 0;
  auto h = ex.spawn_local(wait_for(root.child_token(), &done));
  ex.run_until_stalled();
  EXPECT_EQ(root.child_count(), 1u);
  h.abort();
  ex.run_until_stalled();
  EXPECT_EQ(root.child_count(), 0u);  // the child token died with the task
  root.cancel();
  EXPECT_EQ(done, 0);
}

}  // namespace
}  // namespace weft
