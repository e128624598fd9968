#include "channels/watch.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/stream.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_next_once;
using testing::poll_once;

static_assert(Future<WatchChanged<int>>);
static_assert(Future<WatchClosed<int>>);
static_assert(CancelSafe<WatchChanged<int>>);
static_assert(CancelSafe<WatchClosed<int>>);
static_assert(!Unpin<WatchChanged<int>>);
static_assert(std::is_same_v<OutputOf<WatchChanged<int>>, Result<void, Closed>>);
static_assert(std::is_copy_constructible_v<WatchReceiver<int>>);
static_assert(std::is_copy_constructible_v<WatchSender<int>>);  // tokio 1.37: Sender: Clone

struct Counted {
  static inline std::atomic<int> live{0};
  int v;
  explicit Counted(int x) : v(x) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted(const Counted& o) : v(o.v) { live.fetch_add(1); }
  Counted& operator=(Counted&&) noexcept = default;
  Counted& operator=(const Counted&) = default;
  ~Counted() { live.fetch_sub(1); }
};

TEST(WatchTest, HeaderExample) {
  auto [tx, rx] = weft::watch<int>(1);
  auto changed = rx.changed();
  EXPECT_TRUE(weft::testing::poll_once(changed).is_pending());
  EXPECT_TRUE(tx.send(2).is_ok());
  EXPECT_TRUE(weft::testing::poll_once(changed).value().is_ok());
  EXPECT_EQ(*rx.borrow(), 2);
}

static_assert(Stream<WatchStream<int>>);
static_assert(!Unpin<WatchStream<int>>);

TEST(WatchTest, StreamYieldsTheCurrentValueThenTheLatestOfEachChangeThenEnds) {
  auto [tx, rx] = watch<int>(1);
  WatchStream<int> st(rx);  // a copy of the receiver
  CountingWaker w;
  auto p = poll_next_once(st, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value(), std::optional<int>(1));  // the current value first
  EXPECT_TRUE(poll_next_once(st, w).is_pending());
  EXPECT_TRUE(tx.send(2).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(tx.send(3).is_ok());  // coalesced: the stream sees 3
  EXPECT_EQ(poll_next_once(st, w).value(), std::optional<int>(3));
  EXPECT_TRUE(poll_next_once(st, w).is_pending());
  EXPECT_TRUE(tx.send(4).is_ok());
  { auto gone = std::move(tx); }  // the last sender: the change, then the end
  EXPECT_EQ(poll_next_once(st, w).value(), std::optional<int>(4));
  EXPECT_EQ(poll_next_once(st, w).value(), std::nullopt);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(WatchTest, StreamFromChangesSkipsTheCurrentValueAndCollects) {
  auto [tx, rx] = watch<int>(7);
  auto st = WatchStream<int>::from_changes(std::move(rx));
  CountingWaker w;
  EXPECT_TRUE(poll_next_once(st, w).is_pending());
  {
    auto dropped = WatchStream<int>::from_changes(tx.subscribe());
    EXPECT_TRUE(poll_next_once(dropped, w).is_pending());
  }  // unlinks its slot
  EXPECT_TRUE(tx.send(8).is_ok());
  { auto gone = std::move(tx); }
  std::vector<int> all = block_on(stream::collect<std::vector<int>>(stream::by_ref(st)));
  EXPECT_EQ(all, (std::vector<int>{8}));
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(WatchTest, InitialValueCountsAsSeen) {
  auto [tx, rx] = watch(std::string("init"));
  EXPECT_FALSE(rx.has_changed().value());
  auto r = rx.borrow();
  EXPECT_EQ(*r, "init");
  EXPECT_EQ(r->size(), 4u);
  EXPECT_FALSE(r.has_changed());
}

TEST(WatchTest, BorrowDoesNotMarkSeenBorrowAndUpdateDoes) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_TRUE(rx.has_changed().value());
  {
    auto r = rx.borrow();
    EXPECT_EQ(*r, 1);
    EXPECT_TRUE(r.has_changed());
  }
  EXPECT_TRUE(rx.has_changed().value());
  {
    auto r = rx.borrow_and_update();
    EXPECT_EQ(*r, 1);
    EXPECT_TRUE(r.has_changed());
  }
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_FALSE(rx.borrow_and_update().has_changed());
}

TEST(WatchTest, ChangedIsReadyAtOnceWhenNewerAndMarksSeen) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(5).is_ok());
  {
    auto c = rx.changed();
    auto p = poll_once(c);
    ASSERT_TRUE(p.is_ready());
    EXPECT_TRUE(p.value().is_ok());
  }
  EXPECT_FALSE(rx.has_changed().value());
  auto c = rx.changed();
  EXPECT_TRUE(poll_once(c).is_pending());
}

TEST(WatchTest, PendingChangedIsWokenBySend) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  auto c = rx.changed();
  EXPECT_TRUE(poll_once(c, w).is_pending());
  EXPECT_TRUE(poll_once(c, w).is_pending());  // re-poll: still queued once
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 0);  // the wake consumed the clone
  EXPECT_TRUE(poll_once(c, w).value().is_ok());
  EXPECT_EQ(*rx.borrow(), 1);
}

TEST(WatchTest, IntermediateValuesAreSkipped) {
  auto [tx, rx] = watch<int>(0);
  for (int i = 1; i <= 3; ++i) EXPECT_TRUE(tx.send(i).is_ok());
  auto c = rx.changed();
  EXPECT_TRUE(poll_once(c).value().is_ok());
  EXPECT_EQ(*rx.borrow_and_update(), 3);
  auto d = rx.changed();
  EXPECT_TRUE(poll_once(d).is_pending());
}

TEST(WatchTest, SenderDropWakesChangedWithClosed) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  auto c = rx.changed();
  EXPECT_TRUE(poll_once(c, w).is_pending());
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(c, w);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_err());
  EXPECT_EQ(p.value().error(), Closed{});
  EXPECT_TRUE(rx.has_changed().is_err());
  EXPECT_EQ(*rx.borrow(), 0);  // the value outlives the sender
}

TEST(WatchTest, UnseenValueIsReportedBeforeClosed) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(7).is_ok());
  { auto gone = std::move(tx); }
  EXPECT_TRUE(rx.has_changed().value());
  {
    auto c = rx.changed();
    EXPECT_TRUE(poll_once(c).value().is_ok());
  }
  EXPECT_EQ(*rx.borrow(), 7);
  auto c = rx.changed();
  EXPECT_TRUE(poll_once(c).value().is_err());
}

TEST(WatchTest, SendWithoutReceiversFailsAndStoresNothing) {
  auto [tx, rx] = watch<Counted>(Counted(1));
  { auto gone = std::move(rx); }
  EXPECT_EQ(tx.receiver_count(), 0u);
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.send(Counted(2));
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(std::move(r.error()).into_inner().v, 2);
  EXPECT_EQ(tx.borrow()->v, 1);
}

TEST(WatchTest, SendReplaceAlwaysStoresAndReturnsOld) {
  auto [tx, rx] = watch<int>(1);
  EXPECT_EQ(tx.send_replace(2), 1);
  EXPECT_TRUE(rx.has_changed().value());
  { auto gone = std::move(rx); }
  EXPECT_EQ(tx.send_replace(3), 2);
  EXPECT_EQ(*tx.borrow(), 3);
  auto late = tx.subscribe();
  EXPECT_EQ(*late.borrow(), 3);
  EXPECT_FALSE(late.has_changed().value());  // subscribe() has seen the current value
}

TEST(WatchTest, SendModifyAndSendIfModified) {
  auto [tx, rx] = watch<std::vector<int>>({});
  tx.send_modify([](std::vector<int>& v) { v.push_back(1); });
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(rx.borrow_and_update()->size(), 1u);
  EXPECT_FALSE(tx.send_if_modified([](std::vector<int>&) { return false; }));
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(tx.send_if_modified([](std::vector<int>& v) {
    v.push_back(2);
    return true;
  }));
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(rx.borrow()->back(), 2);
}

TEST(WatchTest, CopiesStartAtTheSameSeenVersion) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(1).is_ok());
  WatchReceiver<int> copy = rx;
  EXPECT_EQ(tx.receiver_count(), 2u);
  EXPECT_TRUE(copy.has_changed().value());
  EXPECT_TRUE(copy.same_channel(rx));
  (void)rx.borrow_and_update();
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(copy.has_changed().value());  // independent seen versions
  WatchReceiver<int> copy2 = rx;
  EXPECT_FALSE(copy2.has_changed().value());
  EXPECT_EQ(tx.receiver_count(), 3u);
  copy = copy2;
  EXPECT_EQ(tx.receiver_count(), 3u);
  EXPECT_FALSE(copy.has_changed().value());
}

TEST(WatchTest, MarkUnchanged) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(1).is_ok());
  rx.mark_unchanged();
  EXPECT_FALSE(rx.has_changed().value());
}

TEST(WatchTest, ClosedFutureWaitsForEveryReceiver) {
  auto [tx, rx] = watch<int>(0);
  auto rx2 = rx;
  CountingWaker w;
  {
    auto closed = tx.closed();
    EXPECT_TRUE(poll_once(closed, w).is_pending());
    { auto gone = std::move(rx); }
    EXPECT_EQ(w.wakes(), 0);
    EXPECT_TRUE(poll_once(closed, w).is_pending());
    { auto gone = std::move(rx2); }
    EXPECT_EQ(w.wakes(), 1);
    EXPECT_TRUE(poll_once(closed, w).is_ready());
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(tx.is_closed());
  auto again = tx.closed();
  EXPECT_TRUE(poll_once(again).is_ready());
}

TEST(WatchTest, CancellingClosedFutureLeavesNoWaker) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  {
    auto closed = tx.closed();
    EXPECT_TRUE(poll_once(closed, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  { auto gone = std::move(rx); }
  EXPECT_EQ(w.wakes(), 0);
}

TEST(WatchTest, CancellingPendingChangedUnlinksAndLeavesNoWaker) {
  auto [tx, rx] = watch<int>(0);
  auto rx2 = rx;
  CountingWaker a, b;
  auto kept = rx2.changed();
  EXPECT_TRUE(poll_once(kept, b).is_pending());
  {
    auto c = rx.changed();
    EXPECT_TRUE(poll_once(c, a).is_pending());
    EXPECT_EQ(a.outstanding(), 1);
  }
  EXPECT_EQ(a.outstanding(), 0);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);  // the other waiter is unaffected
  EXPECT_TRUE(poll_once(kept, b).value().is_ok());
  EXPECT_TRUE(rx.has_changed().value());  // cancelling lost nothing
}

TEST(WatchTest, ManyWaitersAreAllWoken) {
  auto [tx, rx] = watch<int>(0);
  constexpr int kN = 100;  // more than one wake batch
  std::vector<WatchReceiver<int>> rxs(kN, rx);
  std::vector<std::unique_ptr<WatchChanged<int>>> cs;
  CountingWaker w;
  for (auto& r : rxs) {
    cs.push_back(std::make_unique<WatchChanged<int>>(r.changed()));
    EXPECT_TRUE(poll_once(*cs.back(), w).is_pending());
  }
  EXPECT_EQ(w.outstanding(), kN);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), kN);
  EXPECT_EQ(w.outstanding(), 0);
  for (auto& c : cs) EXPECT_TRUE(poll_once(*c, w).value().is_ok());
}

TEST(WatchTest, SpentBudgetDefersTheChange) {
  auto [tx, rx] = watch<int>(0);
  EXPECT_TRUE(tx.send(1).is_ok());
  CountingWaker w;
  auto c = rx.changed();
  Budget empty(0);
  EXPECT_TRUE(poll_once(c, w, &empty).is_pending());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(rx.has_changed().value());  // still unseen
  EXPECT_TRUE(poll_once(c, w).value().is_ok());
}

TEST(WatchTest, MoveOnlyValue) {
  auto [tx, rx] = watch(std::make_unique<int>(1));
  std::unique_ptr<int> old = tx.send_replace(std::make_unique<int>(2));
  EXPECT_EQ(*old, 1);
  EXPECT_EQ(**rx.borrow(), 2);
  EXPECT_TRUE(tx.send(std::make_unique<int>(3)).is_ok());
  EXPECT_EQ(**rx.borrow_and_update(), 3);
}

TEST(WatchTest, CountedValuesAreNeitherLeakedNorDoubleDestroyed) {
  Counted::live.store(0);
  {
    auto [tx, rx] = watch<Counted>(Counted(0));
    for (int i = 1; i <= 10; ++i) EXPECT_TRUE(tx.send(Counted(i)).is_ok());
    Counted old = tx.send_replace(Counted(11));
    EXPECT_EQ(old.v, 10);
    EXPECT_EQ(Counted::live.load(), 2);  // `old` and the stored value
    tx.send_modify([](Counted& c) { c.v += 1; });
    EXPECT_EQ(rx.borrow()->v, 12);
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(WatchTest, NoAllocationOnSendAndChanged) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  auto c = rx.changed();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(c, w).is_pending());
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_TRUE(poll_once(c, w).value().is_ok());
  EXPECT_EQ(*rx.borrow(), 1);
}

// ---------------------------------------------------------------------------
// With executors and tasks
// ---------------------------------------------------------------------------

Task<> producer(WatchSender<int> tx, int n) {
  for (int i = 1; i <= n; ++i) {
    EXPECT_TRUE(tx.send(i).is_ok());
    if (i % 3 == 0) co_await yield_now();
  }
}  // dropping tx closes the channel

// Sees non-decreasing values and, at the end, the last one.
Task<int> consumer(WatchReceiver<int> rx, bool expect_changes) {
  int last = *rx.borrow_and_update();
  int changes = 0;
  while (co_await rx.changed()) {
    const int v = *rx.borrow_and_update();
    EXPECT_GT(v, last);
    last = v;
    changes += 1;
  }
  // On a pool the producer may have finished before the consumer starts.
  if (expect_changes) {
    EXPECT_GT(changes, 0);
  }
  co_return last;
}

TEST(WatchTest, LocalExecutorProducerAndConsumers) {
  LocalExecutor ex;
  auto [tx, rx] = watch<int>(0);
  auto h1 = ex.spawn_local(consumer(rx, true));
  auto h2 = ex.spawn_local(consumer(std::move(rx), true));
  ex.spawn_local(producer(std::move(tx), 100)).detach();
  EXPECT_EQ(ex.block_on(std::move(h1)).value(), 100);
  EXPECT_EQ(ex.block_on(std::move(h2)).value(), 100);
}

TEST(WatchTest, ThreadPoolProducerAndConsumers) {
  ThreadPool pool(2);
  auto [tx, rx] = watch<int>(0);
  auto h1 = pool.spawn(consumer(rx, false));
  auto h2 = pool.spawn(consumer(std::move(rx), false));
  pool.spawn(producer(std::move(tx), 1000)).detach();
  EXPECT_EQ(pool.block_on(std::move(h1)).value(), 1000);
  EXPECT_EQ(pool.block_on(std::move(h2)).value(), 1000);
}

Task<> wait_closed(WatchSender<int> tx, std::atomic<bool>* done) {
  co_await tx.closed();
  done->store(true);
}

TEST(WatchTest, ClosedOnLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = watch<int>(0);
  std::atomic<bool> done{false};
  auto h = ex.spawn_local(wait_closed(std::move(tx), &done));
  ex.run_until_stalled();
  EXPECT_FALSE(done.load());
  { auto gone = std::move(rx); }
  ex.block_on(std::move(h));
  EXPECT_TRUE(done.load());
}

// ---- wait_for(pred) ----

using EvenPred = bool (*)(const int&);
static_assert(Future<WatchWaitFor<int, EvenPred>>);
static_assert(CancelSafe<WatchWaitFor<int, EvenPred>>);
static_assert(std::is_same_v<OutputOf<WatchWaitFor<int, EvenPred>>, Result<WatchRef<int>, Closed>>);

TEST(WatchTest, WaitForIsReadyAtOnceWhenThePredicateHoldsForTheCurrentValue) {
  auto [tx, rx] = watch<int>(4);
  int calls = 0;
  {
    // Already seen (the initial value) and still checked: as tokio's wait_for.
    auto f = rx.wait_for([&](const int& v) {
      calls += 1;
      return v % 2 == 0;
    });
    auto p = poll_once(f);
    ASSERT_TRUE(p.is_ready());
    ASSERT_TRUE(p.value().is_ok());
    EXPECT_EQ(*p.value().value(), 4);
    EXPECT_FALSE(p.value().value().has_changed());  // it had been seen
  }
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(tx.send(6).is_ok());
  {
    auto f = rx.wait_for([](const int& v) { return v == 6; });
    auto p = poll_once(f);
    ASSERT_TRUE(p.is_ready());
    EXPECT_TRUE(p.value().value().has_changed());
  }
  EXPECT_FALSE(rx.has_changed().value());  // marked seen
}

TEST(WatchTest, WaitForBecomesReadyAfterTwoSendsEachWakingOnce) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  std::vector<int> checked;
  auto f = rx.wait_for([&](const int& v) {
    checked.push_back(v);
    return v >= 2;
  });
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_TRUE(poll_once(f, w).is_pending());  // spurious poll: pred not called again
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(f, w).is_pending());  // 1 rejected: waits again
  EXPECT_FALSE(rx.has_changed().value());      // the rejected value was marked seen
  EXPECT_TRUE(tx.send(2).is_ok());
  EXPECT_EQ(w.wakes(), 2);
  {
    auto p = poll_once(f, w);
    ASSERT_TRUE(p.is_ready());
    ASSERT_TRUE(p.value().is_ok());
    EXPECT_EQ(*p.value().value(), 2);
    EXPECT_TRUE(p.value().value().has_changed());
  }  // the guard (read lock) goes here
  EXPECT_EQ(checked, (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(tx.send(3).is_ok());  // nothing queued any more: no wake
  EXPECT_EQ(w.wakes(), 2);
}

TEST(WatchTest, WaitForIsClosedWhenTheSenderGoesWithoutSatisfyingIt) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  auto f = rx.wait_for([](const int& v) { return v > 10; });
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_TRUE(tx.send(5).is_ok());
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(f, w);  // checks 5 (the last value), then reports the close
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_err());
  EXPECT_EQ(p.value().error(), Closed{});
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(rx.has_changed().is_err());  // 5 was marked seen: only the close is left
}

TEST(WatchTest, WaitForSeesALastValueThatSatisfiesItAfterTheClose) {
  auto [tx, rx] = watch<int>(0);
  auto f = rx.wait_for([](const int& v) { return v == 7; });
  EXPECT_TRUE(poll_once(f).is_pending());
  EXPECT_TRUE(tx.send(7).is_ok());
  { auto gone = std::move(tx); }
  auto p = poll_once(f);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_ok());
  EXPECT_EQ(*p.value().value(), 7);
}

TEST(WatchTest, DroppingAPendingWaitForLeavesNoWaker) {
  auto [tx, rx] = watch<int>(0);
  CountingWaker w;
  {
    auto f = rx.wait_for([](const int& v) { return v < 0; });
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }  // cancelled while queued
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 0);
  // Nothing was lost: a new wait_for checks the current value first.
  auto g = rx.wait_for([](const int& v) { return v == 1; });
  auto p = poll_once(g, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(*p.value().value(), 1);
}

TEST(WatchTest, WaitForAcrossThreads) {
  auto [tx, rx] = watch<int>(0);
  std::thread t([tx = std::move(tx)]() mutable {
    for (int i = 1; i <= 100; ++i) EXPECT_TRUE(tx.send(i).is_ok());
  });
  auto r = block_on(rx.wait_for([](const int& v) { return v == 100; }));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r.value(), 100);
  r = Err{Closed{}};  // drop the read lock before joining
  t.join();
}

TEST(WatchTest, SenderCopiesPublishToOneValueAndTheLastOneCloses) {
  auto [tx, rx] = watch<int>(0);
  WatchSender<int> tx2 = tx;
  EXPECT_EQ(tx.sender_count(), 2u);
  EXPECT_EQ(rx.sender_count(), 2u);
  EXPECT_TRUE(tx2.send(5).is_ok());
  EXPECT_EQ(*tx.borrow(), 5);  // the same value
  EXPECT_TRUE(rx.has_changed().value());
  EXPECT_EQ(*rx.borrow_and_update(), 5);
  { auto gone = std::move(tx); }
  EXPECT_EQ(rx.sender_count(), 1u);
  EXPECT_FALSE(rx.has_changed().is_err());  // still open: tx2 lives
  testing::CountingWaker w;
  auto changed = rx.changed();
  EXPECT_TRUE(testing::poll_once(changed, w).is_pending());
  { auto gone = std::move(tx2); }  // the last sender: closed, the waiter woken
  EXPECT_EQ(w.wakes(), 1);
  auto r = testing::poll_once(changed, w);
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r.value().is_err());
  EXPECT_EQ(rx.sender_count(), 0u);
}

TEST(WatchTest, CopyAssignedSenderReleasesTheOneItHeld) {
  auto [a, ra] = watch<int>(1);
  auto [b, rb] = watch<int>(2);
  a = b;  // `a`'s channel loses its only sender: closed
  EXPECT_TRUE(ra.has_changed().is_err());
  EXPECT_EQ(rb.sender_count(), 2u);
  EXPECT_TRUE(a.send(3).is_ok());
  EXPECT_EQ(*rb.borrow(), 3);
}

TEST(WatchTest, MarkChangedMakesTheCurrentValueUnseen) {
  auto [tx, rx] = watch<int>(7);
  EXPECT_FALSE(rx.has_changed().value());
  rx.mark_changed();
  EXPECT_TRUE(rx.has_changed().value());
  auto ch = rx.changed();
  auto r = testing::poll_once(ch);
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r.value().is_ok());  // Ready at once, no send needed
  EXPECT_FALSE(rx.has_changed().value());
  rx.mark_changed();
  rx.mark_unchanged();
  EXPECT_FALSE(rx.has_changed().value());
  EXPECT_TRUE(tx.send(8).is_ok());
  rx.mark_changed();  // after a send too
  EXPECT_EQ(*rx.borrow_and_update(), 8);
  EXPECT_FALSE(rx.has_changed().value());
}

}  // namespace
}  // namespace weft
