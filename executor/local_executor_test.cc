#include "executor/local_executor.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "executor/park.h"
#include "future/block_on.h"
#include "future/coop.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

static_assert(Future<JoinHandle<int>>);
static_assert(JoinHandle<int>::kUnpin);
static_assert(CancelSafe<JoinHandle<int>>);
static_assert(!std::is_copy_constructible_v<LocalExecutor>);
static_assert(!std::is_move_constructible_v<LocalExecutor>);

// A one-shot signal a future waits on (thread-safe: may be set from another
// thread).
struct Signal {
  std::atomic<bool> set{false};
  std::mutex mu;
  Waker waker;
  void fire() {
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      set.store(true);
      w = std::move(waker);
    }
    std::move(w).wake();
  }
  auto wait() {
    return poll_fn([this](Context& cx) -> Poll<Unit> {
      std::lock_guard<std::mutex> lock(mu);
      if (set.load()) return Unit{};
      register_waker(waker, cx.waker());
      return Pending{};
    });
  }
};

// Counts its destructions.
struct DropCounter {
  using Output = Unit;
  static constexpr bool kUnpin = true;
  int* drops;
  explicit DropCounter(int* d) : drops(d) {}
  DropCounter(DropCounter&& o) noexcept : drops(std::exchange(o.drops, nullptr)) {}
  ~DropCounter() {
    if (drops != nullptr) *drops += 1;
  }
  Poll<Unit> poll(Context&) { return Pending{}; }  // never ready
};

Task<int> add_one(int x) { co_return x + 1; }

TEST(LocalExecutorTest, HeaderExample) {
  weft::LocalExecutor ex;
  auto h = ex.spawn_local(weft::map(weft::ready(20), [](int x) { return x + 1; }));
  int v = ex.block_on(weft::map(std::move(h), [](weft::JoinResult<int> r) { return r.value() * 2; }));
  EXPECT_EQ(v, 42);
}

TEST(LocalExecutorTest, JoinHandleHeaderExample) {
  weft::LocalExecutor ex;
  weft::JoinHandle<int> h = ex.spawn_local(weft::ready(41));
  weft::JoinResult<int> r = ex.block_on(std::move(h));
  EXPECT_EQ(r.value() + 1, 42);
}

TEST(LocalExecutorTest, RunsCoroutineTasksAndAwaitsHandles) {
  LocalExecutor ex;
  auto parent = [&]() -> Task<int> {
    JoinHandle<int> a = spawn_local(add_one(1));
    JoinHandle<int> b = spawn_local(add_one(2));
    JoinResult<int> ra = co_await a;
    JoinResult<int> rb = co_await std::move(b);
    co_return ra.value() + rb.value();
  };
  EXPECT_EQ(ex.block_on(parent()), 5);
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST(LocalExecutorTest, RunUntilStalledRunsReadyTasksOnly) {
  LocalExecutor ex;
  Signal sig;
  int done = 0;
  auto h1 = ex.spawn_local(map(ready(1), [&](int) { done += 1; }));
  auto h2 = ex.spawn_local(map(sig.wait(), [&](Unit) { done += 1; }));
  EXPECT_EQ(ex.run_until_stalled(), 2u);
  EXPECT_EQ(done, 1);
  EXPECT_TRUE(h1.is_finished());
  EXPECT_FALSE(h2.is_finished());
  sig.fire();
  EXPECT_EQ(ex.run_until_stalled(), 1u);
  EXPECT_EQ(done, 2);
  EXPECT_EQ(ex.run_until_stalled(), 0u);
}

TEST(LocalExecutorTest, WakeFromAnotherThreadUnparksTheExecutor) {
  LocalExecutor ex;
  Signal sig;
  auto h = ex.spawn_local(map(sig.wait(), [](Unit) { return 9; }));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    sig.fire();
  });
  EXPECT_EQ(ex.block_on(std::move(h)).value(), 9);
  t.join();
  EXPECT_GE(ex.counters().parked, 1u);  // it slept instead of spinning
}

TEST(LocalExecutorTest, RootWokenFromAnotherThread) {
  LocalExecutor ex;
  Signal sig;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sig.fire();
  });
  ex.block_on(sig.wait());
  t.join();
}

// A task woken from another thread runs within one batch (61 polls), even
// while a local task keeps the ready queue full: run_batch drains remote
// wakes 31 polls into each batch, not only when its queue runs dry.
TEST(LocalExecutorTest, RemoteWakeIsNotStarvedByABusyLocalTask) {
  LocalExecutor ex;
  std::atomic<int> a_polls{0};
  std::atomic<bool> b_ran{false};
  std::atomic<int> a_polls_at_wake{-1};
  int a_polls_at_b = -1;
  Signal sig;
  // A wakes itself on every poll (back of the queue) until B ran; bounded.
  auto a = ex.spawn_local(poll_fn([&](Context& cx) -> Poll<Unit> {
    const int n = a_polls.fetch_add(1) + 1;
    if (b_ran.load() || n >= 1'000'000) return Unit{};
    cx.waker().wake_by_ref();
    return Pending{};
  }));
  auto b = ex.spawn_local(map(sig.wait(), [&](Unit) {
    a_polls_at_b = a_polls.load();
    b_ran.store(true);
  }));
  std::thread t([&] {
    while (a_polls.load() < 1000) std::this_thread::yield();
    sig.fire();  // a remote wake: B goes to the executor's remote queue
    a_polls_at_wake.store(a_polls.load());  // at or after the push
  });
  (void)ex.block_on(std::move(a));
  t.join();
  ASSERT_TRUE(b_ran.load());
  ASSERT_GE(a_polls_at_wake.load(), 1000);
  // At most 61 polls until a drain (after the 31st poll of this batch, or of
  // the next), one or two more for A ahead of B in the queue. Starved, B
  // would run only after A's millionth poll.
  EXPECT_LE(a_polls_at_b - a_polls_at_wake.load(), 64);
  EXPECT_TRUE(ex.block_on(std::move(b)).is_ok());
}

TEST(LocalExecutorTest, TaskWokenDuringItsPollRunsAgain) {
  LocalExecutor ex;
  int polls = 0;
  auto h = ex.spawn_local(poll_fn([&](Context& cx) -> Poll<int> {
    polls += 1;
    if (polls == 3) return polls;
    cx.waker().wake_by_ref();  // woken while running
    return Pending{};
  }));
  EXPECT_EQ(ex.block_on(std::move(h)).value(), 3);
  EXPECT_EQ(polls, 3);
}

TEST(LocalExecutorTest, ManyWakesCoalesceIntoOnePoll) {
  LocalExecutor ex;
  int polls = 0;
  Waker saved;
  auto h = ex.spawn_local(poll_fn([&](Context& cx) -> Poll<Unit> {
    polls += 1;
    saved = cx.waker();
    return Pending{};
  }));
  ex.run_until_stalled();
  EXPECT_EQ(polls, 1);
  for (int i = 0; i < 10; ++i) saved.wake_by_ref();
  ex.run_until_stalled();
  EXPECT_EQ(polls, 2);  // no double poll
  saved = Waker();
  h.abort();
  ex.run_until_stalled();
}

TEST(LocalExecutorTest, AbortYieldsCancelledAndDropsTheFuture) {
  LocalExecutor ex;
  int drops = 0;
  JoinHandle<Unit> h = ex.spawn_local(DropCounter(&drops));
  ex.run_until_stalled();
  EXPECT_EQ(drops, 0);
  h.abort();
  JoinResult<Unit> r = ex.block_on(std::move(h));
  EXPECT_TRUE(r.is_cancelled());
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST(LocalExecutorTest, AbortHandleAbortsFromAnotherThread) {
  LocalExecutor ex;
  int drops = 0;
  JoinHandle<Unit> h = ex.spawn_local(DropCounter(&drops));
  ex.run_until_stalled();
  AbortHandle ah = h.abort_handle();
  EXPECT_EQ(ah.id(), h.id());
  EXPECT_FALSE(ah.is_finished());
  std::thread([ah] { ah.abort(); }).join();
  EXPECT_TRUE(ex.block_on(std::move(h)).is_cancelled());
  EXPECT_TRUE(ah.is_finished());
  EXPECT_EQ(drops, 1);
}

TEST(LocalExecutorTest, AbortBeforeFirstPollNeverPolls) {
  LocalExecutor ex;
  bool polled = false;
  JoinHandle<int> h = ex.spawn_local(lazy([&] {
    polled = true;
    return 1;
  }));
  h.abort();
  EXPECT_TRUE(ex.block_on(std::move(h)).is_cancelled());
  EXPECT_FALSE(polled);
}

TEST(LocalExecutorTest, AbortAfterCompletionKeepsTheValue) {
  LocalExecutor ex;
  JoinHandle<int> h = ex.spawn_local(ready(3));
  ex.run_until_stalled();
  h.abort();
  EXPECT_EQ(ex.block_on(std::move(h)).value(), 3);
}

TEST(LocalExecutorTest, DroppedHandleDetachesTheTask) {
  LocalExecutor ex;
  Signal sig;
  bool ran = false;
  {
    auto h = ex.spawn_local(map(sig.wait(), [&](Unit) { ran = true; }));
  }
  ex.run_until_stalled();
  sig.fire();
  ex.run_until_stalled();
  EXPECT_TRUE(ran);  // dropping the handle did not cancel
  EXPECT_EQ(ex.live_tasks(), 0u);
}

TEST(LocalExecutorTest, ExceptionBecomesAnErrorAndTheExecutorSurvives) {
  LocalExecutor ex;
  auto thrower = []() -> Task<int> {
    co_await yield_now();
    throw std::runtime_error("task failed");
  };
  JoinHandle<int> bad = ex.spawn_local(thrower());
  JoinHandle<int> good = ex.spawn_local(add_one(1));
  JoinResult<int> r = ex.block_on(std::move(bad));
  ASSERT_TRUE(r.is_exception());
  try {
    std::rethrow_exception(r.exception());
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "task failed");
  }
  EXPECT_EQ(ex.block_on(std::move(good)).value(), 2);
}

TEST(LocalExecutorTest, DestroyingTheExecutorCancelsPendingTasks) {
  int drops = 0;
  JoinHandle<Unit> kept;
  {
    LocalExecutor ex;
    kept = ex.spawn_local(DropCounter(&drops));
    ex.spawn_detached(DropCounter(&drops));
    auto queued = ex.spawn_local(DropCounter(&drops));  // never polled
    ex.run_until_stalled();
    (void)ex.spawn_local(DropCounter(&drops));  // spawned, still queued
  }
  EXPECT_EQ(drops, 4);  // every future's destructor ran
  EXPECT_TRUE(kept.is_finished());
  EXPECT_TRUE(block_on(std::move(kept)).is_cancelled());  // handle outlives the executor
}

TEST(LocalExecutorTest, ShutdownWaitsForTasksThenCancels) {
  LocalExecutor ex;
  Signal sig;
  int drops = 0;
  auto finishing = ex.spawn_local(map(sig.wait(), [](Unit) { return 1; }));
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sig.fire();
  });
  EXPECT_TRUE(ex.shutdown(std::chrono::seconds(10)));  // waits for the signal
  t.join();
  EXPECT_EQ(block_on(std::move(finishing)).value(), 1);

  LocalExecutor ex2;
  auto stuck = ex2.spawn_local(DropCounter(&drops));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(ex2.shutdown(std::chrono::milliseconds(20)));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(20));
  EXPECT_EQ(drops, 1);
  EXPECT_TRUE(block_on(std::move(stuck)).is_cancelled());
  // Spawning after shutdown: cancelled at once.
  auto late = ex2.spawn_local(ready(1));
  EXPECT_TRUE(block_on(std::move(late)).is_cancelled());
}

TEST(LocalExecutorTest, WakerOutlivingTheExecutorIsHarmless) {
  Waker saved;
  {
    LocalExecutor ex;
    auto h = ex.spawn_local(poll_fn([&](Context& cx) -> Poll<Unit> {
      saved = cx.waker();
      return Pending{};
    }));
    ex.run_until_stalled();
  }
  saved.wake_by_ref();
  std::thread([w = saved]() mutable { std::move(w).wake(); }).join();
  saved = Waker();
}

TEST(LocalExecutorTest, TaskDumpListsIdSiteAndState) {
  LocalExecutor ex;
  Signal sig;
  const int line = __LINE__ + 1;
  auto idle = ex.spawn_local(sig.wait());
  ex.run_until_stalled();
  auto scheduled = ex.spawn_local(ready(1));
  std::vector<TaskInfo> dump = ex.dump();
  ASSERT_EQ(dump.size(), 2u);
  EXPECT_EQ(dump[0].id, idle.id());
  EXPECT_EQ(dump[0].state, TaskRunState::kIdle);
  EXPECT_NE(std::string(dump[0].site.file).find("local_executor_test.cc"), std::string::npos);
  EXPECT_EQ(dump[0].site.line, static_cast<std::uint32_t>(line));
  EXPECT_EQ(dump[1].id, scheduled.id());
  EXPECT_EQ(dump[1].state, TaskRunState::kScheduled);
  // A task sees itself as running.
  std::vector<TaskInfo> inside;
  auto self = ex.spawn_local(lazy([&] { inside = LocalExecutor::current()->dump(); }));
  ex.run_until_stalled();
  ASSERT_EQ(inside.size(), 2u);  // idle + self (scheduled finished first)
  EXPECT_EQ(inside[1].state, TaskRunState::kRunning);
  const std::string text = format_task_dump(ex.dump());
  EXPECT_NE(text.find("idle at "), std::string::npos) << text;
  sig.fire();
  ex.run_until_stalled();
  EXPECT_TRUE(ex.dump().empty());
}

TEST(LocalExecutorTest, TaskInfoHeaderExample) {
  weft::LocalExecutor ex;
  auto h = ex.spawn_local(weft::pending<int>());
  for (const weft::TaskInfo& t : ex.dump()) std::printf("%s\n", weft::to_string(t).c_str());
  EXPECT_EQ(weft::to_string(ex.dump()[0]).rfind("task ", 0), 0u);
}

TEST(LocalExecutorTest, CountersCountSpawnsPollsAndParks) {
  LocalExecutor ex;
  for (int i = 0; i < 5; ++i) ex.spawn_detached(yield_now());
  ex.run_until_stalled();
  ExecutorCounters c = ex.counters();
  EXPECT_EQ(c.spawned, 5u);
  EXPECT_EQ(c.polled, 10u);  // each yields once
  EXPECT_EQ(c.stolen, 0u);
  EXPECT_EQ(c.parked, 0u);
}

// Park seam: a Park that counts parks and sleeps on a ThreadPark.
class CountingPark final : public Park {
 public:
  explicit CountingPark(std::atomic<int>* parks) : parks_(parks) {}
  void park() noexcept override {
    parks_->fetch_add(1);
    inner_.park();
  }
  void park_timeout(std::chrono::nanoseconds d) noexcept override {
    parks_->fetch_add(1);
    inner_.park_timeout(d);
  }
  Unpark& unparker() noexcept override { return inner_.unparker(); }

 private:
  std::atomic<int>* parks_;
  ThreadPark inner_;
};

TEST(LocalExecutorTest, ParkIsPluggable) {
  std::atomic<int> parks{0};
  LocalExecutor ex(std::make_unique<CountingPark>(&parks));
  Signal sig;
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    sig.fire();
  });
  ex.block_on(sig.wait());
  t.join();
  EXPECT_GE(parks.load(), 1);
}

TEST(LocalExecutorTest, ParkHeaderExample) {
  weft::ThreadPark park;
  weft::Unpark& u = park.unparker();
  std::thread t([&] { u.unpark(); });
  park.park();
  t.join();
}

TEST(LocalExecutorTest, NestedExecutorInsideATask) {
  LocalExecutor outer;
  auto h = outer.spawn_local(lazy([] {
    LocalExecutor inner;
    return inner.block_on(inner.spawn_local(add_one(41))).value();
  }));
  EXPECT_EQ(outer.block_on(std::move(h)).value(), 42);
}

TEST(LocalExecutorTest, BudgetMakesBusyTasksYield) {
  LocalExecutor ex;
  // A task awaiting 1000 already-finished handles never sees Pending from
  // them; the per-poll budget (128 units) still makes it yield.
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 1000; ++i) hs.push_back(ex.spawn_local(ready(i)));
  ex.run_until_stalled();
  int iterations = 0;
  int other_ran_at = -1;
  auto busy = [&]() -> Task<> {
    for (JoinHandle<int>& h : hs) {
      (void)co_await h;
      iterations += 1;
    }
  };
  auto b = ex.spawn_local(busy());
  auto o = ex.spawn_local(lazy([&] { other_ran_at = iterations; }));
  ex.block_on(std::move(b));
  EXPECT_TRUE(o.is_finished());
  EXPECT_GT(other_ran_at, 0);
  EXPECT_LE(other_ran_at, static_cast<int>(Budget::kDefault));
}

TEST(LocalExecutorTest, HundredThousandTasksSpawnedAndJoined) {
  // The 1M figure is in local_benchmark (BM_ChainedSpawn, BM_SpawnJoin);
  // 100k keeps this test fast in fastbuild and under sanitizers.
  constexpr int kTasks = 100000;
  LocalExecutor ex;
  auto parent = [&]() -> Task<long> {
    std::vector<JoinHandle<int>> hs;
    hs.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) hs.push_back(spawn_local(ready(i)));
    long sum = 0;
    for (JoinHandle<int>& h : hs) sum += (co_await h).value();
    co_return sum;
  };
  EXPECT_EQ(ex.block_on(parent()), static_cast<long>(kTasks) * (kTasks - 1) / 2);
  EXPECT_EQ(ex.live_tasks(), 0u);
  EXPECT_EQ(ex.counters().spawned, static_cast<std::uint64_t>(kTasks));
}

TEST(LocalExecutorTest, JoinHandleNoLeakOfWakers) {
  LocalExecutor ex;
  Signal sig;
  JoinHandle<Unit> h = ex.spawn_local(sig.wait());
  ex.run_until_stalled();
  testing::CountingWaker w;
  Waker mine = w.waker();
  EXPECT_TRUE(testing::poll_once(h, mine).is_pending());
  EXPECT_TRUE(testing::poll_once(h, mine).is_pending());  // same waker: not re-cloned
  EXPECT_EQ(w.clones(), 1);
  EXPECT_EQ(w.outstanding(), 2);
  h = JoinHandle<Unit>();  // drop a pending handle: its waker is released
  EXPECT_EQ(w.outstanding(), 1);
  mine = Waker();
  EXPECT_EQ(w.outstanding(), 0);
  sig.fire();
  ex.run_until_stalled();
  EXPECT_EQ(w.wakes(), 0);
}

// consume_budget(): a loop of pure computation yields every Budget::kDefault
// steps, so another task on the same thread makes progress before the loop
// ends; the same loop under unconstrained() never yields.
Task<int> compute(int steps, const int* other_progress, int* seen_other) {
  for (int i = 0; i < steps; ++i) {
    co_await consume_budget();
    if (*other_progress > 0 && *seen_other < 0) *seen_other = i;
  }
  co_return steps;
}

Task<> ticker(int* progress) {
  for (int i = 0; i < 1000; ++i) {
    *progress += 1;
    co_await yield_now();
  }
}

TEST(LocalExecutorTest, ConsumeBudgetMakesAComputeLoopYield) {
  LocalExecutor ex;
  int progress = 0;
  int seen = -1;
  JoinHandle<int> c = ex.spawn_local(compute(1000, &progress, &seen));
  ex.spawn_local(ticker(&progress)).detach();
  EXPECT_EQ(ex.block_on(std::move(c)).value(), 1000);
  // The ticker ran while the loop was in progress, at a budget boundary.
  ASSERT_GE(seen, 0);
  EXPECT_LT(seen, 1000);
  EXPECT_EQ(seen % static_cast<int>(Budget::kDefault), 0);
}

TEST(LocalExecutorTest, UnconstrainedComputeLoopRunsToTheEndInOnePoll) {
  LocalExecutor ex;
  int progress = 0;
  int seen = -1;
  JoinHandle<int> c = ex.spawn_local(unconstrained(compute(1000, &progress, &seen)));
  ex.spawn_local(ticker(&progress)).detach();
  EXPECT_EQ(ex.block_on(std::move(c)).value(), 1000);
  EXPECT_EQ(seen, -1);  // the ticker never ran before the loop finished
}

}  // namespace
}  // namespace weft
