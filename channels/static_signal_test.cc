#include "channels/static_signal.h"

#include <optional>
#include <type_traits>
#include <utility>

#include "executor/static_executor.h"
#include "future/frame_allocator.h"
#include "future/future.h"
#include "future/poll.h"
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
using Job = weft::Task<int, weft::TaskArena<1024, ArenaTag>>;

constinit weft::StaticSignal<int, weft::CriticalSectionPolicy> reading;
void on_adc_interrupt(int v) { reading.signal(v); }  // latest wins
Job logger() {
  int last = co_await reading.wait();
  co_return last;
}

}  // namespace header_example

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;
using testing::ScopedNoAlloc;

struct Counted {
  static inline int live = 0;
  static inline int destroyed[16] = {};
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

using Sig = StaticSignal<int, CriticalSectionPolicy>;
static_assert(Future<Sig::WaitFuture>);
static_assert(CancelSafe<Sig::WaitFuture>);
static_assert(std::is_same_v<OutputOf<Sig::WaitFuture>, int>);

constinit StaticSignal<int, AtomicPolicy> g_atomic_signal;
constinit StaticSignal<Unit> g_event;

TEST(StaticSignalTest, HeaderExample) {
  using header_example::Job;
  TaskStorage<Job> task;
  StaticExecutor<1, CriticalSectionPolicy> ex;
  auto h = ex.spawn(task, [] { return header_example::logger(); });
  ASSERT_TRUE(h);
  ex.run_until_idle();
  EXPECT_FALSE(h->is_finished());  // waiting
  header_example::on_adc_interrupt(1);
  header_example::on_adc_interrupt(2);  // before the task ran: latest wins
  ex.run_until_idle();
  ASSERT_TRUE(h->is_finished());
  EXPECT_EQ(*h->take_output(), 2);
  EXPECT_FALSE(header_example::reading.signaled());
}

TEST(StaticSignalTest, ConstinitGlobalsWork) {
  g_atomic_signal.signal(4);
  EXPECT_EQ(g_atomic_signal.try_take(), 4);
  g_event.signal(Unit{});
  auto w = g_event.wait();
  EXPECT_TRUE(poll_once(w).is_ready());
  EXPECT_FALSE(g_event.signaled());
}

TEST(StaticSignalTest, LatestValueWinsAndIsTakenOnce) {
  Sig s;
  EXPECT_FALSE(s.signaled());
  EXPECT_EQ(s.try_take(), std::nullopt);
  s.signal(1);
  s.signal(2);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(s.try_take(), 2);
  EXPECT_EQ(s.try_take(), std::nullopt);
  s.signal(3);
  s.reset();
  EXPECT_FALSE(s.signaled());
  auto w = s.wait();
  EXPECT_TRUE(poll_once(w).is_pending());
}

TEST(StaticSignalTest, WaitPendsUntilSignalled) {
  Sig s;
  CountingWaker cw;
  auto w = s.wait();
  EXPECT_TRUE(poll_once(w, cw).is_pending());
  EXPECT_TRUE(poll_once(w, cw).is_pending());
  EXPECT_EQ(cw.outstanding(), 1);
  s.signal(9);
  EXPECT_EQ(cw.wakes(), 1);
  EXPECT_EQ(poll_once(w, cw).value(), 9);
  EXPECT_FALSE(s.signaled());
  EXPECT_EQ(cw.outstanding(), 0);
}

TEST(StaticSignalTest, ManyWaitersEachTakeOneValueInFifoOrder) {
  Sig s;
  CountingWaker c1, c2;
  auto w1 = s.wait();
  auto w2 = s.wait();
  EXPECT_TRUE(poll_once(w1, c1).is_pending());
  EXPECT_TRUE(poll_once(w2, c2).is_pending());
  s.signal(1);
  EXPECT_EQ(c1.wakes(), 1);
  EXPECT_EQ(c2.wakes(), 0);
  s.signal(2);  // overwrites; w1 is already woken, nobody else is
  EXPECT_EQ(c2.wakes(), 0);
  EXPECT_EQ(poll_once(w1, c1).value(), 2);
  s.signal(3);
  EXPECT_EQ(c2.wakes(), 1);
  EXPECT_EQ(poll_once(w2, c2).value(), 3);
  EXPECT_EQ(c1.outstanding() + c2.outstanding(), 0);
}

TEST(StaticSignalTest, AWokenWaiterWhoseValueWasTakenGoesBackToTheFront) {
  Sig s;
  CountingWaker c1, c2;
  auto w1 = s.wait();
  auto w2 = s.wait();
  EXPECT_TRUE(poll_once(w1, c1).is_pending());
  EXPECT_TRUE(poll_once(w2, c2).is_pending());
  s.signal(1);
  EXPECT_EQ(s.try_take(), 1);  // taken before w1 ran
  EXPECT_TRUE(poll_once(w1, c1).is_pending());
  s.signal(2);
  EXPECT_EQ(c1.wakes(), 2);  // w1 first again
  EXPECT_EQ(c2.wakes(), 0);
  EXPECT_EQ(poll_once(w1, c1).value(), 2);
}

TEST(StaticSignalTest, ADroppedWokenWaiterPassesTheWakeOn) {
  Sig s;
  CountingWaker c1, c2;
  std::optional<Sig::WaitFuture> w1;
  w1.emplace(s.wait());
  auto w2 = s.wait();
  EXPECT_TRUE(poll_once(*w1, c1).is_pending());
  EXPECT_TRUE(poll_once(w2, c2).is_pending());
  s.signal(5);
  EXPECT_EQ(c1.wakes(), 1);
  w1.reset();  // cancel-safe: the value stays for w2
  EXPECT_EQ(c2.wakes(), 1);
  EXPECT_EQ(poll_once(w2, c2).value(), 5);
  EXPECT_EQ(c1.outstanding() + c2.outstanding(), 0);
}

TEST(StaticSignalTest, CancellingLeavesNoWaker) {
  Sig s;
  CountingWaker cw;
  {
    auto w = s.wait();
    EXPECT_TRUE(poll_once(w, cw).is_pending());
    EXPECT_EQ(cw.outstanding(), 1);
  }
  EXPECT_EQ(cw.outstanding(), 0);
  s.signal(1);
  EXPECT_EQ(cw.wakes(), 0);
  EXPECT_TRUE(s.signaled());  // nobody took it
}

TEST(StaticSignalTest, EveryValueIsDestroyedExactlyOnce) {
  Counted::reset();
  {
    StaticSignal<Counted, CriticalSectionPolicy> s;
    s.signal(Counted(0));
    s.signal(Counted(1));  // drops 0
    EXPECT_EQ(Counted::destroyed[0], 1);
    s.reset();             // drops 1
    EXPECT_EQ(Counted::destroyed[1], 1);
    s.signal(Counted(2));
    {
      auto w = s.wait();
      EXPECT_EQ(poll_once(w).value().id, 2);
    }
    EXPECT_EQ(Counted::destroyed[2], 1);
    s.signal(Counted(3));  // dies with the signal
    EXPECT_EQ(Counted::destroyed[3], 0);
  }
  EXPECT_EQ(Counted::live, 0);
  for (int id = 0; id < 4; ++id) EXPECT_EQ(Counted::destroyed[id], 1) << id;
}

TEST(StaticSignalTest, NoOperationAllocates) {
  StaticSignal<int, AtomicPolicy> s;
  CountingWaker cw;
  ScopedNoAlloc no_alloc;
  auto w = s.wait();
  EXPECT_TRUE(poll_once(w, cw).is_pending());
  s.signal(1);
  EXPECT_EQ(poll_once(w, cw).value(), 1);
  {
    auto w2 = s.wait();
    EXPECT_TRUE(poll_once(w2, cw).is_pending());
  }
  s.signal(2);
  EXPECT_EQ(s.try_take(), 2);
  EXPECT_EQ(cw.outstanding(), 0);
}

TEST(StaticSignalTest, AnImmediateTakeSpendsTheBudget) {
  Sig s;
  CountingWaker cw;
  s.signal(1);
  Budget spent(0);
  auto w = s.wait();
  EXPECT_TRUE(poll_once(w, cw, &spent).is_pending());
  EXPECT_EQ(cw.wakes(), 1);
  EXPECT_TRUE(s.signaled());
  EXPECT_EQ(poll_once(w, cw).value(), 1);
}

// An "interrupt handler" signals a task that waits three times.
struct LoopTag;
using LoopJob = Task<int, TaskArena<1024, LoopTag>>;
constinit StaticSignal<int, CriticalSectionPolicy> g_irq;
LoopJob sum_three() {
  int sum = 0;
  for (int i = 0; i < 3; ++i) sum += co_await g_irq.wait();
  co_return sum;
}

TEST(StaticSignalTest, DrivesATaskOnAStaticExecutor) {
  TaskStorage<LoopJob> task;
  StaticExecutor<1, CriticalSectionPolicy> ex;
  auto h = ex.spawn(task, [] { return sum_three(); });
  ASSERT_TRUE(h);
  for (int v = 1; v <= 3; ++v) {
    ex.run_until_idle();
    EXPECT_FALSE(h->is_finished());
    g_irq.signal(v * 10);
  }
  ex.run_until_idle();
  ASSERT_TRUE(h->is_finished());
  EXPECT_EQ(*h->take_output(), 60);
}

}  // namespace
}  // namespace weft
