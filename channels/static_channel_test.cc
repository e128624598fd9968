#include "channels/static_channel.h"

#include <cstddef>
#include <optional>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "executor/static_executor.h"
#include "future/frame_allocator.h"
#include "future/future.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"
#include "tools/base/sync.h"

// ----------------------------------------------------------------------------
// The header example, verbatim (Job is a Task in a static arena).
// ----------------------------------------------------------------------------
namespace header_example {

struct ArenaTag;
using Job = weft::Task<int, weft::TaskArena<4096, ArenaTag>>;

constinit weft::StaticChannel<int, 4, weft::CriticalSectionPolicy> ch;
Job producer() {
  for (int i = 1; i <= 10; ++i) co_await ch.send(i);
  ch.close();
  co_return 0;
}
Job consumer() {
  int sum = 0;
  for (auto r = co_await ch.recv(); r; r = co_await ch.recv()) sum += *r;
  co_return sum;  // 55
}

}  // namespace header_example

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;
using testing::ScopedNoAlloc;

// Move-only and not default-constructible.
struct MoveOnly {
  explicit MoveOnly(int v) : value(v) {}
  MoveOnly(MoveOnly&& o) noexcept : value(std::exchange(o.value, -1)) {}
  MoveOnly& operator=(MoveOnly&&) = delete;
  int value;
};

// Counts live objects and, per id, how often the owner of that id (not a
// moved-from shell) was destroyed: each must be exactly once.
struct Counted {
  static inline int live = 0;
  static inline int destroyed[64] = {};
  static void reset() {
    live = 0;
    for (int& d : destroyed) d = 0;
  }

  explicit Counted(int i) : id(i) { live += 1; }
  Counted(Counted&& o) noexcept : id(std::exchange(o.id, -1)) { live += 1; }
  Counted& operator=(Counted&&) = delete;
  ~Counted() {
    live -= 1;
    if (id >= 0) destroyed[id] += 1;
  }
  int id;
};

using Ch4 = StaticChannel<int, 4, CriticalSectionPolicy>;

static_assert(Future<Ch4::SendFuture>);
static_assert(Future<Ch4::RecvFuture>);
static_assert(CancelSafe<Ch4::RecvFuture>);
static_assert(!CancelSafe<Ch4::SendFuture>);
static_assert(std::is_same_v<OutputOf<Ch4::SendFuture>, Result<void, SendError<int>>>);
static_assert(std::is_same_v<OutputOf<Ch4::RecvFuture>, Result<int, RecvError>>);
static_assert(!std::is_copy_constructible_v<Ch4> && !std::is_move_constructible_v<Ch4>);
static_assert(std::is_trivially_copyable_v<Ch4::Sender>);
static_assert(Ch4::capacity() == 4);
// Two links, a flag, a Waker, a flag: 24 bytes on Cortex-M, 48 on x86-64.
static_assert(sizeof(channels_internal::StaticWaiter) == 6 * sizeof(void*));

// Constant initialisation: no constructor runs at start-up.
constinit StaticChannel<int, 4, CriticalSectionPolicy> g_cs_channel;
constinit StaticChannel<MoveOnly, 2, AtomicPolicy> g_atomic_channel;
constinit StaticChannel<Counted, 3> g_default_channel;

TEST(StaticChannelTest, HeaderExample) {
  using header_example::Job;
  TaskStorage<Job> producer_task, consumer_task;
  StaticExecutor<2, CriticalSectionPolicy> ex;
  auto p = ex.spawn(producer_task, [] { return header_example::producer(); });
  auto c = ex.spawn(consumer_task, [] { return header_example::consumer(); });
  ASSERT_TRUE(p && c);
  ex.run_until_idle();
  ASSERT_TRUE(c->is_finished());
  EXPECT_EQ(*c->take_output(), 55);
  EXPECT_TRUE(p->is_finished());
}

TEST(StaticChannelTest, ConstinitGlobalsWork) {
  EXPECT_TRUE(g_cs_channel.is_empty());
  ASSERT_TRUE(g_cs_channel.try_send(7));
  EXPECT_EQ(g_cs_channel.try_recv().value(), 7);

  ASSERT_TRUE(g_atomic_channel.try_send(MoveOnly(3)));
  EXPECT_EQ(g_atomic_channel.try_recv().value().value, 3);

  Counted::reset();
  ASSERT_TRUE(g_default_channel.try_send(Counted(1)));
  EXPECT_EQ(g_default_channel.try_recv().value().id, 1);
  EXPECT_EQ(Counted::live, 0);
  EXPECT_EQ(Counted::destroyed[1], 1);
}

TEST(StaticChannelTest, TryOperationsAreFifoAcrossTheWrapAround) {
  StaticChannel<int, 3, CriticalSectionPolicy> ch;
  int next_in = 0;
  int next_out = 0;
  for (int round = 0; round < 10; ++round) {
    const int burst = 1 + round % 3;
    for (int i = 0; i < burst; ++i) ASSERT_TRUE(ch.try_send(next_in++));
    EXPECT_EQ(ch.len(), static_cast<std::size_t>(burst));
    for (int i = 0; i < burst; ++i) EXPECT_EQ(ch.try_recv().value(), next_out++);
    EXPECT_TRUE(ch.is_empty());
  }
  EXPECT_EQ(next_out, next_in);
}

TEST(StaticChannelTest, FullGivesTheValueBackAndEmptySaysSo) {
  StaticChannel<MoveOnly, 2, CriticalSectionPolicy> ch;
  auto empty = ch.try_recv();
  ASSERT_FALSE(empty);
  EXPECT_TRUE(empty.error().is_empty());

  ASSERT_TRUE(ch.try_send(MoveOnly(1)));
  ASSERT_TRUE(ch.try_send(MoveOnly(2)));
  EXPECT_TRUE(ch.is_full());
  auto full = ch.try_send(MoveOnly(3));
  ASSERT_FALSE(full);
  EXPECT_TRUE(full.error().is_full());
  EXPECT_EQ(std::move(full.error()).into_inner().value, 3);
  EXPECT_EQ(ch.try_recv().value().value, 1);
  EXPECT_EQ(ch.try_recv().value().value, 2);
}

TEST(StaticChannelTest, CloseLetsReceiversDrainThenReportsClosed) {
  StaticChannel<int, 4, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(1));
  ASSERT_TRUE(ch.try_send(2));
  ch.close();
  ch.close();  // idempotent
  EXPECT_TRUE(ch.is_closed());

  auto rejected = ch.try_send(3);
  ASSERT_FALSE(rejected);
  EXPECT_TRUE(rejected.error().is_closed());
  EXPECT_EQ(std::move(rejected.error()).into_inner(), 3);

  auto s = ch.send(4);
  auto sent = poll_once(s);
  ASSERT_TRUE(sent.is_ready());
  ASSERT_FALSE(sent.value());
  EXPECT_EQ(std::move(sent.value().error()).into_inner(), 4);

  EXPECT_EQ(ch.try_recv().value(), 1);
  auto r = ch.recv();
  auto got = poll_once(r);
  ASSERT_TRUE(got.is_ready());
  EXPECT_EQ(got.value().value(), 2);
  auto closed = ch.try_recv();
  ASSERT_FALSE(closed);
  EXPECT_TRUE(closed.error().is_closed());
  auto r2 = ch.recv();
  auto end = poll_once(r2);
  ASSERT_TRUE(end.is_ready());
  ASSERT_FALSE(end.value());
  EXPECT_TRUE(end.value().error().is_closed());
}

TEST(StaticChannelTest, CloseWakesWaitingSendersWithTheirValues) {
  StaticChannel<MoveOnly, 1, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(MoveOnly(1)));
  CountingWaker w1, w2;
  auto s1 = ch.send(MoveOnly(2));
  auto s2 = ch.send(MoveOnly(3));
  EXPECT_TRUE(poll_once(s1, w1).is_pending());
  EXPECT_TRUE(poll_once(s2, w2).is_pending());
  ch.close();
  EXPECT_EQ(w1.wakes(), 1);
  EXPECT_EQ(w2.wakes(), 1);
  auto r1 = poll_once(s1, w1);
  auto r2 = poll_once(s2, w2);
  ASSERT_TRUE(r1.is_ready() && r2.is_ready());
  EXPECT_EQ(std::move(r1.value().error()).into_inner().value, 2);
  EXPECT_EQ(std::move(r2.value().error()).into_inner().value, 3);
  // The value sent before the close is still delivered.
  EXPECT_EQ(ch.try_recv().value().value, 1);
  EXPECT_TRUE(ch.try_recv().error().is_closed());
  EXPECT_EQ(w1.outstanding() + w2.outstanding(), 0);
}

TEST(StaticChannelTest, CloseWakesWaitingReceiversOnlyOnceDrained) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  CountingWaker w1, w2;
  auto r1 = ch.recv();
  auto r2 = ch.recv();
  EXPECT_TRUE(poll_once(r1, w1).is_pending());
  EXPECT_TRUE(poll_once(r2, w2).is_pending());
  ch.close();
  EXPECT_EQ(w1.wakes(), 1);
  EXPECT_EQ(w2.wakes(), 1);
  auto a = poll_once(r1, w1);
  auto b = poll_once(r2, w2);
  ASSERT_TRUE(a.is_ready() && b.is_ready());
  EXPECT_TRUE(a.value().error().is_closed());
  EXPECT_TRUE(b.value().error().is_closed());
  EXPECT_EQ(w1.outstanding() + w2.outstanding(), 0);
}

TEST(StaticChannelTest, ASlotGrantedBeforeCloseStillSends) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(1));
  CountingWaker ws, wr;
  auto s = ch.send(2);
  EXPECT_TRUE(poll_once(s, ws).is_pending());
  EXPECT_EQ(ch.try_recv().value(), 1);  // grants the slot to `s`
  EXPECT_EQ(ws.wakes(), 1);
  ch.close();
  // A receiver must wait for the granted value rather than see kClosed.
  EXPECT_TRUE(ch.try_recv().error().is_empty());
  auto r = ch.recv();
  EXPECT_TRUE(poll_once(r, wr).is_pending());
  ASSERT_TRUE(poll_once(s, ws).value());
  EXPECT_EQ(wr.wakes(), 1);
  EXPECT_EQ(poll_once(r, wr).value().value(), 2);
  EXPECT_TRUE(ch.try_recv().error().is_closed());
}

TEST(StaticChannelTest, ADroppedGrantedSenderAfterCloseReleasesTheReceivers) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(1));
  CountingWaker ws, wr;
  std::optional<StaticChannel<int, 1, CriticalSectionPolicy>::SendFuture> s;
  s.emplace(ch.send(2));
  EXPECT_TRUE(poll_once(*s, ws).is_pending());
  EXPECT_EQ(ch.try_recv().value(), 1);
  ch.close();
  auto r = ch.recv();
  EXPECT_TRUE(poll_once(r, wr).is_pending());
  s.reset();  // the granted slot will never be filled: the channel is drained
  EXPECT_EQ(wr.wakes(), 1);
  EXPECT_TRUE(poll_once(r, wr).value().error().is_closed());
  EXPECT_EQ(ws.outstanding() + wr.outstanding(), 0);
}

TEST(StaticChannelTest, SendWaitsForASlotAndRecvWakesIt) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(1));
  CountingWaker w;
  auto s = ch.send(2);
  EXPECT_TRUE(poll_once(s, w).is_pending());
  EXPECT_TRUE(poll_once(s, w).is_pending());  // re-polls keep one registration
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(ch.try_recv().value(), 1);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(s, w).is_ready());
  EXPECT_EQ(ch.try_recv().value(), 2);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(StaticChannelTest, RecvWaitsForAValueAndSendWakesIt) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  CountingWaker w;
  auto r = ch.recv();
  EXPECT_TRUE(poll_once(r, w).is_pending());
  auto s = ch.send(5);
  EXPECT_TRUE(poll_once(s).is_ready());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(r, w).value().value(), 5);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(StaticChannelTest, WaitingSendersAreServedFifoAndNotOvertaken) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  ASSERT_TRUE(ch.try_send(0));
  CountingWaker w1, w2;
  auto s1 = ch.send(1);
  auto s2 = ch.send(2);
  EXPECT_TRUE(poll_once(s1, w1).is_pending());
  EXPECT_TRUE(poll_once(s2, w2).is_pending());
  EXPECT_EQ(ch.try_recv().value(), 0);
  EXPECT_EQ(w1.wakes(), 1);  // only the first
  EXPECT_EQ(w2.wakes(), 0);
  // The free slot is s1's: neither try_send nor s2 nor a new send takes it.
  auto stolen = ch.try_send(99);
  ASSERT_FALSE(stolen);
  EXPECT_TRUE(stolen.error().is_full());
  EXPECT_TRUE(poll_once(s2, w2).is_pending());
  auto s3 = ch.send(3);
  EXPECT_TRUE(poll_once(s3).is_pending());
  EXPECT_TRUE(poll_once(s1, w1).is_ready());
  EXPECT_EQ(ch.try_recv().value(), 1);
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_TRUE(poll_once(s2, w2).is_ready());
  EXPECT_EQ(ch.try_recv().value(), 2);
  EXPECT_TRUE(poll_once(s3).is_ready());
  EXPECT_EQ(ch.try_recv().value(), 3);
}

TEST(StaticChannelTest, WaitingReceiversAreServedFifoAndNotOvertaken) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  CountingWaker w1, w2;
  auto r1 = ch.recv();
  auto r2 = ch.recv();
  EXPECT_TRUE(poll_once(r1, w1).is_pending());
  EXPECT_TRUE(poll_once(r2, w2).is_pending());
  ASSERT_TRUE(ch.try_send(1));
  EXPECT_EQ(w1.wakes(), 1);
  EXPECT_EQ(w2.wakes(), 0);
  EXPECT_TRUE(ch.try_recv().error().is_empty());  // the value is r1's
  EXPECT_EQ(ch.len(), 1u);
  EXPECT_TRUE(poll_once(r2, w2).is_pending());
  ASSERT_TRUE(ch.try_send(2));
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_EQ(poll_once(r2, w2).value().value(), 1);  // r2 takes the oldest
  EXPECT_EQ(poll_once(r1, w1).value().value(), 2);
}

TEST(StaticChannelTest, ADroppedGrantedSenderPassesTheSlotOnAndDropsItsValue) {
  Counted::reset();
  {
    StaticChannel<Counted, 1, CriticalSectionPolicy> ch;
    ASSERT_TRUE(ch.try_send(Counted(0)));
    CountingWaker w1, w2;
    std::optional<StaticChannel<Counted, 1, CriticalSectionPolicy>::SendFuture> s1;
    s1.emplace(ch.send(Counted(1)));
    auto s2 = ch.send(Counted(2));
    EXPECT_TRUE(poll_once(*s1, w1).is_pending());
    EXPECT_TRUE(poll_once(s2, w2).is_pending());
    EXPECT_EQ(ch.try_recv().value().id, 0);
    EXPECT_EQ(w1.wakes(), 1);
    s1.reset();  // granted, never filled its slot
    EXPECT_EQ(Counted::destroyed[1], 1);
    EXPECT_EQ(w2.wakes(), 1);
    EXPECT_TRUE(poll_once(s2, w2).is_ready());
    EXPECT_EQ(ch.try_recv().value().id, 2);
    EXPECT_EQ(w1.outstanding() + w2.outstanding(), 0);
  }
  EXPECT_EQ(Counted::live, 0);
  for (int id = 0; id < 3; ++id) EXPECT_EQ(Counted::destroyed[id], 1) << id;
}

TEST(StaticChannelTest, ADroppedGrantedReceiverLosesNothing) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  CountingWaker w1, w2;
  std::optional<StaticChannel<int, 2, CriticalSectionPolicy>::RecvFuture> r1;
  r1.emplace(ch.recv());
  auto r2 = ch.recv();
  EXPECT_TRUE(poll_once(*r1, w1).is_pending());
  EXPECT_TRUE(poll_once(r2, w2).is_pending());
  ASSERT_TRUE(ch.try_send(7));
  EXPECT_EQ(w1.wakes(), 1);
  r1.reset();  // cancel-safe: the value goes to r2
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_EQ(poll_once(r2, w2).value().value(), 7);
  EXPECT_EQ(w1.outstanding() + w2.outstanding(), 0);

  // A granted receiver dropped with nobody else waiting: the value stays.
  std::optional<StaticChannel<int, 2, CriticalSectionPolicy>::RecvFuture> r3;
  r3.emplace(ch.recv());
  EXPECT_TRUE(poll_once(*r3, w1).is_pending());
  ASSERT_TRUE(ch.try_send(8));
  r3.reset();
  EXPECT_EQ(ch.try_recv().value(), 8);
}

TEST(StaticChannelTest, CancellingLeavesNoWaker) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  CountingWaker w;
  {
    auto r = ch.recv();
    EXPECT_TRUE(poll_once(r, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  ASSERT_TRUE(ch.try_send(1));
  EXPECT_EQ(w.wakes(), 0);  // nobody was left in the list
  {
    auto s = ch.send(2);
    EXPECT_TRUE(poll_once(s, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(ch.try_recv().value(), 1);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_TRUE(ch.try_recv().error().is_empty());  // the dropped send sent nothing
}

TEST(StaticChannelTest, ANewTaskReplacesTheWakerAndTheOldOneIsReleased) {
  StaticChannel<int, 1, CriticalSectionPolicy> ch;
  CountingWaker w1, w2;
  auto r = ch.recv();
  EXPECT_TRUE(poll_once(r, w1).is_pending());
  EXPECT_TRUE(poll_once(r, w2).is_pending());  // moved to another task
  EXPECT_EQ(w1.outstanding(), 0);
  EXPECT_EQ(w2.outstanding(), 1);
  ASSERT_TRUE(ch.try_send(1));
  EXPECT_EQ(w1.wakes(), 0);
  EXPECT_EQ(w2.wakes(), 1);
  EXPECT_EQ(poll_once(r, w2).value().value(), 1);
}

TEST(StaticChannelTest, EveryValueIsDestroyedExactlyOnce) {
  Counted::reset();
  {
    StaticChannel<Counted, 2, CriticalSectionPolicy> ch;
    ASSERT_TRUE(ch.try_send(Counted(0)));                   // received below
    ASSERT_TRUE(ch.try_send(Counted(1)));                   // left in the channel
    EXPECT_FALSE(ch.try_send(Counted(2)));                  // kFull: dropped with the error
    { auto never_polled = ch.send(Counted(3)); }            // dropped unpolled
    {
      auto pending = ch.send(Counted(4));                   // dropped while waiting
      EXPECT_TRUE(poll_once(pending).is_pending());
    }
    EXPECT_EQ(ch.try_recv().value().id, 0);
    auto s = ch.send(Counted(5));                           // sent through the future
    EXPECT_TRUE(poll_once(s).is_ready());
    ch.close();
    {
      auto late = ch.send(Counted(6));                      // closed: given back, dropped
      auto r = poll_once(late);
      ASSERT_TRUE(r.is_ready());
      EXPECT_EQ(r.value().error().value.id, 6);
    }
    EXPECT_FALSE(ch.try_send(Counted(7)));                  // closed: dropped with the error
    EXPECT_EQ(ch.len(), 2u);                                // 1 and 5 die with the channel
    for (int id : {0, 2, 3, 4, 6, 7}) EXPECT_EQ(Counted::destroyed[id], 1) << id;
    EXPECT_EQ(Counted::destroyed[1] + Counted::destroyed[5], 0);
  }
  EXPECT_EQ(Counted::live, 0);
  for (int id = 0; id < 8; ++id) EXPECT_EQ(Counted::destroyed[id], 1) << id;
}

TEST(StaticChannelTest, MoveOnlyValuesThroughFutures) {
  StaticChannel<MoveOnly, 1, AtomicPolicy> ch;
  auto s1 = ch.send(MoveOnly(1));
  auto s2 = ch.send(MoveOnly(2));
  EXPECT_TRUE(poll_once(s1).is_ready());
  EXPECT_TRUE(poll_once(s2).is_pending());
  auto r1 = ch.recv();
  EXPECT_EQ(poll_once(r1).value().value().value, 1);
  EXPECT_TRUE(poll_once(s2).is_ready());
  auto r2 = ch.recv();
  EXPECT_EQ(poll_once(r2).value().value().value, 2);
}

TEST(StaticChannelTest, NoOperationAllocates) {
  StaticChannel<int, 2, AtomicPolicy> ch;
  CountingWaker w;
  ScopedNoAlloc no_alloc;
  ASSERT_TRUE(ch.try_send(1));
  ASSERT_TRUE(ch.try_send(2));
  {
    auto s = ch.send(3);
    EXPECT_TRUE(poll_once(s, w).is_pending());
    EXPECT_EQ(ch.try_recv().value(), 1);
    EXPECT_TRUE(poll_once(s, w).is_ready());
  }
  {
    auto s = ch.send(4);
    EXPECT_TRUE(poll_once(s, w).is_pending());
  }  // cancelled
  EXPECT_EQ(ch.try_recv().value(), 2);
  auto r = ch.recv();
  EXPECT_EQ(poll_once(r, w).value().value(), 3);
  {
    auto r2 = ch.recv();
    EXPECT_TRUE(poll_once(r2, w).is_pending());
    ch.close();
    EXPECT_TRUE(poll_once(r2, w).value().error().is_closed());
  }
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(StaticChannelTest, ImmediateCompletionsSpendTheBudget) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  CountingWaker w;
  Budget spent(0);
  auto s = ch.send(1);
  EXPECT_TRUE(poll_once(s, w, &spent).is_pending());  // yields, woken at once
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(ch.is_empty());
  Budget one(1);
  EXPECT_TRUE(poll_once(s, w, &one).is_ready());
  EXPECT_TRUE(one.exhausted());
  auto r = ch.recv();
  EXPECT_TRUE(poll_once(r, w, &spent).is_pending());
  EXPECT_EQ(w.wakes(), 2);
  EXPECT_EQ(ch.len(), 1u);
  EXPECT_EQ(poll_once(r, w).value().value(), 1);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(StaticChannelTest, SenderAndReceiverViews) {
  StaticChannel<int, 2, CriticalSectionPolicy> ch;
  auto tx = ch.sender();
  auto rx = ch.receiver();
  StaticSender<int, 2, CriticalSectionPolicy> tx2 = tx;  // copyable
  ASSERT_TRUE(tx.try_send(1));
  auto s = tx2.send(2);
  EXPECT_TRUE(poll_once(s).is_ready());
  EXPECT_TRUE(rx.is_full());
  EXPECT_EQ(rx.len(), 2u);
  EXPECT_EQ(rx.try_recv().value(), 1);
  auto r = rx.recv();
  EXPECT_EQ(poll_once(r).value().value(), 2);
  tx.close();
  EXPECT_TRUE(rx.is_closed());
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

// Three producer tasks and a consumer on a StaticExecutor, through a
// 2-slot channel: every value arrives once, each producer's in order.
struct ManyTag;
using ManyJob = Task<int, TaskArena<8192, ManyTag>>;
constexpr int kPerProducer = 200;
StaticChannel<int, 2, CriticalSectionPolicy> g_many;

ManyJob many_producer(int id) {
  for (int i = 0; i < kPerProducer; ++i) {
    auto r = co_await g_many.send(id * 1000 + i);
    if (!r) co_return 1;
  }
  co_return 0;
}
ManyJob many_consumer() {
  int next[3] = {0, 0, 0};
  int errors = 0;
  for (int n = 0; n < 3 * kPerProducer; ++n) {
    auto r = co_await g_many.recv();
    if (!r) co_return -1;
    const int id = *r / 1000;
    if (id < 0 || id > 2 || *r % 1000 != next[id]) errors += 1;
    if (id >= 0 && id <= 2) next[id] += 1;
  }
  co_return errors;
}

TEST(StaticChannelTest, ProducersAndAConsumerOnAStaticExecutor) {
  TaskStorage<ManyJob> p0, p1, p2, c;
  StaticExecutor<4, CriticalSectionPolicy> ex;
  auto hc = ex.spawn(c, [] { return many_consumer(); });
  auto h0 = ex.spawn(p0, [] { return many_producer(0); });
  auto h1 = ex.spawn(p1, [] { return many_producer(1); });
  auto h2 = ex.spawn(p2, [] { return many_producer(2); });
  ASSERT_TRUE(hc && h0 && h1 && h2);
  ex.run_until_idle();
  EXPECT_EQ(ex.live(), 0u);
  ASSERT_TRUE(hc->is_finished());
  EXPECT_EQ(*hc->take_output(), 0);  // no value out of order, none missing
  EXPECT_EQ(*h0->take_output() + *h1->take_output() + *h2->take_output(), 0);
  EXPECT_TRUE(g_many.is_empty());
}

}  // namespace
}  // namespace weft
