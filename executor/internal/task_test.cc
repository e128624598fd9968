#include "executor/internal/task.h"

#include <cstdint>
#include <deque>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

using testing::CountingWaker;
using testing::poll_once;

// A minimal executor over the task core: a FIFO of (task, hint) and an owned
// list; the test drives it by hand.
class TestScheduler final : public Scheduler {
 public:
  static TestScheduler* make() { return new TestScheduler; }

  void schedule(TaskHeader* t, ScheduleHint h) noexcept override { queue.emplace_back(t, h); }
  bool unbind(TaskHeader* t) noexcept override { return owned.remove(t); }

  template <class F>
  JoinHandle<OutputOf<F>> spawn(F f) {
    TaskHeader* t = new_task(std::move(f), this, SpawnSite::current());
    owned.push_back(t);
    queue.emplace_back(t, ScheduleHint::kWake);
    return JoinHandle<OutputOf<F>>::from_raw(t);
  }
  bool run_one() {
    if (queue.empty()) return false;
    TaskHeader* t = queue.front().first;
    queue.pop_front();
    t->run();
    return true;
  }
  void run_all() {
    while (run_one()) {
    }
  }
  // Shutdown + drop the executor's count.
  void close() {
    while (TaskHeader* t = owned.pop_front()) t->shutdown();
    while (!queue.empty()) {
      TaskHeader* t = queue.front().first;
      queue.pop_front();
      t->drop_ref();
    }
    release();
  }

  std::deque<std::pair<TaskHeader*, ScheduleHint>> queue;
  OwnedTaskList owned;
};

// A future that is Pending until `ready` is set, keeping the latest waker in
// `*slot`; counts polls and destructions.
struct Gate {
  bool ready = false;
  Waker waker;
  int polls = 0;
  int destroyed = 0;
  bool wake_self_during_poll = false;
};
struct GateFuture {
  using Output = int;
  static constexpr bool kUnpin = true;
  Gate* g;
  explicit GateFuture(Gate* gate) : g(gate) {}
  GateFuture(GateFuture&& o) noexcept : g(std::exchange(o.g, nullptr)) {}
  ~GateFuture() {
    if (g != nullptr) g->destroyed += 1;
  }
  Poll<int> poll(Context& cx) {
    g->polls += 1;
    if (g->ready) return 7;
    register_waker(g->waker, cx.waker());
    if (g->wake_self_during_poll) {
      g->wake_self_during_poll = false;
      cx.waker().wake_by_ref();
    }
    return Pending{};
  }
};

// Counts destructions of an output.
struct Tracked {
  int* dtors;
  explicit Tracked(int* d) : dtors(d) {}
  Tracked(Tracked&& o) noexcept : dtors(std::exchange(o.dtors, nullptr)) {}
  ~Tracked() {
    if (dtors != nullptr) *dtors += 1;
  }
};

TEST(TaskHeaderTest, SizeIsWithinTheBudget) {
  static_assert(sizeof(TaskHeader) == 80);
  // A small future costs the header plus its stage (at least an exception_ptr).
  EXPECT_EQ(sizeof(TaskCell<PendingForever<Unit>>), 88u);
  EXPECT_EQ(sizeof(TaskCell<GateFuture>), 88u);
}

struct alignas(64) OverAligned {
  using Output = int;
  static constexpr bool kUnpin = true;
  int v = 3;
  Poll<int> poll(Context&) {
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(this) % 64, 0u);
    return v;
  }
};

TEST(TaskHeaderTest, OverAlignedFutureIsAligned) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> h = s->spawn(OverAligned{});
  s->run_all();
  EXPECT_EQ(poll_once(h).value().value(), 3);
  s->close();
}

// A batch of 1000 small tasks (88-byte cells, the size of a task with an
// empty future) alive at once: every cell freed is reused by the next batch
// on this thread, without malloc (the pool's spawn-from-outside benchmark
// shape).
TEST(TaskHeaderTest, CellCacheHoldsABatchOfAThousandSmallTasks) {
#if WEFT_TASK_MEMORY_CACHE
  constexpr std::size_t kCell = 88;
  constexpr std::size_t kClass = kCell / TaskMemory::kGranule - 1;
  constexpr int kBatch = 1000;
  std::vector<void*> first;
  for (int i = 0; i < kBatch; ++i) first.push_back(TaskMemory::allocate(kCell));
  const std::size_t cached_before = tl_task_memory.counts[kClass];
  for (void* p : first) TaskMemory::deallocate(p, kCell);
  EXPECT_EQ(tl_task_memory.counts[kClass], cached_before + kBatch);  // none went back to malloc
  std::set<void*> freed(first.begin(), first.end());
  std::vector<void*> second;
  int reused = 0;
  for (int i = 0; i < kBatch; ++i) {
    second.push_back(TaskMemory::allocate(kCell));
    reused += freed.count(second.back()) ? 1 : 0;
  }
  EXPECT_EQ(reused, kBatch);
  for (void* p : second) TaskMemory::deallocate(p, kCell);
#else
  GTEST_SKIP() << "task-cell cache disabled (sanitizer build)";
#endif
}

TEST(TaskHeaderTest, CellsAreRecycledPerThread) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> a = s->spawn(ready(1));
  void* first = a.raw();
  s->run_all();
  a = JoinHandle<int>();  // freed: back to this thread's cache
  JoinHandle<int> b = s->spawn(ready(2));
#if WEFT_TASK_MEMORY_CACHE
  EXPECT_EQ(static_cast<void*>(b.raw()), first);
#else
  (void)first;
#endif
  s->run_all();
  s->close();
}

TEST(TaskHeaderTest, ReadyTaskDeliversItsValue) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> h = s->spawn(ready(42));
  EXPECT_EQ(h.raw()->run_state(), TaskRunState::kScheduled);
  CountingWaker w;
  EXPECT_TRUE(poll_once(h, w).is_pending());
  s->run_all();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(h.is_finished());
  Poll<JoinResult<int>> p = poll_once(h, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(p.value().value(), 42);
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(s->owned.empty());
  s->close();
}

TEST(TaskHeaderTest, WakeWhileIdleSchedulesOnceAndCoalesces) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  s->run_all();
  EXPECT_EQ(g.polls, 1);
  EXPECT_EQ(h.raw()->run_state(), TaskRunState::kIdle);
  g.waker.wake_by_ref();
  g.waker.wake_by_ref();
  Waker(g.waker).wake();
  ASSERT_EQ(s->queue.size(), 1u);
  EXPECT_EQ(s->queue.front().second, ScheduleHint::kWake);
  EXPECT_EQ(h.raw()->run_state(), TaskRunState::kScheduled);
  g.ready = true;
  s->run_all();
  EXPECT_EQ(g.polls, 2);
  EXPECT_EQ(poll_once(h).value().value(), 7);
  g.waker = Waker();
  s->close();
}

TEST(TaskHeaderTest, WakeDuringPollRunsTheTaskAgain) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  g.wake_self_during_poll = true;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  ASSERT_TRUE(s->run_one());
  // Woken while RUNNING: rescheduled after the poll, at the back (yield).
  ASSERT_EQ(s->queue.size(), 1u);
  EXPECT_EQ(s->queue.front().second, ScheduleHint::kYield);
  g.ready = true;
  s->run_all();
  EXPECT_EQ(g.polls, 2);
  EXPECT_TRUE(h.is_finished());
  g.waker = Waker();
  s->close();
}

TEST(TaskHeaderTest, AbortIdleTaskCancelsAtNextRun) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  s->run_all();
  h.abort();
  h.abort();  // idempotent
  EXPECT_EQ(s->queue.size(), 1u);
  s->run_all();
  EXPECT_EQ(g.polls, 1);      // not polled again
  EXPECT_EQ(g.destroyed, 1);  // destroyed at cancellation
  Poll<JoinResult<int>> p = poll_once(h);
  ASSERT_TRUE(p.is_ready());
  EXPECT_TRUE(p.value().is_cancelled());
  g.waker.wake_by_ref();  // a stale wake on a finished task does nothing
  EXPECT_TRUE(s->queue.empty());
  g.waker = Waker();
  s->close();
}

TEST(TaskHeaderTest, AbortWhileRunningLosesToReady) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> h;
  bool aborted = false;
  h = s->spawn(poll_fn([&](Context&) -> Poll<int> {
    h.abort();  // abort from inside the poll that completes
    aborted = true;
    return 5;
  }));
  s->run_all();
  EXPECT_TRUE(aborted);
  EXPECT_EQ(poll_once(h).value().value(), 5);
  s->close();
}

TEST(TaskHeaderTest, AbortWhileRunningCancelsAtPending) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h;
  h = s->spawn(map(GateFuture(&g), [](int v) { return v; }));
  g.wake_self_during_poll = false;
  // Abort during the poll via a wake hook: use a second task to abort.
  s->run_all();
  h.abort();
  s->run_all();
  EXPECT_EQ(g.destroyed, 1);
  EXPECT_TRUE(poll_once(h).value().is_cancelled());
  g.waker = Waker();
  s->close();
}

TEST(TaskHeaderTest, ExceptionBecomesTheResult) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> h = s->spawn(poll_fn([](Context&) -> Poll<int> { throw std::runtime_error("boom"); }));
  s->run_all();
  Poll<JoinResult<int>> p = poll_once(h);
  ASSERT_TRUE(p.is_ready());
  ASSERT_TRUE(p.value().is_exception());
  EXPECT_THROW(std::move(p.value()).get(), std::runtime_error);
  s->close();
}

TEST(TaskHeaderTest, HandleDroppedBeforeCompletionDropsOutputAtCompletion) {
  TestScheduler* s = TestScheduler::make();
  int dtors = 0;
  {
    JoinHandle<Tracked> h = s->spawn(lazy([&] { return Tracked(&dtors); }));
  }
  s->run_all();
  EXPECT_EQ(dtors, 1);
  EXPECT_TRUE(s->owned.empty());
  s->close();
}

TEST(TaskHeaderTest, HandleDroppedAfterCompletionDropsOutput) {
  TestScheduler* s = TestScheduler::make();
  int dtors = 0;
  {
    JoinHandle<Tracked> h = s->spawn(lazy([&] { return Tracked(&dtors); }));
    s->run_all();
    EXPECT_EQ(dtors, 0);
  }
  EXPECT_EQ(dtors, 1);
  s->close();
}

TEST(TaskHeaderTest, JoinWakerReplacedWhenHandleMovesToAnotherTask) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  s->run_all();
  CountingWaker a, b;
  EXPECT_TRUE(poll_once(h, a).is_pending());
  EXPECT_TRUE(poll_once(h, b).is_pending());
  EXPECT_EQ(a.outstanding(), 0);  // replaced
  EXPECT_EQ(b.outstanding(), 1);
  g.ready = true;
  g.waker.wake_by_ref();
  s->run_all();
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
  EXPECT_EQ(b.outstanding(), 1);  // still held until the handle drops
  h = JoinHandle<int>();
  EXPECT_EQ(b.outstanding(), 0);
  g.waker = Waker();
  s->close();
}

TEST(TaskHeaderTest, ShutdownCancelsIdleAndQueuedTasks) {
  TestScheduler* s = TestScheduler::make();
  Gate g1, g2;
  JoinHandle<int> h1 = s->spawn(GateFuture(&g1));
  s->run_all();
  JoinHandle<int> h2 = s->spawn(GateFuture(&g2));  // still queued
  Waker keep = g1.waker;                           // a waker outliving the executor
  s->close();
  EXPECT_EQ(g1.destroyed, 1);
  EXPECT_EQ(g2.destroyed, 1);
  EXPECT_EQ(g2.polls, 0);
  EXPECT_TRUE(poll_once(h1).value().is_cancelled());
  EXPECT_TRUE(poll_once(h2).value().is_cancelled());
  keep.wake_by_ref();  // complete: nothing scheduled into the dead executor
  g1.waker = Waker();
}

TEST(TaskHeaderTest, CancelNowDestroysTheFutureSynchronously) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  s->run_all();
  EXPECT_TRUE(h.raw()->cancel_now());
  EXPECT_EQ(g.destroyed, 1);
  EXPECT_TRUE(s->owned.empty());
  EXPECT_TRUE(poll_once(h).value().is_cancelled());
  g.waker = Waker();
  s->close();
}

// FROM_OUTSIDE (a pool's hint that a task may not be bound yet) is cleared
// by the task's first poll, in the same step that takes RUNNING.
TEST(TaskHeaderTest, FirstPollClearsFromOutside) {
  TestScheduler* s = TestScheduler::make();
  JoinHandle<int> h = s->spawn(pending<int>());
  TaskHeader* t = static_cast<TaskHeader*>(h.raw());
  t->mark_from_outside();
  EXPECT_TRUE(t->from_outside());
  s->run_all();  // polled once: parked
  EXPECT_FALSE(t->from_outside());
  EXPECT_EQ(t->run_state(), TaskRunState::kIdle);
  h.abort();
  s->run_all();
  s->close();
}

TEST(TaskHeaderTest, DumpInfoHasIdSiteAndState) {
  TestScheduler* s = TestScheduler::make();
  Gate g;
  JoinHandle<int> h = s->spawn(GateFuture(&g));
  TaskInfo info = h.raw()->info();
  EXPECT_NE(info.id, 0u);
  EXPECT_EQ(info.id, h.id());
  EXPECT_NE(std::string(info.site.file).find("task_test.cc"), std::string::npos);
  EXPECT_EQ(info.state, TaskRunState::kScheduled);
  s->run_all();
  EXPECT_EQ(h.raw()->info().state, TaskRunState::kIdle);
  g.waker = Waker();
  s->close();
}

}  // namespace
}  // namespace weft::executor_internal
