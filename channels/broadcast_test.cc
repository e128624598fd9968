#include "channels/broadcast.h"

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include "executor/local_executor.h"
#include "future/block_on.h"
#include "future/future.h"
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

static_assert(Future<BroadcastRecv<int>>);
static_assert(CancelSafe<BroadcastRecv<int>>);
static_assert(std::is_same_v<BroadcastRecv<int>::Output, Result<int, RecvError>>);
static_assert(std::is_copy_constructible_v<BroadcastSender<int>>);
static_assert(!std::is_copy_constructible_v<BroadcastReceiver<int>>);
static_assert(std::is_move_constructible_v<BroadcastReceiver<int>>);

// Counts live instances, to prove values are destroyed when they should be.
struct Counted {
  static inline int live = 0;
  int v;
  explicit Counted(int x) : v(x) { live += 1; }
  Counted(const Counted& o) : v(o.v) { live += 1; }
  Counted(Counted&& o) noexcept : v(o.v) { live += 1; }
  Counted& operator=(const Counted&) = default;
  ~Counted() { live -= 1; }
};

TEST(BroadcastTest, HeaderExample) {
  auto [tx, rx] = weft::broadcast<int>(4);
  auto rx2 = tx.subscribe();
  EXPECT_EQ(tx.send(10).value(), 2u);  // two receivers
  weft::LocalExecutor ex;
  EXPECT_EQ(ex.block_on(rx.recv()).value(), 10);
  EXPECT_EQ(rx2.try_recv().value(), 10);
  for (int i = 0; i < 10; ++i) (void)tx.send(i);  // rx falls 10 behind
  EXPECT_EQ(rx.try_recv().error(), weft::TryRecvError::lagged(6));
  EXPECT_EQ(rx.try_recv().value(), 6);  // then 6, 7, 8, 9
}

TEST(BroadcastTest, EveryReceiverSeesEveryValueInOrder) {
  auto [tx, rx1] = broadcast<int>(8);
  auto rx2 = tx.subscribe();
  auto rx3 = rx1.resubscribe();
  EXPECT_EQ(tx.receiver_count(), 3u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(tx.send(i).value(), 3u);
  for (auto* rx : {&rx1, &rx2, &rx3}) {
    EXPECT_EQ(rx->len(), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rx->try_recv().value(), i);
    EXPECT_TRUE(rx->try_recv().error().is_empty());
    EXPECT_TRUE(rx->is_empty());
  }
}

TEST(BroadcastTest, CapacityIsRoundedUpToAPowerOfTwo) {
  auto [tx, rx] = broadcast<int>(3);  // 4 slots
  for (int i = 0; i < 4; ++i) (void)tx.send(i);
  EXPECT_EQ(rx.try_recv().value(), 0);  // nothing lost yet
  auto [tx1, rx1] = broadcast<int>(1);
  (void)tx1.send(1);
  (void)tx1.send(2);
  EXPECT_EQ(rx1.try_recv().error(), TryRecvError::lagged(1));
  EXPECT_EQ(rx1.try_recv().value(), 2);
}

TEST(BroadcastTest, LagIsReportedExactlyThenTheLastValuesFollowInOrder) {
  auto [tx, rx] = broadcast<int>(4);
  for (int i = 0; i < 10; ++i) (void)tx.send(i);
  EXPECT_EQ(rx.len(), 10u);
  LocalExecutor ex;
  Result<int, RecvError> first = ex.block_on(rx.recv());
  ASSERT_TRUE(first.is_err());
  EXPECT_EQ(first.error(), RecvError::lagged(6));
  for (int i = 6; i < 10; ++i) EXPECT_EQ(ex.block_on(rx.recv()).value(), i);
  EXPECT_TRUE(rx.try_recv().error().is_empty());
}

TEST(BroadcastTest, SubscribeSeesOnlyLaterValues) {
  auto [tx, rx] = broadcast<int>(4);
  (void)tx.send(1);
  auto late = tx.subscribe();
  (void)tx.send(2);
  EXPECT_EQ(late.try_recv().value(), 2);
  auto re = rx.resubscribe();  // starts at the tail, not at rx's position
  EXPECT_TRUE(re.try_recv().error().is_empty());
  EXPECT_EQ(rx.try_recv().value(), 1);
}

TEST(BroadcastTest, SendWithoutReceiversGivesTheValueBack) {
  auto [tx, rx] = broadcast<std::string>(2);
  { auto moved = std::move(rx); }
  EXPECT_EQ(tx.receiver_count(), 0u);
  auto r = tx.send("lost?");
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(std::move(r.error()).into_inner(), "lost?");
  auto rx2 = tx.subscribe();
  EXPECT_EQ(tx.send("kept").value(), 1u);
  EXPECT_EQ(rx2.try_recv().value(), "kept");
}

TEST(BroadcastTest, ClosedAfterEverySenderIsGoneOnceDrained) {
  auto [tx, rx] = broadcast<int>(4);
  std::optional<BroadcastSender<int>> tx2(tx);
  (void)tx.send(1);
  (void)tx2->send(2);
  { auto gone = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());
  tx2.reset();
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::closed());
  LocalExecutor ex;
  EXPECT_EQ(ex.block_on(rx.recv()).error(), RecvError::closed());
  auto re = rx.resubscribe();
  EXPECT_EQ(re.try_recv().error(), TryRecvError::closed());
}

TEST(BroadcastTest, LaggedBeforeClosed) {
  auto [tx, rx] = broadcast<int>(2);
  for (int i = 0; i < 5; ++i) (void)tx.send(i);
  { auto gone = std::move(tx); }
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::lagged(3));
  EXPECT_EQ(rx.try_recv().value(), 3);
  EXPECT_EQ(rx.try_recv().value(), 4);
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::closed());
}

TEST(BroadcastTest, ClosingWakesAPendingReceiver) {
  auto [tx, rx] = broadcast<int>(2);
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value().error(), RecvError::closed());
  EXPECT_EQ(w.outstanding(), 0);
}

static_assert(Future<BroadcastClosed<int>>);
static_assert(CancelSafe<BroadcastClosed<int>>);

TEST(BroadcastTest, SenderClosedWaitsForTheLastReceiver) {
  auto [tx, rx] = broadcast<int>(2);
  auto rx2 = tx.subscribe();
  EXPECT_FALSE(tx.is_closed());
  CountingWaker w;
  auto f = tx.closed();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  { auto a = std::move(rx); }
  EXPECT_EQ(w.wakes(), 0);  // one receiver left
  EXPECT_TRUE(poll_once(f, w).is_pending());
  { auto b = std::move(rx2); }
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(tx.is_closed());
  EXPECT_TRUE(poll_once(f, w).is_ready());
  EXPECT_EQ(w.outstanding(), 0);
  // Ready at once while there is none; a new subscriber opens it again.
  auto g = tx.closed();
  EXPECT_TRUE(poll_once(g, w).is_ready());
  auto rx3 = tx.subscribe();
  auto h = tx.closed();
  EXPECT_TRUE(poll_once(h, w).is_pending());
  EXPECT_FALSE(tx.is_closed());
}

TEST(BroadcastTest, DroppingAPendingSenderClosedUnlinksIt) {
  auto [tx, rx] = broadcast<int>(2);
  CountingWaker w;
  {
    auto f = tx.closed();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    auto g = tx.closed();
    EXPECT_TRUE(poll_once(g, w).is_pending());
  }  // both unlink; the receiver drop below must not touch them
  EXPECT_EQ(w.outstanding(), 0);
  { auto gone = std::move(rx); }
  EXPECT_EQ(w.wakes(), 0);
}

TEST(BroadcastTest, SenderClosedOnLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = broadcast<int>(4);
  bool closed = false;
  auto watcher = ex.spawn_local([](BroadcastSender<int>& tx, bool& closed) -> Task<> {
    co_await tx.closed();
    closed = true;
  }(tx, closed));
  auto reader = ex.spawn_local([](BroadcastReceiver<int> rx) -> Task<int> {
    auto v = co_await rx.recv();
    co_return v.is_ok() ? v.value() : -1;
  }(std::move(rx)));
  ex.run_until_stalled();
  EXPECT_FALSE(closed);
  EXPECT_TRUE(tx.send(7).is_ok());
  ex.run_until_stalled();
  EXPECT_TRUE(closed);  // the reader finished and dropped its receiver
  EXPECT_EQ(ex.block_on(std::move(reader)).value(), 7);
  EXPECT_TRUE(watcher.is_finished());
}

static_assert(Stream<BroadcastStream<int>>);
static_assert(!Unpin<BroadcastStream<int>>);

TEST(BroadcastTest, StreamYieldsValuesLagAsAnItemThenEnds) {
  auto [tx, rx] = broadcast<int>(4);
  BroadcastStream<int> st(std::move(rx));
  CountingWaker w;
  EXPECT_TRUE(poll_next_once(st, w).is_pending());  // nothing yet: waits
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_next_once(st, w);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().has_value());
  EXPECT_EQ(p.value()->value(), 1);
  for (int i = 2; i < 8; ++i) EXPECT_TRUE(tx.send(i).is_ok());  // 6 sent, 4 kept
  auto lag = poll_next_once(st, w);
  ASSERT_TRUE(lag.is_ready() && lag.value().has_value());
  EXPECT_EQ(lag.value()->error(), RecvError::lagged(2));
  { auto gone = std::move(tx); }
  std::vector<int> rest = block_on(stream::collect<std::vector<int>>(stream::map(
      stream::by_ref(st), [](Result<int, RecvError> r) { return r.is_ok() ? r.value() : -1; })));
  EXPECT_EQ(rest, (std::vector<int>{4, 5, 6, 7}));
  EXPECT_TRUE(poll_next_once(st, w).value() == std::nullopt);  // stays ended
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(BroadcastTest, DroppingAWaitingStreamUnlinksItAndIntoInnerGivesTheReceiverBack) {
  auto [tx, rx] = broadcast<int>(4);
  CountingWaker w;
  {
    BroadcastStream<int> st(std::move(rx));
    EXPECT_TRUE(poll_next_once(st, w).is_pending());
  }  // unlinks; the receiver goes with it
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(tx.receiver_count(), 0u);
  BroadcastStream<int> st2(tx.subscribe());
  EXPECT_TRUE(tx.send(9).is_ok());
  auto p = poll_next_once(st2, w);
  ASSERT_TRUE(p.is_ready() && p.value().has_value());
  BroadcastReceiver<int> back = std::move(st2).into_inner();
  EXPECT_TRUE(tx.send(10).is_ok());
  EXPECT_EQ(back.try_recv().value(), 10);
}

TEST(BroadcastTest, DroppingEveryReceiverMakesSendFail) {
  auto [tx, rx] = broadcast<int>(2);
  auto rx2 = rx.resubscribe();
  EXPECT_TRUE(tx.send(1).is_ok());
  { auto a = std::move(rx); }
  EXPECT_EQ(tx.send(2).value(), 1u);
  { auto b = std::move(rx2); }
  EXPECT_TRUE(tx.send(3).is_err());
}

TEST(BroadcastTest, SendWakesEveryWaitingReceiver) {
  auto [tx, rx0] = broadcast<int>(4);
  constexpr int kReceivers = 40;  // more than one wake batch
  std::deque<BroadcastReceiver<int>> rxs;
  for (int i = 0; i < kReceivers; ++i) rxs.push_back(tx.subscribe());
  std::deque<BroadcastRecv<int>> fs;
  std::deque<CountingWaker> w(kReceivers);
  for (int i = 0; i < kReceivers; ++i) {
    fs.push_back(rxs[i].recv());
    EXPECT_TRUE(poll_once(fs[i], w[i]).is_pending());
  }
  EXPECT_EQ(tx.send(7).value(), kReceivers + 1u);
  for (int i = 0; i < kReceivers; ++i) {
    EXPECT_EQ(w[i].wakes(), 1);
    auto p = poll_once(fs[i], w[i]);
    ASSERT_TRUE(p.is_ready());
    EXPECT_EQ(p.value().value(), 7);
    EXPECT_EQ(w[i].outstanding(), 0);
  }
}

TEST(BroadcastTest, DroppingAPendingRecvUnlinksAndLosesNothing) {
  auto [tx, rx] = broadcast<int>(4);
  CountingWaker w;
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  (void)tx.send(5);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(rx.try_recv().value(), 5);
  // Woken, then dropped before it read: the value is still there.
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    (void)tx.send(6);
    EXPECT_EQ(w.wakes(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(rx.try_recv().value(), 6);
}

TEST(BroadcastTest, RecvRegistersAtTheTailAfterReadingEverything) {
  auto [tx, rx] = broadcast<int>(4);
  (void)tx.send(1);
  CountingWaker w;
  auto f1 = rx.recv();
  EXPECT_EQ(poll_once(f1, w).value().value(), 1);
  auto f2 = rx.recv();
  EXPECT_TRUE(poll_once(f2, w).is_pending());
  (void)tx.send(2);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f2, w).value().value(), 2);
}

TEST(BroadcastTest, RepollReplacesTheWaker) {
  auto [tx, rx] = broadcast<int>(4);
  CountingWaker w1, w2;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w1).is_pending());
  EXPECT_TRUE(poll_once(f, w2).is_pending());
  EXPECT_EQ(w1.outstanding(), 0);
  (void)tx.send(1);
  EXPECT_EQ(w1.wakes(), 0);
  EXPECT_EQ(w2.wakes(), 1);
}

TEST(BroadcastTest, ExhaustedBudgetYieldsWithoutConsuming) {
  auto [tx, rx] = broadcast<int>(4);
  (void)tx.send(1);
  CountingWaker w;
  auto f = rx.recv();
  Budget spent(0);
  EXPECT_TRUE(poll_once(f, w, &spent).is_pending());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(rx.len(), 1u);
  EXPECT_EQ(poll_once(f, w).value().value(), 1);
}

TEST(BroadcastTest, ValuesAreDestroyedOnceEveryReceiverReadThem) {
  Counted::live = 0;
  {
    auto [tx, rx1] = broadcast<Counted>(4);
    auto rx2 = tx.subscribe();
    (void)tx.send(Counted(1));
    EXPECT_EQ(Counted::live, 1);
    {
      auto v = rx1.try_recv();
      EXPECT_EQ(v.value().v, 1);
    }
    EXPECT_EQ(Counted::live, 1);  // rx2 still needs it
    {
      auto v = rx2.try_recv();
      EXPECT_EQ(v.value().v, 1);
    }
    EXPECT_EQ(Counted::live, 0);  // the last reader took it
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(BroadcastTest, ValuesAreDestroyedWhenOverwritten) {
  Counted::live = 0;
  {
    auto [tx, rx] = broadcast<Counted>(2);
    for (int i = 0; i < 10; ++i) (void)tx.send(Counted(i));
    EXPECT_EQ(Counted::live, 2);  // only the ring's two
    EXPECT_EQ(rx.try_recv().error(), TryRecvError::lagged(8));
    {
      auto v = rx.try_recv();
      EXPECT_EQ(v.value().v, 8);
    }
    EXPECT_EQ(Counted::live, 1);
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(BroadcastTest, DroppingAReceiverReleasesWhatItHadNotRead) {
  Counted::live = 0;
  auto [tx, rx1] = broadcast<Counted>(8);
  {
    auto rx2 = tx.subscribe();
    for (int i = 0; i < 5; ++i) (void)tx.send(Counted(i));
    for (int i = 0; i < 5; ++i) EXPECT_EQ(rx1.try_recv().value().v, i);
    EXPECT_EQ(Counted::live, 5);  // rx2 still needs them
  }
  EXPECT_EQ(Counted::live, 0);
  (void)tx.send(Counted(9));
  EXPECT_EQ(Counted::live, 1);
  { auto gone = std::move(rx1); }
  EXPECT_EQ(Counted::live, 0);
}

TEST(BroadcastTest, DroppingEverythingDestroysEverything) {
  Counted::live = 0;
  {
    auto [tx, rx] = broadcast<Counted>(4);
    auto rx2 = rx.resubscribe();
    for (int i = 0; i < 6; ++i) (void)tx.send(Counted(i));
    (void)rx2.try_recv();
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(BroadcastTest, NoAllocationPerSendOrReceive) {
  auto [tx, rx] = broadcast<int>(8);
  CountingWaker w;
  testing::ScopedNoAlloc no_alloc;
  for (int i = 0; i < 100; ++i) {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_TRUE(tx.send(i).is_ok());
    EXPECT_EQ(poll_once(f, w).value().value(), i);
  }
}

Task<int> sum_until_closed(BroadcastReceiver<int> rx, std::vector<int>* seen) {
  int sum = 0;
  for (;;) {
    Result<int, RecvError> r = co_await rx.recv();
    if (r.is_err()) {
      if (r.error().is_closed()) break;
      continue;  // lagged
    }
    seen->push_back(r.value());
    sum += r.value();
  }
  co_return sum;
}

Task<int> send_all(BroadcastSender<int> tx, int n) {
  for (int i = 1; i <= n; ++i) {
    (void)tx.send(i);
    co_await weft::ready(Unit{});
  }
  co_return n;
}

TEST(BroadcastTest, TasksOnLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = broadcast<int>(16);
  std::vector<int> seen1, seen2;
  auto h1 = ex.spawn_local(sum_until_closed(tx.subscribe(), &seen1));
  auto h2 = ex.spawn_local(sum_until_closed(std::move(rx), &seen2));
  ex.run_until_stalled();
  auto hs = ex.spawn_local(send_all(std::move(tx), 10));
  EXPECT_EQ(ex.block_on(std::move(h1)).value(), 55);
  EXPECT_EQ(ex.block_on(std::move(h2)).value(), 55);
  EXPECT_EQ(ex.block_on(std::move(hs)).value(), 10);
  EXPECT_EQ(seen1, seen2);
  EXPECT_EQ(seen1.size(), 10u);
}

TEST(BroadcastTest, AbortingAWaitingTaskUnlinksItsRecv) {
  LocalExecutor ex;
  auto [tx, rx] = broadcast<int>(4);
  std::vector<int> seen;
  auto h = ex.spawn_local(sum_until_closed(tx.subscribe(), &seen));
  ex.run_until_stalled();
  EXPECT_EQ(tx.receiver_count(), 2u);
  h.abort();
  ex.run_until_stalled();
  EXPECT_EQ(tx.receiver_count(), 1u);  // its receiver was dropped with it
  EXPECT_EQ(tx.send(1).value(), 1u);
  EXPECT_TRUE(seen.empty());
}

// ---- hardening asserts ----

TEST(BroadcastTest, BlockingRecvGetsValuesSentLaterFromAnotherThreadThenClosed) {
  auto [tx, rx] = broadcast<int>(4);
  std::thread t([tx = std::move(tx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the receiver parks first
    EXPECT_TRUE(tx.send(1).is_ok());
    EXPECT_TRUE(tx.send(2).is_ok());
  });  // the sender is dropped when the thread ends: closed
  EXPECT_EQ(rx.blocking_recv().value(), 1);
  EXPECT_EQ(rx.blocking_recv().value(), 2);
  Result<int, RecvError> end = rx.blocking_recv();
  ASSERT_TRUE(end.is_err());
  EXPECT_TRUE(end.error().is_closed());
  t.join();
}

TEST(BroadcastDeathTest, ZeroCapacityIsAHardeningAssert) {
  EXPECT_DEATH((void)broadcast<int>(0), "broadcast: the capacity must be at least 1");
}

TEST(BroadcastDeathTest, HugeCapacityIsAHardeningAssert) {
  EXPECT_DEATH((void)broadcast<int>((std::size_t{1} << 40) + 1), "broadcast: the capacity is too large");
}

}  // namespace
}  // namespace weft
