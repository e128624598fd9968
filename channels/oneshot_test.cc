#include "channels/oneshot.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>

#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/select.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(Future<OneshotReceiver<int>>);
static_assert(Future<LocalOneshotReceiver<int>>);
static_assert(Future<OneshotClosed<int>>);
static_assert(CancelSafe<OneshotRecv<int>>);
static_assert(!CancelSafe<OneshotReceiver<int>>);  // dropping it drops a sent value
static_assert(CancelSafe<OneshotClosed<int>>);
static_assert(Unpin<OneshotReceiver<int>>);
static_assert(std::is_same_v<OutputOf<OneshotReceiver<int>>, Result<int, RecvError>>);
static_assert(!std::is_copy_constructible_v<OneshotSender<int>>);
static_assert(!std::is_copy_constructible_v<OneshotReceiver<int>>);
static_assert(std::is_nothrow_move_constructible_v<OneshotSender<int>>);
static_assert(std::is_nothrow_move_constructible_v<OneshotReceiver<int>>);
static_assert(sizeof(OneshotSender<int>) == sizeof(void*));
static_assert(sizeof(OneshotReceiver<int>) == sizeof(void*));
// The one allocation: state word, two wakers, the value (header: 48 bytes).
static_assert(sizeof(channels_internal::OneshotState<int, true>) == 48);
static_assert(sizeof(channels_internal::OneshotState<int, false>) == 48);

// Counts live instances; every constructor and destructor is counted so a
// leak or a double destruction shows.
struct Counted {
  static inline std::atomic<int> live{0};
  static inline std::atomic<int> destroyed{0};
  int v;
  explicit Counted(int x) : v(x) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted(const Counted& o) : v(o.v) { live.fetch_add(1); }
  Counted& operator=(const Counted&) = default;
  ~Counted() {
    live.fetch_sub(1);
    destroyed.fetch_add(1);
  }
};

// The thread-safe and the single-thread flavours share every behaviour test.
struct SyncFlavor {
  template <class T>
  static auto make() {
    return oneshot<T>();
  }
};
struct LocalFlavor {
  template <class T>
  static auto make() {
    return local_oneshot<T>();
  }
};

template <class F>
class OneshotTest : public ::testing::Test {
 protected:
  void SetUp() override { Counted::live.store(0); }
  void TearDown() override {
    EXPECT_EQ(Counted::live.load(), 0) << "a Counted leaked or was destroyed twice";
  }
};
using Flavors = ::testing::Types<SyncFlavor, LocalFlavor>;
TYPED_TEST_SUITE(OneshotTest, Flavors);

TEST(OneshotHeaderTest, HeaderExample) {
  auto [tx, rx] = weft::oneshot<std::string>();
  EXPECT_TRUE(rx.try_recv().error().is_empty());
  EXPECT_TRUE(tx.send("hi").is_ok());
  EXPECT_EQ(weft::testing::poll_once(rx).value().value(), "hi");
}

TYPED_TEST(OneshotTest, SendThenPollIsReady) {
  auto [tx, rx] = TypeParam::template make<int>();
  EXPECT_TRUE(tx.send(5).is_ok());
  EXPECT_FALSE(tx.valid());
  CountingWaker w;
  auto p = poll_once(rx, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value().value(), 5);
  EXPECT_TRUE(rx.is_terminated());
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_EQ(w.outstanding(), 0);
}

TYPED_TEST(OneshotTest, PendingReceiveIsWokenBySend) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  EXPECT_TRUE(poll_once(rx, w).is_pending());
  EXPECT_EQ(w.outstanding(), 1);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_TRUE(tx.send(9).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(rx, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value().value(), 9);
  EXPECT_EQ(w.outstanding(), 0);  // both handles let go: the state is gone
}

TYPED_TEST(OneshotTest, RepollWithSameWakerDoesNotClone) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  const Waker owned = w.waker();  // the borrowed one's clones never will_wake it
  EXPECT_TRUE(poll_once(rx, owned).is_pending());
  EXPECT_TRUE(poll_once(rx, owned).is_pending());
  EXPECT_TRUE(poll_once(rx, owned).is_pending());
  EXPECT_EQ(w.clones(), 1);
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(rx, owned).value().value(), 1);
}

TYPED_TEST(OneshotTest, RepollWithNewWakerReplacesTheOld) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker a, b;
  EXPECT_TRUE(poll_once(rx, a).is_pending());
  EXPECT_TRUE(poll_once(rx, b).is_pending());
  EXPECT_EQ(a.outstanding(), 0);  // replaced and dropped
  EXPECT_EQ(b.outstanding(), 1);
  EXPECT_TRUE(tx.send(2).is_ok());
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(poll_once(rx, b).value().value(), 2);
  EXPECT_EQ(b.outstanding(), 0);
}

TYPED_TEST(OneshotTest, SenderDroppedUnsentClosesPendingReceiver) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  EXPECT_TRUE(poll_once(rx, w).is_pending());
  { auto gone = std::move(tx); }
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_once(rx, w);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_err());
  EXPECT_EQ(p.value().error(), RecvError::closed());
  EXPECT_EQ(w.outstanding(), 0);
}

TYPED_TEST(OneshotTest, SenderDroppedBeforeFirstPoll) {
  auto [tx, rx] = TypeParam::template make<int>();
  tx = {};
  EXPECT_TRUE(rx.try_recv().error().is_closed());
  EXPECT_TRUE(rx.is_terminated());
  EXPECT_TRUE(rx.try_recv().error().is_closed());  // and stays closed
}

TYPED_TEST(OneshotTest, SendAfterReceiverDroppedGivesTheValueBack) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  rx = {};
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.send(Counted(7));
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(std::move(r.error()).into_inner().v, 7);
}

TYPED_TEST(OneshotTest, SendAfterCloseFailsAndReceiverSeesClosed) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  CountingWaker w;
  EXPECT_TRUE(poll_once(rx, w).is_pending());
  rx.close();
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.send(Counted(3));
  ASSERT_TRUE(r.is_err());
  EXPECT_EQ(r.error().value.v, 3);
  auto p = poll_once(rx, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_TRUE(p.value().is_err());
  EXPECT_EQ(w.wakes(), 0);  // close() is the receiver's own doing: no wake
  EXPECT_EQ(w.outstanding(), 0);
}

TYPED_TEST(OneshotTest, ValueSentBeforeCloseCanStillBeTaken) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  EXPECT_TRUE(tx.send(Counted(11)).is_ok());
  rx.close();
  auto r = rx.try_recv();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value().v, 11);
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TYPED_TEST(OneshotTest, TryRecvEmptyThenValueThenClosed) {
  auto [tx, rx] = TypeParam::template make<int>();
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::empty());
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::empty());
  EXPECT_TRUE(tx.send(4).is_ok());
  auto r = rx.try_recv();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), 4);
  EXPECT_EQ(rx.try_recv().error(), TryRecvError::closed());
}

TYPED_TEST(OneshotTest, DroppingReceiverDestroysSentValueOnce) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  const int before = Counted::destroyed.load();
  EXPECT_TRUE(tx.send(Counted(1)).is_ok());
  EXPECT_EQ(Counted::live.load(), 1);
  rx = {};
  EXPECT_EQ(Counted::live.load(), 0);
  EXPECT_EQ(Counted::destroyed.load() - before, 2);  // the temporary and the one in the channel
}

TYPED_TEST(OneshotTest, ReceivedValueIsTheOnlyCopy) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  EXPECT_TRUE(tx.send(Counted(1)).is_ok());
  {
    auto r = poll_once(rx);
    EXPECT_EQ(Counted::live.load(), 1);  // moved out of the channel
    EXPECT_EQ(r.value().value().v, 1);
  }
  EXPECT_EQ(Counted::live.load(), 0);
}

TYPED_TEST(OneshotTest, UnreceivedValueWithBothHandlesAliveIsFreedWithThem) {
  auto pair = TypeParam::template make<Counted>();
  EXPECT_TRUE(pair.first.send(Counted(1)).is_ok());
  EXPECT_EQ(Counted::live.load(), 1);
}  // TearDown checks live == 0

TYPED_TEST(OneshotTest, MoveOnlyValue) {
  auto [tx, rx] = TypeParam::template make<std::unique_ptr<int>>();
  EXPECT_TRUE(tx.send(std::make_unique<int>(42)).is_ok());
  auto r = rx.try_recv();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(*r.value(), 42);
}

TYPED_TEST(OneshotTest, MoveOnlyValueComesBackOnFailure) {
  auto [tx, rx] = TypeParam::template make<std::unique_ptr<int>>();
  rx.close();
  auto r = tx.send(std::make_unique<int>(8));
  ASSERT_TRUE(r.is_err());
  std::unique_ptr<int> back = std::move(r.error()).into_inner();
  EXPECT_EQ(*back, 8);
}

TYPED_TEST(OneshotTest, CancellingPendingReceiveLeavesNoWaker) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  CountingWaker w;
  EXPECT_TRUE(poll_once(rx, w).is_pending());
  EXPECT_EQ(w.outstanding(), 1);
  rx = {};  // cancel: the sender is still alive
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(tx.is_closed());
  auto r = tx.send(Counted(2));
  EXPECT_TRUE(r.is_err());
  EXPECT_EQ(w.wakes(), 0);
}

TYPED_TEST(OneshotTest, ClosedFutureIsWokenByReceiverDrop) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  {
    auto closed = tx.closed();
    const Waker owned = w.waker();
    EXPECT_TRUE(poll_once(closed, owned).is_pending());
    EXPECT_TRUE(poll_once(closed, owned).is_pending());
    EXPECT_EQ(w.clones(), 1);
    EXPECT_FALSE(tx.is_closed());
    rx = {};
    EXPECT_EQ(w.wakes(), 1);
    EXPECT_TRUE(poll_once(closed, w).is_ready());
  }
  EXPECT_TRUE(tx.is_closed());
  tx = {};
  EXPECT_EQ(w.outstanding(), 0);
}

TYPED_TEST(OneshotTest, ClosedFutureIsWokenByClose) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  auto closed = tx.closed();
  EXPECT_TRUE(poll_once(closed, w).is_pending());
  rx.close();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(poll_once(closed, w).is_ready());
}

TYPED_TEST(OneshotTest, ClosedFutureReadyAtOnceWhenAlreadyClosed) {
  auto [tx, rx] = TypeParam::template make<int>();
  rx = {};
  CountingWaker w;
  auto closed = tx.closed();
  EXPECT_TRUE(poll_once(closed, w).is_ready());
  EXPECT_EQ(w.outstanding(), 0);
}

TYPED_TEST(OneshotTest, CancellingClosedFutureLeavesNoWaker) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  {
    auto closed = tx.closed();
    EXPECT_TRUE(poll_once(closed, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  rx = {};  // nothing to wake any more
  EXPECT_EQ(w.wakes(), 0);
}

TYPED_TEST(OneshotTest, ClosedFutureNewWakerReplacesOld) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker a, b;
  auto closed = tx.closed();
  EXPECT_TRUE(poll_once(closed, a).is_pending());
  EXPECT_TRUE(poll_once(closed, b).is_pending());
  EXPECT_EQ(a.outstanding(), 0);
  rx = {};
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

TYPED_TEST(OneshotTest, SenderDropReclaimsPollClosedWaker) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  Context cx(w.borrowed());
  EXPECT_TRUE(tx.poll_closed(cx).is_pending());
  EXPECT_EQ(w.outstanding(), 1);
  tx = {};
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(rx.try_recv().error().is_closed());
}

TYPED_TEST(OneshotTest, SpentBudgetDefersTheValue) {
  auto [tx, rx] = TypeParam::template make<int>();
  EXPECT_TRUE(tx.send(6).is_ok());
  CountingWaker w;
  Budget empty(0);
  EXPECT_TRUE(poll_once(rx, w, &empty).is_pending());
  EXPECT_EQ(w.wakes(), 1);  // yielded, asking to be polled again
  Budget one(1);
  auto p = poll_once(rx, w, &one);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value().value(), 6);
  EXPECT_EQ(one.remaining(), 0u);
}

TYPED_TEST(OneshotTest, ReceiverMovesBetweenPolls) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  EXPECT_TRUE(poll_once(rx, w).is_pending());
  auto moved = std::move(rx);
  EXPECT_TRUE(tx.send(3).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(moved, w).value().value(), 3);
}

TYPED_TEST(OneshotTest, NoAllocationAfterCreation) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  {
    testing::ScopedNoAlloc no_alloc;
    EXPECT_TRUE(poll_once(rx, w).is_pending());
    EXPECT_TRUE(tx.send(1).is_ok());
    EXPECT_EQ(poll_once(rx, w).value().value(), 1);
  }
}

TYPED_TEST(OneshotTest, RecvBorrowsSoALosingSelectArmLosesNothing) {
  auto [tx, rx] = TypeParam::template make<Counted>();
  CountingWaker w;
  {
    auto s = select_biased(rx.recv(), ready(7));
    auto out = poll_once(s, w).value();
    EXPECT_EQ(out.index(), 1u);
  }  // the recv() arm lost and was dropped: the receiver is intact
  EXPECT_FALSE(tx.is_closed());
  EXPECT_TRUE(tx.send(Counted(3)).is_ok());
  {
    auto s = select_biased(rx.recv(), pending<int>());
    auto out = poll_once(s, w).value();
    ASSERT_EQ(out.index(), 0u);
    EXPECT_EQ(std::get<0>(out).value().v, 3);
  }
  EXPECT_TRUE(rx.is_terminated());
}

// The owning receiver is NOT cancel-safe (future/future.h: dropping a
// cancel-safe future before Ready loses no received message): a select arm
// that owns the receiver and loses destroys a value sent after its last poll.
// Such an arm must be `rx.recv()` (or an explicit `unsafe_cancel`).
TYPED_TEST(OneshotTest, OwningReceiverIsNotCancelSafe) {
  EXPECT_FALSE(CancelSafe<OneshotReceiver<int>>);
  EXPECT_FALSE(CancelSafe<LocalOneshotReceiver<int>>);
  auto [tx, rx] = TypeParam::template make<Counted>();
  CountingWaker w;
  const int destroyed_before = Counted::destroyed.load();
  {
    auto s = select_biased(yield_now(), unsafe_cancel(std::move(rx)));
    EXPECT_TRUE(poll_once(s, w).is_pending());  // both arms pending
    EXPECT_TRUE(tx.send(Counted(3)).is_ok());   // delivered into the channel...
    const int after_send = Counted::destroyed.load();
    auto out = poll_once(s, w).value();
    EXPECT_EQ(out.index(), 0u);  // ...but the yield arm wins
    // The losing receiver was dropped and took the sent value with it.
    EXPECT_EQ(Counted::destroyed.load(), after_send + 1);
  }
  EXPECT_GT(Counted::destroyed.load(), destroyed_before);
}

TYPED_TEST(OneshotTest, RecvPendingThenWoken) {
  auto [tx, rx] = TypeParam::template make<int>();
  CountingWaker w;
  {
    auto r = rx.recv();
    EXPECT_TRUE(poll_once(r, w).is_pending());
  }
  auto r = rx.recv();
  EXPECT_TRUE(poll_once(r, w).is_pending());
  EXPECT_TRUE(tx.send(5).is_ok());
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(r, w).value().value(), 5);
}

TEST(OneshotDeathTest, SendOnSpentSenderIsAHardeningAssert) {
  auto [tx, rx] = oneshot<int>();
  EXPECT_TRUE(tx.send(1).is_ok());
  EXPECT_DEATH((void)tx.send(2), "spent or moved-from sender");
}

TEST(OneshotTest, ThreadSafeSenderOnAnotherThread) {
  auto [tx, rx] = oneshot<std::string>();
  std::thread t(
      [tx = std::move(tx)]() mutable { EXPECT_TRUE(tx.send(std::string(100, 'x')).is_ok()); });
  auto r = block_on(rx);
  t.join();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), std::string(100, 'x'));
}

TEST(OneshotTest, ClosedFutureAcrossThreads) {
  auto [tx, rx] = oneshot<int>();
  std::thread t([rx = std::move(rx)]() mutable { rx = {}; });
  block_on(tx.closed());
  t.join();
  EXPECT_TRUE(tx.is_closed());
}

// ---------------------------------------------------------------------------
// With executors and tasks
// ---------------------------------------------------------------------------

template <class Rx>
Task<int> await_value(Rx rx) {
  Result<int, RecvError> r = co_await rx;
  co_return r.is_ok() ? r.value() : -1;
}

template <class Tx>
Task<> send_later(Tx tx, int v) {
  co_await yield_now();
  co_await yield_now();
  EXPECT_TRUE(tx.send(v).is_ok());
}

TEST(OneshotTest, LocalExecutorTasks) {
  LocalExecutor ex;
  auto [tx, rx] = local_oneshot<int>();
  auto h = ex.spawn_local(await_value(std::move(rx)));
  ex.spawn_local(send_later(std::move(tx), 21)).detach();
  auto r = ex.block_on(std::move(h));
  EXPECT_EQ(r.value(), 21);
}

TEST(OneshotTest, LocalExecutorSenderDropped) {
  LocalExecutor ex;
  auto [tx, rx] = oneshot<int>();
  auto h = ex.spawn_local(await_value(std::move(rx)));
  ex.run_until_stalled();
  tx = {};
  EXPECT_EQ(ex.block_on(std::move(h)).value(), -1);
}

// A request/response ping-pong through fresh oneshots.
Task<int> server(LocalOneshotReceiver<std::pair<int, LocalOneshotSender<int>>> rx) {
  auto r = co_await rx;
  if (!r) co_return -1;
  auto [x, reply] = std::move(r).value();
  EXPECT_TRUE(reply.send(x * 2).is_ok());
  co_return 0;
}

TEST(OneshotTest, LocalExecutorRequestResponse) {
  LocalExecutor ex;
  int total = 0;
  for (int i = 0; i < 100; ++i) {
    auto [req_tx, req_rx] = local_oneshot<std::pair<int, LocalOneshotSender<int>>>();
    auto [resp_tx, resp_rx] = local_oneshot<int>();
    ex.spawn_local(server(std::move(req_rx))).detach();
    EXPECT_TRUE(req_tx.send({i, std::move(resp_tx)}).is_ok());
    total += ex.block_on(std::move(resp_rx)).value();
  }
  EXPECT_EQ(total, 2 * (99 * 100 / 2));
}

TEST(OneshotTest, ThreadPoolTasks) {
  ThreadPool pool(2);
  for (int i = 0; i < 200; ++i) {
    auto [tx, rx] = oneshot<int>();
    auto h = pool.spawn(await_value(std::move(rx)));
    pool.spawn(send_later(std::move(tx), i)).detach();
    EXPECT_EQ(pool.block_on(std::move(h)).value(), i);
  }
}

// ---- blocking_recv (synchronous code) ----

template <class R>
concept HasBlockingRecv = requires(R& r) { r.blocking_recv(); };
static_assert(HasBlockingRecv<OneshotReceiver<int>>);
static_assert(!HasBlockingRecv<LocalOneshotReceiver<int>>);  // nothing could complete it
static_assert(std::is_same_v<decltype(std::declval<OneshotReceiver<int>&>().blocking_recv()),
                             Result<int, RecvError>>);

TEST(OneshotTest, BlockingRecvGetsAValueSentLaterFromAnotherThread) {
  auto [tx, rx] = oneshot<std::string>();
  std::thread t([tx = std::move(tx)]() mutable {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(tx.send("late").is_ok());
  });
  Result<std::string, RecvError> r = rx.blocking_recv();
  ASSERT_TRUE(r.is_ok());
  EXPECT_EQ(r.value(), "late");
  EXPECT_TRUE(rx.is_terminated());
  t.join();
}

TEST(OneshotTest, BlockingRecvYieldsClosedWhenTheSenderIsDropped) {
  {
    auto [tx, rx] = oneshot<int>();
    { auto drop = std::move(tx); }
    auto r = rx.blocking_recv();
    ASSERT_TRUE(r.is_err());
    EXPECT_TRUE(r.error().is_closed());
  }
  {
    auto [tx, rx] = oneshot<int>();
    std::thread t([tx = std::move(tx)]() mutable {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      auto drop = std::move(tx);  // unsent
    });
    auto r = rx.blocking_recv();
    ASSERT_TRUE(r.is_err());
    EXPECT_TRUE(r.error().is_closed());
    t.join();
  }
}

}  // namespace
}  // namespace weft
