// Mutex and Semaphore benchmarks, with std::mutex measured in the same run.
//
//   ./bazelw run --config=opt //channels:sync_benchmark
//
// Goal (the issue): half of tokio's time. tokio's uncontended
// `Mutex::lock().await` + drop is roughly 20-25 ns on this kind of machine:
// aim for <= 12 ns. Read the `per_op` counter (seconds per operation); the
// std::mutex cases are the baseline for ratios (the machine is noisy).
//
// Cases: uncontended (direct poll, a Task on the LocalExecutor, a task on a
// 2-worker ThreadPool), contended (4 tasks on ThreadPool(2); 2 threads with
// block_on), Semaphore (try_acquire + drop; acquire future), std::mutex.
#include <cstdint>
#include <mutex>
#include <vector>

#include "benchmark/benchmark.h"
#include "channels/mutex.h"
#include "channels/rwlock.h"
#include "channels/semaphore.h"
#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/test_waker.h"

namespace weft {
namespace {

// Counter for "seconds per operation" (shown with SI prefixes: 12.3n).
benchmark::Counter per_op(double ops) {
  return benchmark::Counter(ops, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

constexpr std::int64_t kBatch = 10000;  // operations per pool round trip

// ---------------------------------------------------------------------------
// Uncontended
// ---------------------------------------------------------------------------

void BM_StdMutexUncontended(benchmark::State& state) {
  std::mutex mu;
  long x = 0;
  for (auto _ : state) {
    std::lock_guard<std::mutex> g(mu);
    benchmark::DoNotOptimize(++x);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_StdMutexUncontended);

// lock() polled once by hand (no executor) + guard drop.
void BM_MutexUncontendedPoll(benchmark::State& state) {
  Mutex<long> m(0);
  for (auto _ : state) {
    auto f = m.lock();
    auto p = testing::poll_once(f);
    benchmark::DoNotOptimize(++*p.value());
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MutexUncontendedPoll);

void BM_MutexUncontendedTryLock(benchmark::State& state) {
  Mutex<long> m(0);
  for (auto _ : state) {
    auto g = m.try_lock();
    benchmark::DoNotOptimize(++**g);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MutexUncontendedTryLock);

// `co_await m.lock()` in a Task on the LocalExecutor (the benchmark loop
// runs inside the task; the cooperative budget makes it yield every 128).
void BM_MutexUncontendedLocalTask(benchmark::State& state) {
  Mutex<long> m(0);
  LocalExecutor ex;
  auto body = [&]() -> Task<Unit> {
    for (auto _ : state) {
      auto g = co_await m.lock();
      benchmark::DoNotOptimize(++*g);
    }
  };
  ex.block_on(body());
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MutexUncontendedLocalTask);

// Baseline for the one above: `co_await ready(1)` in the same loop (what a
// Task's co_await of an always-ready future costs by itself).
void BM_TaskAwaitReadyLocalTask(benchmark::State& state) {
  LocalExecutor ex;
  long x = 0;
  auto body = [&]() -> Task<Unit> {
    for (auto _ : state) benchmark::DoNotOptimize(x += co_await ready(1L));
  };
  ex.block_on(body());
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_TaskAwaitReadyLocalTask);

// The same in one task on ThreadPool(2), kBatch locks per spawn.
void BM_MutexUncontendedPoolTask(benchmark::State& state) {
  Mutex<long> m(0);
  ThreadPool pool(2);
  auto body = [&]() -> Task<Unit> {
    for (std::int64_t i = 0; i < kBatch; ++i) {
      auto g = co_await m.lock();
      benchmark::DoNotOptimize(++*g);
    }
  };
  for (auto _ : state) (void)pool.block_on(pool.spawn(body()));
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations() * kBatch));
}
BENCHMARK(BM_MutexUncontendedPoolTask)->UseRealTime();

// RwLock read and write, polled by hand.
void BM_RwLockUncontendedRead(benchmark::State& state) {
  RwLock<long> l(0);
  for (auto _ : state) {
    auto f = l.read();
    auto p = testing::poll_once(f);
    benchmark::DoNotOptimize(*p.value());
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_RwLockUncontendedRead);

void BM_RwLockUncontendedWrite(benchmark::State& state) {
  RwLock<long> l(0);
  for (auto _ : state) {
    auto f = l.write();
    auto p = testing::poll_once(f);
    benchmark::DoNotOptimize(++*p.value());
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_RwLockUncontendedWrite);

// ---------------------------------------------------------------------------
// Contended
// ---------------------------------------------------------------------------

// 4 tasks on ThreadPool(2), each kBatch/4 increments.
void BM_MutexContendedPoolTasks(benchmark::State& state) {
  Mutex<long> m(0);
  ThreadPool pool(2);
  auto body = [&]() -> Task<Unit> {
    for (std::int64_t i = 0; i < kBatch / 4; ++i) {
      auto g = co_await m.lock();
      benchmark::DoNotOptimize(++*g);
    }
  };
  std::vector<JoinHandle<Unit>> hs;
  for (auto _ : state) {
    for (int t = 0; t < 4; ++t) hs.push_back(pool.spawn(body()));
    for (auto& h : hs) (void)pool.block_on(std::move(h));
    hs.clear();
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations() * kBatch));
}
BENCHMARK(BM_MutexContendedPoolTasks)->UseRealTime();

// 4 tasks on ThreadPool(2) with std::mutex (never blocks long: the baseline).
void BM_StdMutexContendedPoolTasks(benchmark::State& state) {
  std::mutex mu;
  long x = 0;
  ThreadPool pool(2);
  auto body = [&]() -> Task<Unit> {
    for (std::int64_t i = 0; i < kBatch / 4; ++i) {
      std::lock_guard<std::mutex> g(mu);
      benchmark::DoNotOptimize(++x);
    }
    co_return;
  };
  std::vector<JoinHandle<Unit>> hs;
  for (auto _ : state) {
    for (int t = 0; t < 4; ++t) hs.push_back(pool.spawn(body()));
    for (auto& h : hs) (void)pool.block_on(std::move(h));
    hs.clear();
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations() * kBatch));
}
BENCHMARK(BM_StdMutexContendedPoolTasks)->UseRealTime();

// 2 threads, block_on(m.lock()) each (Google Benchmark runs the function
// on both threads at once; the mutex is shared).
Mutex<long> g_contended(0);
void BM_MutexContendedBlockOn(benchmark::State& state) {
  for (auto _ : state) {
    auto g = block_on(g_contended.lock());
    benchmark::DoNotOptimize(++*g);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_MutexContendedBlockOn)->Threads(2)->UseRealTime();

std::mutex g_std_contended;
long g_std_value = 0;
void BM_StdMutexContended(benchmark::State& state) {
  for (auto _ : state) {
    std::lock_guard<std::mutex> g(g_std_contended);
    benchmark::DoNotOptimize(++g_std_value);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_StdMutexContended)->Threads(2)->UseRealTime();

// ---------------------------------------------------------------------------
// Semaphore
// ---------------------------------------------------------------------------

void BM_SemaphoreTryAcquire(benchmark::State& state) {
  Semaphore sem(1);
  for (auto _ : state) {
    auto p = sem.try_acquire();
    benchmark::DoNotOptimize(p);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SemaphoreTryAcquire);

void BM_SemaphoreAcquirePoll(benchmark::State& state) {
  Semaphore sem(1);
  for (auto _ : state) {
    auto f = sem.acquire();
    auto p = testing::poll_once(f);
    benchmark::DoNotOptimize(p);
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SemaphoreAcquirePoll);

void BM_SemaphoreAcquireLocalTask(benchmark::State& state) {
  Semaphore sem(1);
  LocalExecutor ex;
  auto body = [&]() -> Task<Unit> {
    for (auto _ : state) {
      auto p = co_await sem.acquire();
      benchmark::DoNotOptimize(p);
    }
  };
  ex.block_on(body());
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SemaphoreAcquireLocalTask);

void BM_SemaphoreTryAcquireLocalTask(benchmark::State& state) {
  Semaphore sem(1);
  LocalExecutor ex;
  auto body = [&]() -> Task<Unit> {
    for (auto _ : state) {
      auto p = sem.try_acquire();
      benchmark::DoNotOptimize(p);
    }
    co_return;
  };
  ex.block_on(body());
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_SemaphoreTryAcquireLocalTask);

void BM_SemaphoreAcquirePoolTask(benchmark::State& state) {
  Semaphore sem(1);
  ThreadPool pool(2);
  auto body = [&]() -> Task<Unit> {
    for (std::int64_t i = 0; i < kBatch; ++i) {
      auto p = co_await sem.acquire();
      benchmark::DoNotOptimize(p);
    }
  };
  for (auto _ : state) (void)pool.block_on(pool.spawn(body()));
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations() * kBatch));
}
BENCHMARK(BM_SemaphoreAcquirePoolTask)->UseRealTime();

// 4 tasks on ThreadPool(2) share 2 permits.
void BM_SemaphoreContendedPoolTasks(benchmark::State& state) {
  Semaphore sem(2);
  ThreadPool pool(2);
  auto body = [&]() -> Task<Unit> {
    for (std::int64_t i = 0; i < kBatch / 4; ++i) {
      auto p = co_await sem.acquire();
      benchmark::DoNotOptimize(p);
    }
  };
  std::vector<JoinHandle<Unit>> hs;
  for (auto _ : state) {
    for (int t = 0; t < 4; ++t) hs.push_back(pool.spawn(body()));
    for (auto& h : hs) (void)pool.block_on(std::move(h));
    hs.clear();
  }
  state.counters["per_op"] = per_op(static_cast<double>(state.iterations() * kBatch));
}
BENCHMARK(BM_SemaphoreContendedPoolTasks)->UseRealTime();

}  // namespace
}  // namespace weft
