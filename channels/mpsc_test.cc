#include "channels/mpsc.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "channels/oneshot.h"
#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/select.h"
#include "future/stream.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

// Counts live instances: exactly-once destruction.
struct Counted {
  static inline std::atomic<int> live{0};
  int v = 0;
  explicit Counted(int x) : v(x) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted(const Counted&) = delete;
  Counted& operator=(Counted&&) = delete;
  ~Counted() { live.fetch_sub(1); }
};

// ---- compile-time facts ----
static_assert(Future<MpscSendFuture<int>>);
static_assert(!CancelSafe<MpscSendFuture<int>>);  // dropping it loses the value
static_assert(CancelSafe<MpscReserveFuture<int>>);
static_assert(CancelSafe<MpscReserveOwnedFuture<int>>);
static_assert(CancelSafe<channels_internal::MpscRecvFuture<int, true>>);
static_assert(CancelSafe<channels_internal::MpscRecvFuture<int, false>>);
static_assert(CancelSafe<channels_internal::MpscRecvManyFuture<int, true>>);
static_assert(CancelSafe<channels_internal::MpscClosedFuture<int, true>>);
static_assert(Stream<MpscReceiver<int>>);
static_assert(Stream<UnboundedMpscReceiver<std::string>>);
static_assert(std::is_copy_constructible_v<MpscSender<int>>);
static_assert(!std::is_copy_constructible_v<MpscReceiver<int>>);
static_assert(!std::is_copy_constructible_v<MpscPermit<int>>);

TEST(MpscTest, HeaderExample) {
  auto [tx, rx] = weft::mpsc<int>(2);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  ASSERT_TRUE(tx.try_send(2).is_ok());
  EXPECT_TRUE(tx.try_send(3).error().is_full());
  EXPECT_EQ(rx.try_recv().value(), 1);
  ASSERT_TRUE(tx.try_send(3).is_ok());
  { auto drop = std::move(tx); }  // last sender gone: closes
  EXPECT_EQ(weft::block_on(rx.recv()), 2);
  EXPECT_EQ(weft::block_on(rx.recv()), 3);
  EXPECT_EQ(weft::block_on(rx.recv()), std::nullopt);
}

TEST(MpscTest, BoundedSendRecvInOrder) {
  auto [tx, rx] = mpsc<int>(8);
  for (int i = 0; i < 8; ++i) ASSERT_TRUE(block_on(tx.send(i)).is_ok());
  EXPECT_EQ(rx.len(), 8u);
  EXPECT_EQ(tx.capacity(), 0u);
  EXPECT_EQ(tx.max_capacity(), 8u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(block_on(rx.recv()), i);
  EXPECT_TRUE(rx.is_empty());
  EXPECT_EQ(tx.capacity(), 8u);  // the receiver gave every slot back
}

TEST(MpscTest, UnboundedSendRecvManyBlocks) {
  auto [tx, rx] = unbounded_mpsc<std::string>();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(tx.send(std::to_string(i)).is_ok());
  EXPECT_EQ(rx.len(), 1000u);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(rx.try_recv().value(), std::to_string(i));
  EXPECT_TRUE(rx.try_recv().error().is_empty());
}

TEST(MpscTest, MoveOnlyValues) {
  auto [tx, rx] = unbounded_mpsc<std::unique_ptr<int>>();
  ASSERT_TRUE(tx.send(std::make_unique<int>(5)).is_ok());
  auto v = block_on(rx.recv());
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(**v, 5);
}

TEST(MpscTest, RecvWaitsAndIsWokenOnceBySends) {
  auto [tx, rx] = mpsc<int>(4);
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_EQ(w.outstanding(), 1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  ASSERT_TRUE(tx.try_send(2).is_ok());  // not re-polled yet: no second wake-up
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 1);
  EXPECT_EQ(block_on(rx.recv()), 2);
  // The waker stays registered (a receiver that parks again from the same
  // task re-registers for free) until the receiver is dropped.
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_EQ(w.clones(), 1);
  { auto gone = std::move(rx); }
  EXPECT_EQ(w.outstanding(), 0);
}

// Parking again from the same task clones nothing; another task's waker
// replaces it (the first is dropped) and gets the next wake-up.
TEST(MpscTest, RecvReParksWithoutCloningAndReplacesAnotherTasksWaker) {
  auto [tx, rx] = mpsc<int>(4);
  CountingWaker w, other;
  const Waker task = w.waker();  // shares its clones' vtable, as a task's waker does
  const Waker other_task = other.waker();
  for (int i = 0; i < 3; ++i) {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, task).is_pending());
    ASSERT_TRUE(tx.try_send(i).is_ok());
    EXPECT_EQ(poll_once(f, task).value(), i);
  }
  EXPECT_EQ(w.wakes(), 3);
  EXPECT_EQ(w.clones(), 1);
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, other_task).is_pending());
    EXPECT_EQ(w.outstanding(), 1);  // ours only: the channel dropped its clone
    ASSERT_TRUE(tx.try_send(9).is_ok());
    EXPECT_EQ(other.wakes(), 1);
    EXPECT_EQ(w.wakes(), 3);
    EXPECT_EQ(poll_once(f, other_task).value(), 9);
  }
  // A pending recv dropped takes its waker out.
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, other_task).is_pending());
  }
  EXPECT_EQ(other.outstanding(), 1);
  ASSERT_TRUE(tx.try_send(10).is_ok());
  EXPECT_EQ(other.wakes(), 1);
}

// The last sender's drop wakes the waiting receiver and drops its waker:
// a waker that owns the receiver (a future holding it, behind `shared`)
// would otherwise keep itself and the channel alive.
TEST(MpscTest, LastSenderDropWakesAndReleasesTheReceiversWaker) {
  auto [tx, rx] = mpsc<int>(4);
  CountingWaker w;
  const Waker task = w.waker();
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, task).is_pending());
  EXPECT_EQ(w.outstanding(), 2);
  auto tx2 = tx;  // a second sender (copy)
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(w.outstanding(), 2);
  { auto gone = std::move(tx2); }
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 1);  // the channel holds no reference any more
  EXPECT_FALSE(poll_once(f, task).value().has_value());
}

TEST(MpscTest, SendsDoNotWakeAReceiverThatIsNotWaiting) {
  auto [tx, rx] = unbounded_mpsc<int>();
  CountingWaker w;
  {
    auto f = rx.recv();
    ASSERT_TRUE(tx.send(0).is_ok());
    EXPECT_EQ(poll_once(f, w).value(), 0);  // ready at once: nothing registered
  }
  for (int i = 1; i < 100; ++i) ASSERT_TRUE(tx.send(i).is_ok());
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(MpscTest, UnboundedRecvIsWokenBySend) {
  auto [tx, rx] = unbounded_mpsc<int>();
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_TRUE(poll_once(f, w).is_pending());  // still nothing; still one waker
  EXPECT_EQ(w.outstanding(), 1);
  ASSERT_TRUE(tx.send(7).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 7);
}

TEST(MpscTest, DroppingACloneDoesNotCloseDroppingTheLastDoes) {
  auto [tx, rx] = mpsc<int>(4);
  auto tx2 = tx;
  EXPECT_TRUE(tx.same_channel(tx2));
  ASSERT_TRUE(tx2.try_send(1).is_ok());
  { auto gone = std::move(tx2); }
  EXPECT_FALSE(rx.is_closed());
  CountingWaker w;
  EXPECT_EQ(block_on(rx.recv()), 1);
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  ASSERT_TRUE(tx.try_send(2).is_ok());
  { auto gone = std::move(tx); }  // last sender: the receiver drains, then closed
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(poll_once(f, w).value(), 2);
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TEST(MpscTest, LastSenderDropWakesTheWaitingReceiver) {
  auto [tx, rx] = unbounded_mpsc<int>();
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 1);
  auto out = poll_once(f, w);
  ASSERT_TRUE(out.is_ready());
  EXPECT_EQ(out.value(), std::nullopt);
}

TEST(MpscTest, ReceiverCloseFailsLaterSendsAndKeepsWhatWasSent) {
  auto [tx, rx] = mpsc<std::string>(4);
  ASSERT_TRUE(tx.try_send("a").is_ok());
  ASSERT_TRUE(tx.try_send("b").is_ok());
  rx.close();
  EXPECT_TRUE(tx.is_closed());
  EXPECT_TRUE(rx.is_closed());
  auto r = tx.try_send("c");
  ASSERT_TRUE(r.is_err());
  EXPECT_TRUE(r.error().is_closed());
  EXPECT_EQ(std::move(r.error()).into_inner(), "c");  // handed back
  auto s = block_on(tx.send("d"));
  ASSERT_TRUE(s.is_err());
  EXPECT_EQ(std::move(s.error()).into_inner(), "d");
  EXPECT_TRUE(block_on(tx.reserve()).is_err());
  EXPECT_EQ(block_on(rx.recv()), "a");  // never lost silently
  EXPECT_EQ(block_on(rx.recv()), "b");
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
}

TEST(MpscTest, UnboundedReceiverCloseHandsValuesBack) {
  auto [tx, rx] = unbounded_mpsc<std::string>();
  ASSERT_TRUE(tx.send("a").is_ok());
  rx.close();
  auto r = tx.send("b");
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(std::move(r.error()).into_inner(), "b");
  EXPECT_EQ(rx.len(), 1u);
  EXPECT_EQ(block_on(rx.recv()), "a");
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
  EXPECT_EQ(rx.len(), 0u);
}

TEST(MpscTest, CloseWaitsForOutstandingPermits) {
  auto [tx, rx] = mpsc<int>(4);
  auto permit = block_on(tx.reserve());
  ASSERT_TRUE(permit.is_ok());
  rx.close();
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());  // a permit may still send
  permit->send(9);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 9);  // delivered although closed
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
}

TEST(MpscTest, CloseThenDroppedPermitEndsTheChannel) {
  auto [tx, rx] = mpsc<int>(2);
  std::optional<MpscPermit<int>> permit;
  {
    auto p = tx.try_reserve();
    ASSERT_TRUE(p.is_ok());
    permit.emplace(std::move(p.value()));
  }
  rx.close();
  CountingWaker w;
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  permit.reset();  // unused: the slot comes back, nothing more can come
  EXPECT_EQ(w.wakes(), 1);
  auto out = poll_once(f, w);
  ASSERT_TRUE(out.is_ready());
  EXPECT_EQ(out.value(), std::nullopt);
}

TEST(MpscTest, ReceiverDropDestroysQueuedValuesExactlyOnce) {
  Counted::live.store(0);
  {
    auto [tx, rx] = mpsc<Counted>(16);
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(tx.try_send(Counted(i)).is_ok());
    EXPECT_EQ(Counted::live.load(), 10);
    { auto gone = std::move(rx); }
    EXPECT_EQ(Counted::live.load(), 0);  // destroyed when the receiver dropped
    EXPECT_TRUE(tx.is_closed());
    auto r = tx.try_send(Counted(99));
    ASSERT_TRUE(r.is_err());
    EXPECT_EQ(r.error().value.v, 99);  // handed back, not destroyed by the channel
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(MpscTest, ValuesLeftWhenBothSidesDropAreDestroyedOnce) {
  Counted::live.store(0);
  {
    auto [tx, rx] = unbounded_mpsc<Counted>();
    for (int i = 0; i < 100; ++i) ASSERT_TRUE(tx.send(Counted(i)).is_ok());
    auto v = rx.try_recv();
    ASSERT_TRUE(v.is_ok());
    EXPECT_EQ(Counted::live.load(), 100);
  }
  EXPECT_EQ(Counted::live.load(), 0);
  {
    // Receiver first, then a permit sends into the dead channel.
    auto [tx, rx] = mpsc<Counted>(4);
    auto permit = tx.try_reserve();
    ASSERT_TRUE(permit.is_ok());
    { auto gone = std::move(rx); }
    permit->send(Counted(1));  // never fails; destroyed with the channel
    EXPECT_EQ(Counted::live.load(), 1);
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TEST(MpscTest, TrySendFullThenSucceedsAfterRecv) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  auto r = tx.try_send(2);
  ASSERT_TRUE(r.is_err());
  EXPECT_TRUE(r.error().is_full());
  EXPECT_EQ(std::move(r.error()).into_inner(), 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(tx.try_send(2).is_ok());
  EXPECT_EQ(rx.try_recv().value(), 2);
}

TEST(MpscTest, SendWaitsForASlotAndIsWokenByRecv) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  CountingWaker w;
  auto f = tx.send(2);
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_EQ(rx.try_recv().value(), 1);  // frees the slot: goes to the waiting send
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(tx.try_send(3).error().is_full());  // no barging past the waiter
  EXPECT_TRUE(poll_once(f, w).value().is_ok());
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(w.outstanding(), 0);
}

// Capacity 64: the receiver gives permits back in batches of 4 (capacity /
// 16) while no sender waits, at once when one does, and all of them before
// it reports empty.
TEST(MpscTest, BatchedPermitReleaseNeverStrandsASenderOrACapacity) {
  auto [tx, rx] = mpsc<int>(64);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  EXPECT_EQ(tx.capacity(), 0u);
  // Nobody waits: one value taken, its permit held back (batch of 4), but
  // counted as free.
  EXPECT_EQ(rx.try_recv().value(), 0);
  EXPECT_EQ(tx.capacity(), 1u);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 3);  // the 4th: the batch goes back
  EXPECT_EQ(tx.capacity(), 4u);
  for (int i = 64; i < 68; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  // A sender waits: the next value taken frees its slot at once.
  CountingWaker w;
  auto f = tx.send(100);
  EXPECT_TRUE(poll_once(f, w).is_pending());
  EXPECT_EQ(rx.try_recv().value(), 4);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(f, w).value().is_ok());
  // Drained: every permit is back once the receiver sees it empty.
  int expect = 5;
  for (;;) {
    auto r = rx.try_recv();
    if (r.is_err()) break;
    const int v = r.value();
    EXPECT_EQ(v, expect == 68 ? 100 : expect);
    expect = expect == 68 ? 69 : expect + 1;
  }
  EXPECT_EQ(expect, 69);
  EXPECT_EQ(tx.capacity(), 64u);
  EXPECT_EQ(w.outstanding(), 0);
}

// A full channel: the first sender that has to wait makes the receiver give
// every held-back permit back and return each later one at once, so later
// waits need no heavy fence (a membarrier per wait made 4 producers on a
// full channel spend three quarters of their time in the kernel).
TEST(MpscTest, AfterASenderWaitedNoLaterWaitNeedsAHeavyFence) {
  auto [tx, rx] = mpsc<int>(64);  // batches of 4
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  const std::uint64_t fences0 = channels_internal::asymmetric_fence::heavy_fence_count();
  int next = 0;
  for (int k = 0; k < 10; ++k) {
    CountingWaker w;
    auto f = tx.send(64 + k);
    EXPECT_TRUE(poll_once(f, w).is_pending()) << k;  // full: waits
    EXPECT_EQ(rx.try_recv().value(), next++);
    EXPECT_EQ(w.wakes(), 1) << k;  // that value's slot went to the waiter at once
    EXPECT_TRUE(poll_once(f, w).value().is_ok());
  }
  const std::uint64_t fences = channels_internal::asymmetric_fence::heavy_fence_count() - fences0;
  // The first wait only (none where membarrier is unavailable: no holding back).
  EXPECT_EQ(fences, channels_internal::asymmetric_fence::available() ? 1u : 0u);
  // Nothing lost, in order, and every permit back once drained.
  for (int i = next; i < 74; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  EXPECT_TRUE(rx.try_recv().error().is_empty());
  EXPECT_EQ(tx.capacity(), 64u);
}

// Capacity 10 (batches of 4): a receiver that parks keeps the permits it
// holds back (a request/reply server parks after every value); no sender is
// short of a slot because of it, and a waiting sender still gets one.
TEST(MpscTest, AParkedReceiverKeepsHeldBackPermitsWithoutStrandingASender) {
  auto [tx, rx] = mpsc<int>(10);
  CountingWaker w;
  ASSERT_TRUE(tx.try_send(0).is_ok());
  EXPECT_EQ(block_on(rx.recv()), 0);  // its permit held back
  auto f = rx.recv();
  EXPECT_TRUE(poll_once(f, w).is_pending());  // parks
  EXPECT_EQ(tx.capacity(), 10u);
  // The 10th send needs the held-back permit: the sender takes it.
  for (int i = 1; i <= 10; ++i) ASSERT_TRUE(tx.try_send(i).is_ok()) << i;
  EXPECT_TRUE(tx.try_send(11).error().is_full());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(f, w).value(), 1);  // held back again
  auto g = rx.recv();
  EXPECT_EQ(poll_once(g, w).value(), 2);
  // The channel has two free slots, both held back; a sender that waits
  // for a third is given the next value's slot.
  ASSERT_TRUE(tx.try_send(11).is_ok());
  ASSERT_TRUE(tx.try_send(12).is_ok());
  CountingWaker ws;
  auto send = tx.send(13);
  EXPECT_TRUE(poll_once(send, ws).is_pending());
  for (int i = 3; i <= 12; ++i) {
    auto h = rx.recv();
    EXPECT_EQ(poll_once(h, w).value(), i);
    if (i == 3) {
      EXPECT_EQ(ws.wakes(), 1);
    }
  }
  EXPECT_TRUE(poll_once(send, ws).value().is_ok());
  auto h = rx.recv();
  EXPECT_EQ(poll_once(h, w).value(), 13);
  EXPECT_EQ(tx.capacity(), 10u);
}

// Closed, then drained with its permits held back, then parked: the
// receiver counts every permit back and reports the end instead of waiting
// for permits it holds itself.
TEST(MpscTest, AClosedReceiverDrainingWithHeldBackPermitsSeesTheEnd) {
  auto [tx, rx] = mpsc<int>(10);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  rx.close();
  CountingWaker w;
  for (int i = 0; i < 3; ++i) {
    auto f = rx.recv();
    EXPECT_EQ(poll_once(f, w).value(), i);
  }
  auto f = rx.recv();
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());  // not Pending: nothing more can come
  EXPECT_EQ(p.value(), std::nullopt);
  EXPECT_TRUE(tx.is_closed());
}

// A slot freed by a receive reaches a sender that starts waiting only
// afterwards, even though the receiver holds the permit back (batch of 4)
// and never touches the channel again (tokio: `recv` frees it at once).
TEST(MpscTest, ASlotFreedByRecvReachesASenderThatWaitsLater) {
  auto [tx, rx] = mpsc<int>(64);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  EXPECT_EQ(rx.try_recv().value(), 0);
  EXPECT_EQ(tx.capacity(), 1u);
  CountingWaker w;
  auto f = tx.send(64);
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());  // no wait: the freed slot
  EXPECT_TRUE(p.value().is_ok());
  EXPECT_TRUE(tx.try_send(65).error().is_full());
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_TRUE(tx.try_send(65).is_ok());  // try_send finds it too
  EXPECT_TRUE(tx.try_reserve().error().is_full());
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_TRUE(tx.try_reserve().is_ok());
  EXPECT_EQ(w.outstanding(), 0);
}

// The deadlock that a held-back permit could cause: the consumer takes one
// value from a full channel and then waits for the producer, whose next
// send needs exactly that slot.
TEST(MpscTest, ConsumerWaitingForTheProducerAfterOneRecvDoesNotDeadlock) {
  LocalExecutor ex;
  auto [tx, rx] = mpsc<int>(64);
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  auto [done_tx, done_rx] = oneshot<int>();
  // Runs first: takes one value, then waits for the producer.
  auto consumer = ex.spawn_local([](MpscReceiver<int> rx, OneshotReceiver<int> done) -> Task<int> {
    auto first = co_await rx.recv();
    if (!first.has_value()) co_return -1;
    auto sent = co_await std::move(done);
    int n = 1;
    while (rx.try_recv().is_ok()) n += 1;
    co_return sent.is_ok() ? n : -2;
  }(std::move(rx), std::move(done_rx)));
  // Runs second: its send needs the slot the consumer freed.
  auto producer = ex.spawn_local([](MpscSender<int> tx, OneshotSender<int> done) -> Task<> {
    if ((co_await tx.send(64)).is_ok()) (void)done.send(64);
  }(tx, std::move(done_tx)));
  ex.run_until_stalled();
  ASSERT_TRUE(consumer.is_finished());
  EXPECT_EQ(ex.block_on(std::move(consumer)).value(), 65);
  EXPECT_TRUE(producer.is_finished());
}

TEST(MpscTest, BatchedPermitsDoNotDelayTheEndAfterClose) {
  auto [tx, rx] = mpsc<int>(1024);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  rx.close();
  int got = 0;
  CountingWaker w;
  for (;;) {
    auto recv = rx.recv();
    auto p = poll_once(recv, w);
    ASSERT_TRUE(p.is_ready());  // never pending: all values are there, then the end
    if (!p.value().has_value()) break;
    EXPECT_EQ(*p.value(), got);
    got += 1;
  }
  EXPECT_EQ(got, 10);
  EXPECT_TRUE(tx.try_send(1).error().is_closed());
}

TEST(MpscTest, DroppedPendingSendDestroysItsValueAndLeavesNoWaker) {
  Counted::live.store(0);
  auto [tx, rx] = mpsc<Counted>(1);
  ASSERT_TRUE(tx.try_send(Counted(1)).is_ok());
  CountingWaker w;
  {
    auto f = tx.send(Counted(2));
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(Counted::live.load(), 2);
  }  // not cancel-safe: the value is gone
  EXPECT_EQ(Counted::live.load(), 1);
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(rx.try_recv().value().v, 1);
  EXPECT_EQ(tx.capacity(), 1u);  // no permit leaked
}

TEST(MpscTest, SendFutureGrantedButDroppedReturnsThePermit) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  CountingWaker w;
  {
    auto f = tx.send(2);
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(rx.try_recv().value(), 1);  // the slot is handed to `f`
    EXPECT_EQ(w.wakes(), 1);
    EXPECT_EQ(tx.capacity(), 0u);
  }  // dropped before it saw the slot: it goes back
  EXPECT_EQ(tx.capacity(), 1u);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(MpscTest, PendingSendFailsWithValueWhenReceiverCloses) {
  auto [tx, rx] = mpsc<std::string>(1);
  ASSERT_TRUE(tx.try_send("x").is_ok());
  CountingWaker w;
  auto f = tx.send("y");
  EXPECT_TRUE(poll_once(f, w).is_pending());
  rx.close();
  EXPECT_EQ(w.wakes(), 1);
  auto out = poll_once(f, w);
  ASSERT_TRUE(out.is_ready());
  ASSERT_TRUE(out.value().is_err());
  EXPECT_EQ(std::move(out.value().error()).into_inner(), "y");
  EXPECT_EQ(block_on(rx.recv()), "x");
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
}

TEST(MpscTest, PermitSendNeverWaitsAndUnusedPermitReturnsTheSlot) {
  auto [tx, rx] = mpsc<int>(2);
  {
    auto p = block_on(tx.reserve());
    ASSERT_TRUE(p.is_ok());
    EXPECT_EQ(tx.capacity(), 1u);
  }
  EXPECT_EQ(tx.capacity(), 2u);
  auto a = block_on(tx.reserve());
  auto b = block_on(tx.reserve());
  ASSERT_TRUE(a.is_ok() && b.is_ok());
  EXPECT_TRUE(tx.try_send(0).error().is_full());
  EXPECT_TRUE(tx.try_reserve().is_err());
  b->send(2);  // order: by when the slot is claimed, i.e. when send is called
  a->send(1);
  EXPECT_EQ(rx.try_recv().value(), 2);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(tx.capacity(), 2u);
}

TEST(MpscTest, CancelledQueuedReservePassesItsPlaceOn) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  CountingWaker wa, wb;
  auto b = tx.reserve();
  {
    auto a = tx.reserve();
    EXPECT_TRUE(poll_once(a, wa).is_pending());
    EXPECT_TRUE(poll_once(b, wb).is_pending());
  }  // `a` cancelled while queued
  EXPECT_EQ(wa.outstanding(), 0);
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(wb.wakes(), 1);  // the freed slot went to `b`
  auto pb = poll_once(b, wb);
  ASSERT_TRUE(pb.is_ready() && pb.value().is_ok());
  pb.value()->send(5);
  EXPECT_EQ(rx.try_recv().value(), 5);
}

// ---- reserve_many ----

TEST(MpscTest, TryReserveManyTakesAllOrNone) {
  auto [tx, rx] = mpsc<int>(4);
  auto three = tx.try_reserve_many(3);
  ASSERT_TRUE(three.is_ok());
  EXPECT_EQ(three->remaining(), 3u);
  EXPECT_EQ(tx.capacity(), 1u);
  auto two = tx.try_reserve_many(2);  // only one free: none taken
  ASSERT_TRUE(two.is_err());
  EXPECT_TRUE(two.error().is_full());
  EXPECT_EQ(tx.capacity(), 1u);
  three->send(10);
  std::optional<MpscPermit<int>> one = three->next();
  ASSERT_TRUE(one.has_value());
  one->send(11);
  EXPECT_EQ(three->remaining(), 1u);
  { auto gone = std::move(three.value()); }  // the unused slot goes back
  EXPECT_EQ(rx.try_recv().value(), 10);
  EXPECT_EQ(rx.try_recv().value(), 11);
  EXPECT_TRUE(rx.try_recv().is_err());  // empty: the receiver has given back every slot
  EXPECT_EQ(tx.capacity(), 4u);
  auto none = tx.try_reserve_many(0);
  ASSERT_TRUE(none.is_ok());
  EXPECT_FALSE(none->next().has_value());
}

TEST(MpscTest, ReserveManyWaitsUntilEverySlotIsFree) {
  auto [tx, rx] = mpsc<int>(4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  CountingWaker w;
  auto f = tx.reserve_many(3);
  EXPECT_TRUE(poll_once(f, w).is_pending());  // one free, three wanted
  EXPECT_EQ(rx.try_recv().value(), 0);
  EXPECT_TRUE(poll_once(f, w).is_pending());  // two
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_GE(w.wakes(), 1);
  auto p = poll_once(f, w);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_ok());
  MpscPermits<int> permits = std::move(p.value().value());
  EXPECT_EQ(permits.remaining(), 3u);
  EXPECT_TRUE(tx.try_send(99).is_err());  // every free slot is held by the permits
  for (int i = 0; i < 3; ++i) permits.send(100 + i);
  EXPECT_EQ(rx.try_recv().value(), 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rx.try_recv().value(), 100 + i);
}

TEST(MpscTest, DroppedQueuedReserveManyGivesItsPartialGrantBack) {
  auto [tx, rx] = mpsc<int>(4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  CountingWaker w;
  {
    auto f = tx.reserve_many(4);
    EXPECT_TRUE(poll_once(f, w).is_pending());  // holds the one free slot while it waits
    EXPECT_EQ(tx.capacity(), 0u);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(tx.capacity(), 1u);  // given back
  EXPECT_TRUE(tx.try_send(3).is_ok());
  for (int i = 0; i < 4; ++i) EXPECT_EQ(rx.try_recv().value(), i);
}

TEST(MpscTest, ReserveManyOnAClosedChannelFails) {
  auto [tx, rx] = mpsc<int>(4);
  rx.close();
  EXPECT_TRUE(block_on(tx.reserve_many(2)).is_err());
  auto t = tx.try_reserve_many(2);
  ASSERT_TRUE(t.is_err());
  EXPECT_TRUE(t.error().is_closed());
}

TEST(MpscTest, ReserveManyBeyondTheCapacityFailsAsTokioDoes) {
  auto [tx, rx] = mpsc<int>(4);
  EXPECT_TRUE(block_on(tx.reserve_many(5)).is_err());  // could never be granted
  auto t = tx.try_reserve_many(5);
  ASSERT_TRUE(t.is_err());
  EXPECT_TRUE(t.error().is_full());
  EXPECT_EQ(tx.capacity(), 4u);  // nothing taken
  rx.close();
  EXPECT_TRUE(block_on(tx.reserve_many(0)).is_err());  // closed: even zero slots fail
  EXPECT_TRUE(tx.try_reserve_many(0).is_err());
}

// A reserve_many that waited holding part of its slots and then sees the
// close gives them back; the receiver, which after the close waits for
// every slot to come back, must be woken by that (not only by a later
// sender drop).
TEST(MpscTest, ClosedPartialReserveManyWakesTheDrainingReceiver) {
  auto [tx, rx] = mpsc<int>(4);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.try_send(i).is_ok());
  CountingWaker wf, wr;
  auto f = tx.reserve_many(2);
  EXPECT_TRUE(poll_once(f, wf).is_pending());  // holds the one free slot
  rx.close();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rx.try_recv().value(), i);
  auto recv = rx.recv();
  EXPECT_TRUE(poll_once(recv, wr).is_pending());  // one slot still out: not done yet
  EXPECT_EQ(wf.wakes(), 1);                       // the close woke the reserver
  auto r = poll_once(f, wf);
  ASSERT_TRUE(r.is_ready());
  EXPECT_TRUE(r.value().is_err());  // Closed; its slot goes back
  EXPECT_EQ(wr.wakes(), 1);         // and the receiver hears of it
  auto end = poll_once(recv, wr);
  ASSERT_TRUE(end.is_ready());
  EXPECT_EQ(end.value(), std::nullopt);  // closed and drained, tx still alive
}

TEST(MpscTest, ReserveIsUsableInSelect) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());  // full: reserve must wait
  auto [stop_tx, stop_rx] = unbounded_mpsc<Unit>();
  ASSERT_TRUE(stop_tx.send(Unit{}).is_ok());
  // (The permit arm is mapped to a bool: the select's output stays small.)
  auto s = select_biased(stop_rx.recv(), map(tx.reserve(), [](auto r) { return r.is_ok(); }));
  auto out = poll_once(s);
  ASSERT_TRUE(out.is_ready());
  EXPECT_EQ(out.value().index(), 0u);  // the reserve lost and was dropped: nothing leaked
  EXPECT_EQ(rx.try_recv().value(), 1);
  EXPECT_EQ(tx.capacity(), 1u);
}

TEST(MpscTest, OwnedPermitOutlivesItsSender) {
  auto [tx, rx] = mpsc<int>(1);
  auto fut = tx.reserve_owned();
  { auto gone = std::move(tx); }
  auto p = block_on(std::move(fut));
  ASSERT_TRUE(p.is_ok());
  EXPECT_FALSE(rx.is_closed());  // the permit holds a sender
  MpscSender<int> back = p->send(4);
  EXPECT_EQ(block_on(rx.recv()), 4);
  { auto gone = std::move(back); }
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
}

TEST(MpscTest, DroppedPendingRecvLeavesNoWaker) {
  auto [tx, rx] = unbounded_mpsc<int>();
  CountingWaker w;
  {
    auto f = rx.recv();
    EXPECT_TRUE(poll_once(f, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  ASSERT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(rx.try_recv().value(), 1);  // cancel-safe: nothing was taken
}

TEST(MpscTest, ClosedFutureCompletesWhenReceiverGoes) {
  auto [tx, rx] = mpsc<int>(1);
  CountingWaker w, w2;
  auto f = tx.closed();
  EXPECT_TRUE(poll_once(f, w).is_pending());
  {
    auto g = tx.closed();
    EXPECT_TRUE(poll_once(g, w2).is_pending());
  }
  EXPECT_EQ(w2.outstanding(), 0);  // cancelled: unlinked
  { auto gone = std::move(rx); }
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(f, w).is_ready());
  EXPECT_EQ(w.outstanding(), 0);
  auto h = tx.closed();
  EXPECT_TRUE(poll_once(h).is_ready());
}

TEST(MpscTest, RecvManyTakesWhatIsReady) {
  auto [tx, rx] = unbounded_mpsc<int>();
  std::vector<int> out;
  CountingWaker w;
  auto f = rx.recv_many(out, 4);
  EXPECT_TRUE(poll_once(f, w).is_pending());
  for (int i = 0; i < 6; ++i) ASSERT_TRUE(tx.send(i).is_ok());
  EXPECT_EQ(poll_once(f, w).value(), 4u);
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(block_on(rx.recv_many(out, 10)), 2u);
  EXPECT_EQ(out.size(), 6u);
  { auto gone = std::move(tx); }
  EXPECT_EQ(block_on(rx.recv_many(out, 10)), 0u);  // closed
}

TEST(MpscTest, ReceiverIsAStream) {
  auto [tx, rx] = unbounded_mpsc<int>();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(tx.send(i).is_ok());
  { auto gone = std::move(tx); }
  std::vector<int> all = block_on(stream::collect<std::vector<int>>(std::move(rx)));
  EXPECT_EQ(all, (std::vector<int>{0, 1, 2, 3, 4}));
}

TEST(MpscTest, RecvRespectsTheBudget) {
  auto [tx, rx] = unbounded_mpsc<int>();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(tx.send(i).is_ok());
  CountingWaker w;
  Budget budget(2);
  auto a = rx.recv();
  auto b = rx.recv();
  auto c = rx.recv();
  EXPECT_EQ(poll_once(a, w.borrowed(), &budget).value(), 0);
  EXPECT_EQ(poll_once(b, w.borrowed(), &budget).value(), 1);
  EXPECT_TRUE(poll_once(c, w.borrowed(), &budget).is_pending());  // spent: yields
  EXPECT_EQ(w.wakes(), 1);                                         // ...and asks to be polled again
  budget.refill();
  EXPECT_EQ(poll_once(c, w.borrowed(), &budget).value(), 2);
}

TEST(MpscTest, SteadyStateSendRecvDoesNotAllocate) {
  auto [tx, rx] = unbounded_mpsc<int>();
  auto [btx, brx] = mpsc<int>(64);
  for (int round = 0; round < 10; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(tx.send(i).is_ok());
      ASSERT_TRUE(btx.try_send(i).is_ok());
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(rx.try_recv().is_ok());
      ASSERT_TRUE(brx.try_recv().is_ok());
    }
  }
  testing::ScopedNoAlloc no_alloc;
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 50; ++i) {
      ASSERT_TRUE(tx.send(i).is_ok());
      ASSERT_TRUE(btx.try_send(i).is_ok());
    }
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(rx.try_recv().value(), i);
      ASSERT_EQ(brx.try_recv().value(), i);
    }
  }
}

// ---- on executors ----

Task<int> produce(MpscSender<int> tx, int from, int n) {
  for (int i = 0; i < n; ++i) {
    auto r = co_await tx.send(from + i);
    if (r.is_err()) co_return i;
  }
  co_return n;
}

Task<std::vector<int>> consume(MpscReceiver<int> rx) {
  std::vector<int> got;
  while (auto v = co_await rx.recv()) got.push_back(*v);
  co_return got;
}

TEST(MpscTest, BackpressureOnLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = mpsc<int>(4);
  auto producer = ex.spawn_local(produce(tx, 0, 100));
  { auto gone = std::move(tx); }
  ex.run_until_stalled();
  EXPECT_EQ(rx.len(), 4u);  // blocked: only `capacity` values in flight
  auto consumer = ex.spawn_local(consume(std::move(rx)));
  auto got = ex.block_on(std::move(consumer));
  EXPECT_EQ(ex.block_on(std::move(producer)).value(), 100);
  ASSERT_EQ(got.value().size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(got.value()[i], i);
}

TEST(MpscTest, ManyProducersOnLocalExecutorKeepPerProducerOrder) {
  LocalExecutor ex;
  auto [tx, rx] = mpsc<int>(3);
  std::vector<JoinHandle<int>> ps;
  for (int p = 0; p < 4; ++p) ps.push_back(ex.spawn_local(produce(tx, p * 1000, 200)));
  { auto gone = std::move(tx); }
  auto got = ex.block_on(ex.spawn_local(consume(std::move(rx)))).value();
  ASSERT_EQ(got.size(), 800u);
  int next[4] = {0, 1000, 2000, 3000};
  for (int v : got) {
    const int p = v / 1000;
    EXPECT_EQ(v, next[p]);
    next[p] += 1;
  }
}

TEST(MpscTest, ProducersAndConsumerOnThreadPool) {
  ThreadPool pool(2);
  auto [tx, rx] = mpsc<int>(16);
  std::vector<JoinHandle<int>> ps;
  for (int p = 0; p < 3; ++p) ps.push_back(pool.spawn(produce(tx, p * 100000, 20000)));
  { auto gone = std::move(tx); }
  auto got = pool.block_on(pool.spawn(consume(std::move(rx)))).value();
  ASSERT_EQ(got.size(), 60000u);
  int next[3] = {0, 100000, 200000};
  for (int v : got) {
    const int p = v / 100000;
    ASSERT_EQ(v, next[p]);
    next[p] += 1;
  }
  for (auto& h : ps) EXPECT_EQ(pool.block_on(std::move(h)).value(), 20000);
}

TEST(MpscTest, UnboundedFromOsThreadsToLocalExecutor) {
  LocalExecutor ex;
  auto [tx, rx] = unbounded_mpsc<int>();
  std::vector<std::thread> ts;
  for (int p = 0; p < 2; ++p) {
    ts.emplace_back([tx = tx, p]() mutable {
      for (int i = 0; i < 20000; ++i) ASSERT_TRUE(tx.send(p * 100000 + i).is_ok());
    });
  }
  { auto gone = std::move(tx); }
  auto rxp = std::make_shared<UnboundedMpscReceiver<int>>(std::move(rx));
  std::size_t n = ex.block_on([](std::shared_ptr<UnboundedMpscReceiver<int>> r) -> Task<std::size_t> {
    std::size_t count = 0;
    while (auto v = co_await r->recv()) count += 1;
    co_return count;
  }(rxp));
  for (auto& t : ts) t.join();
  EXPECT_EQ(n, 40000u);
}

// ---- blocking_recv / blocking_send (synchronous code) ----

TEST(MpscTest, BlockingRecvGetsAValueSentLaterFromAnotherThread) {
  auto [tx, rx] = mpsc<std::string>(4);
  std::thread t([tx = std::move(tx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(tx.try_send("late").is_ok());
  });
  EXPECT_EQ(rx.blocking_recv(), std::optional<std::string>("late"));
  t.join();
  EXPECT_EQ(rx.blocking_recv(), std::nullopt);  // the thread dropped the only sender
}

TEST(MpscTest, UnboundedBlockingRecvGetsAValueSentLaterFromAnotherThread) {
  auto [tx, rx] = unbounded_mpsc<int>();
  std::thread t([tx = std::move(tx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(tx.send(41).is_ok());
    EXPECT_TRUE(tx.send(42).is_ok());
  });
  EXPECT_EQ(rx.blocking_recv(), 41);
  EXPECT_EQ(rx.blocking_recv(), 42);
  EXPECT_EQ(rx.blocking_recv(), std::nullopt);
  t.join();
}

TEST(MpscTest, BlockingRecvOnAClosedChannelYieldsNullopt) {
  {
    auto [tx, rx] = mpsc<int>(2);
    ASSERT_TRUE(tx.try_send(1).is_ok());
    { auto drop = std::move(tx); }
    EXPECT_EQ(rx.blocking_recv(), 1);  // drained first
    EXPECT_EQ(rx.blocking_recv(), std::nullopt);
  }
  {
    auto [tx, rx] = unbounded_mpsc<int>();
    rx.close();
    EXPECT_TRUE(tx.send(1).is_err());
    EXPECT_EQ(rx.blocking_recv(), std::nullopt);
  }
  {
    // Closed by the last sender dropping on another thread while it waits.
    auto [tx, rx] = unbounded_mpsc<int>();
    std::thread t([tx = std::move(tx)]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto drop = std::move(tx);
    });
    EXPECT_EQ(rx.blocking_recv(), std::nullopt);
    t.join();
  }
}

TEST(MpscTest, BlockingSendWaitsForCapacityFreedByAnotherThread) {
  auto [tx, rx] = mpsc<int>(1);
  ASSERT_TRUE(tx.try_send(1).is_ok());
  std::atomic<bool> receiving{false};
  std::thread t([&receiving, rx = std::move(rx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    receiving.store(true);
    EXPECT_EQ(rx.try_recv().value(), 1);  // frees the only slot
    EXPECT_EQ(rx.blocking_recv(), 2);
    EXPECT_EQ(rx.blocking_recv(), std::nullopt);
  });
  EXPECT_TRUE(tx.blocking_send(2).is_ok());
  EXPECT_TRUE(receiving.load());  // it could not have sent before the slot was freed
  { auto drop = std::move(tx); }
  t.join();
}

TEST(MpscTest, BlockingSendHandsTheValueBackWhenTheReceiverIsDropped) {
  auto [tx, rx] = mpsc<std::string>(1);
  ASSERT_TRUE(tx.try_send("first").is_ok());
  std::thread t([rx = std::move(rx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    auto drop = std::move(rx);
  });
  auto r = tx.blocking_send("second");  // waits for a slot, then sees the close
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(std::move(r.error()).into_inner(), "second");
  t.join();
  EXPECT_TRUE(tx.is_closed());
  auto again = tx.blocking_send("third");  // already closed: fails at once
  ASSERT_TRUE(again.is_err());
  EXPECT_EQ(again.error().value, "third");
}

// ---- weak senders ----

TEST(MpscTest, WeakSenderDoesNotKeepTheChannelOpen) {
  auto [tx, rx] = mpsc<int>(4);
  WeakMpscSender<int> weak = tx.downgrade();
  EXPECT_EQ(tx.strong_count(), 1u);
  EXPECT_EQ(tx.weak_count(), 1u);
  EXPECT_EQ(rx.sender_weak_count(), 1u);
  {
    std::optional<MpscSender<int>> up = weak.upgrade();
    ASSERT_TRUE(up.has_value());
    EXPECT_TRUE(up->same_channel(tx));
    EXPECT_EQ(rx.sender_strong_count(), 2u);
    EXPECT_TRUE(up->try_send(7).is_ok());
  }
  EXPECT_EQ(rx.sender_strong_count(), 1u);
  { auto gone = std::move(tx); }  // the last sender: closed, although `weak` lives
  EXPECT_EQ(rx.sender_strong_count(), 0u);
  EXPECT_TRUE(rx.is_closed());
  EXPECT_EQ(block_on(rx.recv()), 7);  // what was sent is still delivered
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
  EXPECT_FALSE(weak.upgrade().has_value());  // a closed channel never reopens
  WeakMpscSender<int> copy = weak;
  EXPECT_EQ(copy.weak_count(), 2u);
  EXPECT_FALSE(copy.upgrade().has_value());
}

TEST(MpscTest, WeakSenderOutlivesTheReceiverAndFreesTheChannel) {
  // The weak sender holds the memory: dropping everything else first and
  // the weak sender last must free it (ASan/LSan would report a leak).
  std::unique_ptr<WeakUnboundedMpscSender<std::string>> weak;
  {
    auto [tx, rx] = unbounded_mpsc<std::string>();
    weak = std::make_unique<WeakUnboundedMpscSender<std::string>>(tx.downgrade());
    ASSERT_TRUE(tx.send("queued, never received").is_ok());
  }
  EXPECT_FALSE(weak->upgrade().has_value());
  EXPECT_EQ(weak->strong_count(), 0u);
  weak.reset();
}

TEST(MpscTest, UpgradedUnboundedSenderSendsAndCounts) {
  auto [tx, rx] = unbounded_mpsc<int>();
  auto weak = tx.downgrade();
  auto up = weak.upgrade();
  ASSERT_TRUE(up.has_value());
  EXPECT_EQ(tx.strong_count(), 2u);
  ASSERT_TRUE(up->send(1).is_ok());
  { auto gone = std::move(tx); }
  EXPECT_FALSE(rx.is_closed());  // the upgraded sender keeps it open
  ASSERT_TRUE(up->send(2).is_ok());
  up.reset();
  EXPECT_EQ(block_on(rx.recv()), 1);
  EXPECT_EQ(block_on(rx.recv()), 2);
  EXPECT_EQ(block_on(rx.recv()), std::nullopt);
  EXPECT_EQ(rx.sender_weak_count(), 1u);
}

// The actor pattern weak senders exist for: an actor holds a weak handle to
// its own mailbox, so the mailbox closes (and the actor ends) when its last
// outside sender goes.
Task<int> actor(MpscReceiver<int> rx, WeakMpscSender<int> self) {
  int sum = 0;
  while (auto v = co_await rx.recv()) {
    sum += *v;
    if (*v == 1) {
      // Forward to itself through an upgraded handle (alive: the caller
      // still holds a sender).
      if (auto me = self.upgrade()) (void)me->try_send(100);
    }
  }
  co_return sum;
}

TEST(MpscTest, ActorWithAWeakHandleToItsMailboxEndsWhenItsSendersGo) {
  LocalExecutor ex;
  auto [tx, rx] = mpsc<int>(8);
  auto weak = tx.downgrade();
  JoinHandle<int> h = ex.spawn_local(actor(std::move(rx), std::move(weak)));
  ASSERT_TRUE(ex.block_on(tx.send(1)).is_ok());
  ex.block_on(yield_now());  // the actor runs: takes 1, upgrades, sends 100 to itself
  ASSERT_TRUE(ex.block_on(tx.send(2)).is_ok());
  { auto gone = std::move(tx); }
  // The weak handle does not keep the mailbox open: the actor drains it and
  // ends (with a strong self-handle it would wait forever).
  auto r = ex.block_on(std::move(h));
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 103);
}

// ---- hardening asserts ----

TEST(MpscDeathTest, ZeroCapacityIsAHardeningAssert) {
  EXPECT_DEATH((void)mpsc<int>(0), "mpsc: capacity must be at least 1");
}

}  // namespace
}  // namespace weft
