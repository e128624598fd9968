#include "executor/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "executor/park.h"
#include "executor/task_scope.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;

static_assert(Future<JoinHandle<int>>);

// Ready after `n` polls; wakes itself each time (a task that yields n times).
class YieldTimes {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  explicit YieldTimes(int n) : left_(n) {}
  Poll<int> poll(Context& cx) {
    polls_ += 1;
    if (left_-- > 0) {
      cx.waker().wake_by_ref();
      return Pending{};
    }
    return polls_;
  }

 private:
  int left_;
  int polls_ = 0;
};

// Pending until `flag` is set; stores the waker in `slot` (for another thread
// to wake). Counts destructions.
struct Gate {
  std::atomic<bool> open{false};
  std::mutex mu;
  Waker waker;
  void release() {
    open.store(true, std::memory_order_release);
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      w = std::move(waker);
    }
    std::move(w).wake();
  }
};

class WaitGate {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  WaitGate(Gate* g, int value, std::atomic<int>* destroyed = nullptr)
      : g_(g), value_(value), destroyed_(destroyed) {}
  WaitGate(WaitGate&& o) noexcept : g_(o.g_), value_(o.value_), destroyed_(std::exchange(o.destroyed_, nullptr)) {}
  ~WaitGate() {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  Poll<int> poll(Context& cx) {
    if (g_->open.load(std::memory_order_acquire)) return value_;
    {
      std::lock_guard<std::mutex> lock(g_->mu);
      register_waker(g_->waker, cx.waker());
    }
    if (g_->open.load(std::memory_order_acquire)) return value_;
    return Pending{};
  }

 private:
  Gate* g_;
  int value_;
  std::atomic<int>* destroyed_;
};

// Never ready; counts destructions.
class Forever {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  explicit Forever(std::atomic<int>* destroyed) : destroyed_(destroyed) {}
  Forever(Forever&& o) noexcept : destroyed_(std::exchange(o.destroyed_, nullptr)) {}
  ~Forever() {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  Poll<Unit> poll(Context&) { return Pending{}; }

 private:
  std::atomic<int>* destroyed_;
};

TEST(ThreadPoolTest, HeaderExample) {
  weft::ThreadPool pool(2);
  weft::JoinHandle<int> h = pool.spawn(weft::ready(41));
  weft::JoinResult<int> r = pool.block_on(std::move(h));
  EXPECT_EQ(r.value() + 1, 42);
}

TEST(ThreadPoolTest, SpawnsManyAndJoinsAll) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.num_workers(), 2u);
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 1000; ++i) hs.push_back(pool.spawn(ready(i)));
  long sum = 0;
  for (auto& h : hs) sum += pool.block_on(std::move(h)).value();
  EXPECT_EQ(sum, 999L * 1000 / 2);
  const ExecutorCounters c = pool.counters();
  EXPECT_EQ(c.spawned, 1000u);
  EXPECT_GE(c.polled, 1000u);
}

TEST(ThreadPoolTest, DefaultWorkerCountIsHardwareConcurrency) {
  ThreadPool pool;
  EXPECT_GE(pool.num_workers(), 1u);
}

TEST(ThreadPoolTest, VoidLikeTaskYieldsUnit) {
  ThreadPool pool(1);
  auto h = pool.spawn(yield_now());
  JoinResult<Unit> r = pool.block_on(std::move(h));
  EXPECT_TRUE(r.is_ok());
}

Task<int> child(int x) { co_return x * 2; }

Task<int> parent(ThreadPool* pool, int n) {
  // Spawns children from a worker (they go to the LIFO slot / local queue).
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(pool->spawn(child(i)));
  int sum = 0;
  for (auto& h : hs) sum += (co_await std::move(h)).value();
  co_return sum;
}

TEST(ThreadPoolTest, TasksSpawnAndAwaitChildren) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.block_on(pool.spawn(parent(&pool, 100))).value(), 99 * 100);
}

// The free weft::spawn: children go to the pool running the parent, which
// holds no reference to it.
Task<int> parent_without_pool(int n) {
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < n; ++i) hs.push_back(weft::spawn(child(i)));
  int sum = 0;
  for (auto& h : hs) sum += (co_await std::move(h)).value();
  co_return sum;
}

TEST(ThreadPoolTest, FreeSpawnGoesToThePoolRunningTheCaller) {
  ThreadPool pool(2);
  const auto spawned_before = pool.counters().spawned;
  EXPECT_EQ(pool.block_on(pool.spawn(parent_without_pool(50))).value(), 49 * 50);
  EXPECT_EQ(pool.counters().spawned - spawned_before, 51u);  // the parent and its 50 children
}

TEST(ThreadPoolDeathTest, FreeSpawnOutsideAPoolIsAHardeningAssert) {
  EXPECT_DEATH((void)weft::spawn(ready(1)), "weft::spawn called outside a ThreadPool worker");
}

TEST(ThreadPoolTest, TaskWokenDuringItsOwnPollRunsAgain) {
  ThreadPool pool(2);
  auto h = pool.spawn(YieldTimes(1000));
  EXPECT_EQ(pool.block_on(std::move(h)).value(), 1001);
}

TEST(ThreadPoolTest, TaskWokenFromAnotherThread) {
  ThreadPool pool(2);
  Gate gate;
  auto h = pool.spawn(WaitGate(&gate, 7));
  std::this_thread::sleep_for(5ms);
  EXPECT_FALSE(h.is_finished());
  std::thread t([&] { gate.release(); });
  EXPECT_EQ(pool.block_on(std::move(h)).value(), 7);
  t.join();
}

#if defined(__cpp_exceptions)
Task<int> throws_after_yield() {
  co_await yield_now();
  throw std::runtime_error("boom");
}

TEST(ThreadPoolTest, ExceptionBecomesErrorAndWorkerSurvives) {
  ThreadPool pool(1);
  auto bad = pool.spawn(throws_after_yield());
  JoinResult<int> r = pool.block_on(std::move(bad));
  ASSERT_TRUE(r.is_exception());
  try {
    std::rethrow_exception(r.exception());
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(), "boom");
  }
  // The only worker is still alive.
  EXPECT_EQ(pool.block_on(pool.spawn(ready(5))).value(), 5);
}
#endif

TEST(ThreadPoolTest, AbortCancelsPendingTaskAndRunsItsDestructor) {
  ThreadPool pool(2);
  std::atomic<int> destroyed{0};
  auto h = pool.spawn(Forever(&destroyed));
  std::this_thread::sleep_for(2ms);
  h.abort();
  JoinResult<Unit> r = pool.block_on(std::move(h));
  EXPECT_TRUE(r.is_cancelled());
  EXPECT_EQ(destroyed.load(), 1);
}

TEST(ThreadPoolTest, DroppedHandleDetachesTaskWhichStillRuns) {
  ThreadPool pool(2);
  std::atomic<int> ran{0};
  {
    auto h = pool.spawn(lazy([&] { return ran.fetch_add(1) + 1; }));
  }  // dropped before completion (most likely) or after: both fine
  pool.spawn_detached(lazy([&] { return ran.fetch_add(1) + 1; }));
  EXPECT_TRUE(pool.shutdown(5s));
  EXPECT_EQ(ran.load(), 2);
}

TEST(ThreadPoolTest, HandleDroppedAfterCompletionDropsOutput) {
  ThreadPool pool(1);
  auto owned = std::make_shared<int>(3);
  std::weak_ptr<int> weak = owned;
  auto h = pool.spawn(ready(std::move(owned)));
  while (!h.is_finished()) std::this_thread::yield();
  EXPECT_FALSE(weak.expired());  // the output lives in the task
  h = {};
  EXPECT_TRUE(weak.expired());
}

TEST(ThreadPoolTest, ShutdownCancelsPendingTasksAndRunsDestructors) {
  std::atomic<int> destroyed{0};
  std::vector<JoinHandle<Unit>> hs;
  {
    ThreadPool pool(2);
    for (int i = 0; i < 100; ++i) hs.push_back(pool.spawn(Forever(&destroyed)));
    EXPECT_EQ(pool.live_tasks(), 100u);
    EXPECT_FALSE(pool.shutdown(1ms));  // they never finish
    EXPECT_EQ(destroyed.load(), 100);
    EXPECT_EQ(pool.live_tasks(), 0u);
    // A spawn after shutdown yields a cancelled handle (and runs nothing).
    auto late = pool.spawn(Forever(&destroyed));
    EXPECT_TRUE(late.is_finished());
    EXPECT_TRUE(block_on(std::move(late)).is_cancelled());
    EXPECT_EQ(destroyed.load(), 101);
  }
  for (auto& h : hs) EXPECT_TRUE(block_on(std::move(h)).is_cancelled());
}

TEST(ThreadPoolTest, DestructorCancelsTasksWhoseHandlesWereDropped) {
  std::atomic<int> destroyed{0};
  {
    ThreadPool pool(2);
    for (int i = 0; i < 50; ++i) pool.spawn_detached(Forever(&destroyed));
  }
  EXPECT_EQ(destroyed.load(), 50);
}

TEST(ThreadPoolTest, ShutdownWithTimeoutWaitsForTasksToFinish) {
  ThreadPool pool(2);
  Gate gate;
  std::atomic<int> destroyed{0};
  auto h = pool.spawn(WaitGate(&gate, 9, &destroyed));
  std::thread opener([&] {
    std::this_thread::sleep_for(20ms);
    gate.release();
  });
  EXPECT_TRUE(pool.shutdown(10s));
  opener.join();
  EXPECT_EQ(block_on(std::move(h)).value(), 9);  // finished, not cancelled
  EXPECT_EQ(destroyed.load(), 1);
}

TEST(ThreadPoolTest, DumpListsLiveTasksWithSiteAndState) {
  ThreadPool pool(1);
  std::atomic<int> destroyed{0};
  auto h = pool.spawn(Forever(&destroyed));  // this line is in the dump
  const std::uint32_t line = __LINE__ - 1;
  while (pool.counters().polled == 0) std::this_thread::yield();
  std::vector<TaskInfo> dump = pool.dump();
  ASSERT_EQ(dump.size(), 1u);
  EXPECT_EQ(dump[0].id, h.id());
  EXPECT_EQ(dump[0].site.line, line);
  EXPECT_NE(std::string(dump[0].site.file).find("thread_pool_test.cc"), std::string::npos);
  // Idle once its first poll returned (allow the poll to still be running).
  for (int i = 0; i < 1000 && pool.dump()[0].state != TaskRunState::kIdle; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(pool.dump()[0].state, TaskRunState::kIdle);
  h.abort();
  EXPECT_TRUE(pool.block_on(std::move(h)).is_cancelled());
  // A task leaves the owned list before its handle can see it complete.
  EXPECT_TRUE(pool.dump().empty());
}

// An Unpark that reports its first call once armed (shutdown unparks every
// worker right after closing the inject queue).
class ReportingUnpark final : public Unpark {
 public:
  ReportingUnpark(Unpark& inner, std::atomic<bool>* armed, std::atomic<bool>* fired)
      : inner_(inner), armed_(armed), fired_(fired) {}
  void unpark() noexcept override {
    if (armed_->load()) fired_->store(true);
    inner_.unpark();
  }

 private:
  Unpark& inner_;
  std::atomic<bool>* armed_;
  std::atomic<bool>* fired_;
};
class ReportingPark final : public Park {
 public:
  ReportingPark(std::atomic<bool>* armed, std::atomic<bool>* fired) : unpark_(inner_.unparker(), armed, fired) {}
  void park() noexcept override { inner_.park(); }
  void park_timeout(std::chrono::nanoseconds t) noexcept override { inner_.park_timeout(t); }
  Unpark& unparker() noexcept override { return unpark_; }

 private:
  ThreadPark inner_;
  ReportingUnpark unpark_;
};

// Tasks spawned from outside wait in the inject queue, not owned yet, until a
// worker takes them (it then puts them on its owned shard). Meanwhile they
// must be in the dump, the counters and live_tasks(), and a shutdown that
// comes first must cancel them (futures destroyed, handles cancelled, no
// leak under ASan).
TEST(ThreadPoolTest, TasksNoWorkerTookYetAreListedCountedAndCancelledAtShutdown) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> started{false};
  std::atomic<bool> armed{false};
  std::atomic<bool> shutting_down{false};
  std::vector<JoinHandle<Unit>> hs;
  {
    ThreadPoolOptions options;
    options.workers = 1;
    options.make_park = [&](std::size_t) -> std::unique_ptr<Park> {
      return std::make_unique<ReportingPark>(&armed, &shutting_down);
    };
    ThreadPool pool(std::move(options));
    // Keeps the only worker busy until shutdown has closed the inject queue.
    auto blocker = pool.spawn(lazy([&] {
      started.store(true);
      while (!shutting_down.load()) std::this_thread::yield();
      return 1;
    }));
    while (!started.load()) std::this_thread::yield();
    for (int i = 0; i < 10; ++i) hs.push_back(pool.spawn(Forever(&destroyed)));
    EXPECT_EQ(pool.live_tasks(), 11u);
    EXPECT_EQ(pool.counters().spawned, 11u);
    std::vector<TaskInfo> dump = pool.dump();
    EXPECT_EQ(dump.size(), 11u);  // (not ASSERT: the blocker must still be released below)
    int scheduled = 0;
    for (const TaskInfo& t : dump) scheduled += t.state == TaskRunState::kScheduled ? 1 : 0;
    EXPECT_EQ(scheduled, 10);
    hs[3].abort();  // before any worker took it
    armed.store(true);
    EXPECT_FALSE(pool.shutdown(0ms));
    EXPECT_EQ(pool.counters().polled, 1u);  // the ten never ran: cancelled from the inject queue
    EXPECT_EQ(destroyed.load(), 10);
    EXPECT_EQ(pool.live_tasks(), 0u);
    EXPECT_TRUE(pool.dump().empty());
    EXPECT_EQ(block_on(std::move(blocker)).value(), 1);
  }
  for (auto& h : hs) EXPECT_TRUE(block_on(std::move(h)).is_cancelled());
}

// A task cancelled synchronously (TaskScope) while it still waits unowned in
// the inject queue: the worker that takes it later must neither own nor run
// it.
TEST(ThreadPoolTest, ScopeCancelsChildrenNoWorkerTookYet) {
  std::atomic<int> destroyed{0};
  std::atomic<bool> started{false};
  std::atomic<bool> release{false};
  ThreadPool pool(1);
  auto blocker = pool.spawn(lazy([&] {
    started.store(true);
    while (!release.load()) std::this_thread::yield();
    return 1;
  }));
  while (!started.load()) std::this_thread::yield();
  {
    TaskScope<Unit, ThreadPool> scope(pool);
    for (int i = 0; i < 5; ++i) scope.spawn(Forever(&destroyed));
    EXPECT_EQ(pool.live_tasks(), 6u);
  }  // cancels all five here, on this thread
  EXPECT_EQ(destroyed.load(), 5);
  EXPECT_EQ(pool.live_tasks(), 1u);
  release.store(true);
  EXPECT_EQ(pool.block_on(std::move(blocker)).value(), 1);
  for (int i = 0; i < 1000 && pool.live_tasks() != 0; ++i) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(pool.live_tasks(), 0u);
  EXPECT_EQ(pool.counters().spawned, 6u);
  EXPECT_TRUE(pool.shutdown(1s));
}

// Busy work that the optimiser cannot drop.
int spin_for(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  int n = 0;
  do {
    n += 1;
  } while (std::chrono::steady_clock::now() < end);
  return n;  // >= 1 even if the thread was descheduled past `end`
}

Task<int> spawn_all_locally(ThreadPool* pool, int n) {
  // All tasks start on this worker (LIFO slot + local queue): the other
  // worker can only get work by stealing it.
  std::vector<JoinHandle<int>> hs;
  hs.reserve(n);
  for (int i = 0; i < n; ++i) hs.push_back(pool->spawn(lazy([] { return spin_for(std::chrono::microseconds(50)) > 0 ? 1 : 0; })));
  int sum = 0;
  for (auto& h : hs) sum += (co_await std::move(h)).value();
  co_return sum;
}

TEST(ThreadPoolTest, IdleWorkerStealsUnderImbalance) {
  ThreadPool pool(2);
  EXPECT_EQ(pool.block_on(pool.spawn(spawn_all_locally(&pool, 200))).value(), 200);
  EXPECT_GT(pool.counters().stolen, 0u);
}

// A Park that counts its parks (the pluggable seam).
class CountingPark final : public Park {
 public:
  explicit CountingPark(std::atomic<int>* parks) : parks_(parks) {}
  void park() noexcept override {
    parks_->fetch_add(1);
    inner_.park();
  }
  void park_timeout(std::chrono::nanoseconds d) noexcept override { inner_.park_timeout(d); }
  Unpark& unparker() noexcept override { return inner_.unparker(); }

 private:
  std::atomic<int>* parks_;
  ThreadPark inner_;
};

TEST(ThreadPoolTest, WorkersSleepOnThePluggablePark) {
  std::atomic<int> parks{0};
  std::atomic<int> made{0};
  ThreadPoolOptions options;
  options.workers = 2;
  options.make_park = [&](std::size_t) -> std::unique_ptr<Park> {
    made.fetch_add(1);
    return std::make_unique<CountingPark>(&parks);
  };
  ThreadPool pool(std::move(options));
  EXPECT_EQ(made.load(), 2);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(pool.block_on(pool.spawn(ready(i))).value(), i);
    std::this_thread::sleep_for(1ms);  // let the workers go back to sleep
  }
  EXPECT_GT(parks.load(), 0);
  EXPECT_GT(pool.counters().parked, 0u);
}

TEST(ThreadPoolTest, WorksWithoutLifoSlot) {
  ThreadPoolOptions options;
  options.workers = 2;
  options.lifo_slot = false;
  ThreadPool pool(std::move(options));
  EXPECT_EQ(pool.block_on(pool.spawn(parent(&pool, 100))).value(), 99 * 100);
}

TEST(ThreadPoolTest, WorksWithSpinBeforePark) {
  ThreadPoolOptions options;
  options.workers = 2;
  options.spin_before_park = std::chrono::microseconds(50);
  ThreadPool pool(std::move(options));
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(pool.block_on(pool.spawn(parent(&pool, 50))).value(), 49 * 50);
    if (i % 5 == 0) std::this_thread::sleep_for(1ms);  // let them spin out and park
  }
  EXPECT_GT(pool.counters().parked, 0u);
}

TEST(ThreadPoolTest, CurrentWorkerIsKnownOnlyOnWorkers) {
  ThreadPool pool(2);
  EXPECT_FALSE(pool.current_worker().has_value());
  auto h = pool.spawn(lazy([&] { return pool.current_worker().has_value(); }));
  EXPECT_TRUE(pool.block_on(std::move(h)).value());
}

}  // namespace
}  // namespace weft
