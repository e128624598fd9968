#include "channels/local_mpsc.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "executor/local_executor.h"
#include "future/block_on.h"
#include "future/stream.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

struct Counted {
  static inline int live = 0;
  int v = 0;
  explicit Counted(int x) : v(x) { live += 1; }
  Counted(Counted&& o) noexcept : v(o.v) { live += 1; }
  Counted(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { live -= 1; }
};

static_assert(!CancelSafe<LocalMpscSendFuture<int>>);
static_assert(CancelSafe<LocalMpscReserveFuture<int>>);
static_assert(CancelSafe<channels_internal::LocalMpscRecvFuture<int, true>>);
static_assert(CancelSafe<channels_internal::LocalMpscRecvManyFuture<int, false>>);
static_assert(CancelSafe<channels_internal::LocalMpscClosedFuture<int, true>>);
static_assert(Stream<LocalMpscReceiver<int>>);
static_assert(Stream<LocalUnboundedMpscReceiver<int>>);

TEST(LocalMpscTest, HeaderExample) {
  weft::LocalExecutor ex;
  auto [tx, rx] = weft::local_mpsc<int>(1);
  ex.spawn_detached([](weft::LocalMpscSender<int> tx) -> weft::Task<> {
    for (int i = 0; i < 3; ++i) (void)co_await tx.send(i);  // waits for room
  }(std::move(tx)));
  int sum = ex.block_on([](weft::LocalMpscReceiver<int> rx) -> weft::Task<int> {
    int s = 0;
    while (auto v = co_await rx.recv()) s += *v;
    co_return s;
  }(std::move(rx)));
  EXPECT_EQ(sum, 3);
}

TEST(LocalMpscTest, BoundedOrderCapacityAndTrySend) {
  auto [tx, rx] = local_mpsc<int>(2);
  EXPECT_EQ(tx.max_capacity(), 2u);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  ASSERT_TRUE(tx.try_send(2).is_ok());
  EXPECT_EQ(tx.capacity(), 0u);
  auto full = tx.try_send(3);
  ASSERT_TRUE(full.is_err());
  EXPECT_TRUE(full.error().is_full());
  EXPECT_EQ(std::move(full.error()).into_inner(), 3);
  EXPECT_EQ(rx.len(), 2u);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(tx.try_send(3).is_ok());  // Full, then succeeds after a recv
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 3);
  EXPECT_TRUE(rx.try_recv().error().is_empty());
  EXPECT_EQ(tx.capacity(), 2u);
}

TEST(LocalMpscTest, UnboundedGrowsAndKeepsOrder) {
  auto [tx, rx] = local_unbounded_mpsc<std::string>();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(tx.send(std::to_string(i)).is_ok());
  for (int i = 0; i < 500; ++i) EXPECT_EQ(rx.try_recv().value(), std::to_string(i));
  for (int i = 1000; i < 1300; ++i) ASSERT_TRUE(tx.send(std::to_string(i)).is_ok());  // wraps
  for (int i = 500; i < 1300; ++i) EXPECT_EQ(rx.try_recv().value(), std::to_string(i));
  EXPECT_TRUE(rx.is_empty());
}

TEST(LocalMpscTest, RecvIsWokenOnceAndKeepsTheWaker) {
  auto [tx, rx] = local_unbounded_mpsc<int>();
  CountingWaker w;
  const Waker mine = w.waker();  // as a task's waker: the same on every poll
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, mine).is_pending());
  ASSERT_TRUE(tx.send(1).is_ok());
  ASSERT_TRUE(tx.send(2).is_ok());
  EXPECT_EQ(w.wakes(), 1);  // not once per message
  EXPECT_EQ(poll_once(f, mine).value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  auto g = rx.recv();
  EXPECT_TRUE(poll_once(g, mine).is_pending());
  EXPECT_EQ(w.clones(), 1);  // the stored waker was kept and reused
}

TEST(LocalMpscTest, DroppedPendingRecvLeavesNoWaker) {
  auto [tx, rx] = local_mpsc<int>(1);
  CountingWaker w;
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  ASSERT_TRUE(tx.try_send(4).is_ok());
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(rx.try_recv().value(), 4);
}

TEST(LocalMpscTest, LastSenderDropClosesAfterDrain) {
  auto [tx, rx] = local_mpsc<int>(4);
  auto tx2 = tx;
  ASSERT_TRUE(tx.try_send(1).is_ok());
  { auto gone = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());
  CountingWaker w;
  EXPECT_EQ(block_on(rx.recv()), 1);
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  { auto gone = std::move(tx2); }
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), std::nullopt);
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TEST(LocalMpscTest, ReceiverCloseHandsValuesBackAndKeepsWhatWasSent) {
  auto [tx, rx] = local_mpsc<std::string>(4);
  ASSERT_TRUE(tx.try_send("a").is_ok());
  rx.close();
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.try_send("b");
  ASSERT_TRUE(r.is_err() && r.error().is_closed());
  EXPECT_EQ(std::move(r.error()).into_inner(), "b");
  auto s = block_on(tx.send("c"));
  ASSERT_TRUE(s.is_err());
  EXPECT_EQ(std::move(s.error()).into_inner(), "c");
  EXPECT_EQ(block_on(rx.recv()), "a");
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);

  auto [utx, urx] = local_unbounded_mpsc<std::string>();
  urx.close();
  auto u = utx.send("d");
  ASSERT_TRUE(u.is_err());
  EXPECT_EQ(std::move(u.error()).into_inner(), "d");
}

TEST(LocalMpscTest, CloseWaitsForOutstandingPermits) {
  auto [tx, rx] = local_mpsc<int>(2);
  auto a = block_on(tx.reserve());
  auto b = tx.try_reserve();
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(tx.try_reserve().error().is_full());
  rx.close();
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  a->send(1);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 1);
  auto g = rx.recv();
  EXPECT_TRUE(poll_once(g, w).is_pending());  // `b` may still send
  b = Err{TrySendError<Unit>::full(Unit{})};  // drops the unused permit
  EXPECT_EQ(w.wakes(), 2);
  EXPECT_EQ(poll_once(g, w).value(), std::nullopt);
}

TEST(LocalMpscTest, SendWaitsFifoAndIsWokenByRecv) {
  auto [tx, rx] = local_mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(0).is_ok());
  CountingWaker wa, wb;
  auto a = tx.send(1);
  auto b = tx.send(2);
  EXPECT_TRUE(poll_once(a, wa).is_pending());
  EXPECT_TRUE(poll_once(b, wb).is_pending());
  EXPECT_EQ(rx.try_recv().value(), 0);
  EXPECT_EQ(wa.wakes(), 1);  // the first waiter gets the slot
  EXPECT_EQ(wb.wakes(), 0);
  EXPECT_TRUE(tx.try_send(9).error().is_full());  // no barging
  EXPECT_TRUE(poll_once(a, wa).value().is_ok());
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(wb.wakes(), 1);
  EXPECT_TRUE(poll_once(b, wb).value().is_ok());
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(wa.outstanding() + wb.outstanding(), 0);
}

TEST(LocalMpscTest, CancelledSendsDestroyTheValueAndPassTheSlotOn) {
  Counted::live = 0;
  {
    auto [tx, rx] = local_mpsc<Counted>(1);
    ASSERT_TRUE(tx.try_send(Counted(0)).is_ok());
    CountingWaker wa, wb, wc;
    auto c = tx.reserve();
    {
      auto a = tx.send(Counted(1));
      auto b = tx.send(Counted(2));
      EXPECT_TRUE(poll_once(a, wa).is_pending());
      EXPECT_TRUE(poll_once(b, wb).is_pending());
      EXPECT_TRUE(poll_once(c, wc).is_pending());
      EXPECT_EQ(rx.try_recv().value().v, 0);  // slot granted to `a`
      EXPECT_EQ(wa.wakes(), 1);
      EXPECT_EQ(Counted::live, 2);
    }  // `a` (granted, unpolled) and `b` (queued) dropped: values destroyed
    EXPECT_EQ(Counted::live, 0);
    EXPECT_EQ(wa.outstanding() + wb.outstanding(), 0);
    EXPECT_EQ(wc.wakes(), 1);  // `a`'s slot went on to the next waiter
    auto p = poll_once(c, wc);
    ASSERT_TRUE(p.is_ready() && p.value().is_ok());
    p.value()->send(Counted(3));
    EXPECT_EQ(rx.try_recv().value().v, 3);
    EXPECT_EQ(tx.capacity(), 1u);
  }
  EXPECT_EQ(Counted::live, 0);
}

TEST(LocalMpscTest, PendingSendFailsWithItsValueOnClose) {
  auto [tx, rx] = local_mpsc<std::string>(1);
  ASSERT_TRUE(tx.try_send("x").is_ok());
  CountingWaker w;
  auto f = tx.send("y");
  EXPECT_TRUE(poll_once(f, w).is_pending());
  rx.close();
  EXPECT_EQ(w.wakes(), 1);
  auto out = poll_once(f, w);
  ASSERT_TRUE(out.is_ready() && out.value().is_err());
  EXPECT_EQ(std::move(out.value().error()).into_inner(), "y");
  EXPECT_EQ(block_on(rx.recv()), "x");
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
}

TEST(LocalMpscTest, ReceiverDropDestroysQueuedValuesOnce) {
  Counted::live = 0;
  {
    auto [tx, rx] = local_unbounded_mpsc<Counted>();
    for (int i = 0; i < 50; ++i) ASSERT_TRUE(tx.send(Counted(i)).is_ok());
    { auto gone = std::move(rx); }
    EXPECT_EQ(Counted::live, 0);
    auto r = tx.send(Counted(7));
    ASSERT_TRUE(r.is_err());
    EXPECT_EQ(r.error().value.v, 7);
  }
  {
    auto [tx, rx] = local_mpsc<Counted>(8);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(tx.try_send(Counted(i)).is_ok());
    EXPECT_EQ(Counted::live, 5);
  }  // both sides drop
  EXPECT_EQ(Counted::live, 0);
}

TEST(LocalMpscTest, ClosedFuture) {
  auto [tx, rx] = local_mpsc<int>(1);
  CountingWaker w, w2;
  auto f = tx.closed();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  {
    auto g = tx.closed();
    EXPECT_TRUE(poll_once(g, w2).is_pending());
  }
  EXPECT_EQ(w2.outstanding(), 0);
  rx.close();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(f, w).is_ready());
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(LocalMpscTest, RecvManyAndStream) {
  auto [tx, rx] = local_unbounded_mpsc<int>();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(tx.send(i).is_ok());
  std::vector<int> out;
  EXPECT_EQ(block_on(rx.recv_many(out, 3)), 3u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
  ASSERT_TRUE(tx.send(5).is_ok());
  { auto gone = std::move(tx); }
  std::vector<int> rest = block_on(stream::collect<std::vector<int>>(std::move(rx)));
  EXPECT_EQ(rest, (std::vector<int>{3, 4, 5}));
}

TEST(LocalMpscTest, RecvRespectsTheBudget) {
  auto [tx, rx] = local_unbounded_mpsc<int>();
  ASSERT_TRUE(tx.send(1).is_ok());
  CountingWaker w;
  Budget spent(0);
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w.borrowed(), &spent).is_pending());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 1);
}

// A bounded send out of budget yields (waking its task) and keeps no slot:
// the capacity is unchanged and nothing was queued; polled again with a
// budget, it sends.
TEST(LocalMpscTest, BoundedSendRespectsTheBudgetAndKeepsNoSlot) {
  auto [tx, rx] = local_mpsc<int>(2);
  CountingWaker w;
  Budget spent(0);
  auto f = tx.send(7);
  EXPECT_TRUE(poll_once(f, w.borrowed(), &spent).is_pending());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(tx.capacity(), 2u);
  EXPECT_TRUE(rx.try_recv().is_err());
  EXPECT_TRUE(poll_once(f, w).value().is_ok());
  EXPECT_EQ(tx.capacity(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 7);
  EXPECT_EQ(tx.capacity(), 2u);
}

TEST(LocalMpscTest, SteadyStateDoesNotAllocate) {
  auto [tx, rx] = local_mpsc<int>(64);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(rx.try_recv().is_ok());
  testing::ScopedNoAlloc no_alloc;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
    for (int i = 0; i < 64; ++i) ASSERT_EQ(rx.try_recv().value(), i);
  }
}

Task<int> produce(LocalMpscSender<int> tx, int from, int n) {
  for (int i = 0; i < n; ++i) {
    if ((co_await tx.send(from + i)).is_err()) co_return i;
  }
  co_return n;
}

TEST(LocalMpscTest, BackpressureAndPerProducerOrderOnLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = local_mpsc<int>(3);
  std::vector<JoinHandle<int>> ps;
  for (int p = 0; p < 4; ++p) ps.push_back(ex.spawn_local(produce(tx, p * 1000, 300)));
  { auto gone = std::move(tx); }
  ex.run_until_stalled();
  EXPECT_EQ(rx.len(), 3u);  // everyone blocked on a full channel
  auto got = ex.block_on([](LocalMpscReceiver<int> rx) -> Task<std::vector<int>> {
    std::vector<int> v;
    while (auto x = co_await rx.recv()) v.push_back(*x);
    co_return v;
  }(std::move(rx)));
  ASSERT_EQ(got.size(), 1200u);
  int next[4] = {0, 1000, 2000, 3000};
  for (int v : got) {
    const int p = v / 1000;
    EXPECT_EQ(v, next[p]);
    next[p] += 1;
  }
  for (auto& h : ps) EXPECT_EQ(ex.block_on(std::move(h)).value(), 300);
}

TEST(LocalMpscDeathTest, ZeroCapacityIsAHardeningAssert) {
  EXPECT_DEATH((void)local_mpsc<int>(0), "local_mpsc: capacity must be at least 1");
}

}  // namespace
}  // namespace weft
