// LocalExecutor benchmarks, with OS threads measured in the same run.
//
//   ./bazelw run --config=opt //executor:local_benchmark
//
// The tokio 1.24 reference (same machine kind, medians): spawn+join
// 95 ns sequential on a current-thread runtime; yield 159 ns (futures'
// LocalPool: 28 ns); 128 bytes of RSS per parked task; an OS thread 8.5 KB of
// RSS plus its kernel stack. Goal: half of tokio's time, <= 96 bytes per
// parked task beyond its future.
//
// Memory benchmarks run first (registration order) so that heap memory freed
// by the timing benchmarks cannot be reused and hide RSS growth.
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "executor/local_executor.h"
#include "future/ready.h"

namespace weft {
namespace {

// Resident set size in bytes (/proc/self/statm, second field, in pages).
std::int64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  long size = 0, resident = 0;
  if (std::fscanf(f, "%ld %ld", &size, &resident) != 2) resident = 0;
  std::fclose(f);
  return static_cast<std::int64_t>(resident) * sysconf(_SC_PAGESIZE);
}

// The smallest never-ready future: 1 byte.
using Parked = PendingForever<Unit>;

// ---------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------

// 1M tasks, each polled once and parked on a never-ready future.
void BM_MemoryPerParkedTask(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  for (auto _ : state) {
    LocalExecutor ex;
    const std::int64_t before = rss_bytes();
    for (std::int64_t i = 0; i < n; ++i) ex.spawn_detached(Parked());
    ex.run_until_stalled();  // every task polled once: all parked
    const std::int64_t after = rss_bytes();
    state.counters["bytes_per_task"] = static_cast<double>(after - before) / static_cast<double>(n);
    state.counters["sizeof_task"] = static_cast<double>(sizeof(executor_internal::TaskCell<Parked>));
    state.counters["sizeof_future"] = static_cast<double>(sizeof(Parked));
  }  // ~LocalExecutor cancels and frees them
}
BENCHMARK(BM_MemoryPerParkedTask)->Arg(1000000)->Iterations(1)->Unit(benchmark::kMillisecond);

// OS threads blocked on a condition variable (RSS only: the kernel stack of
// each thread, 16 KiB on x86-64, is not in RSS and comes on top).
void BM_MemoryPerBlockedThread(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    std::atomic<int> started{0};
    const std::int64_t before = rss_bytes();
    std::vector<std::thread> ts;
    ts.reserve(n);
    for (int i = 0; i < n; ++i) {
      ts.emplace_back([&] {
        started.fetch_add(1);
        std::unique_lock<std::mutex> lock(mu);
        cv.wait(lock, [&] { return release; });
      });
    }
    while (started.load() < n) std::this_thread::yield();
    const std::int64_t after = rss_bytes();
    state.counters["bytes_per_thread"] = static_cast<double>(after - before) / n;
    {
      std::lock_guard<std::mutex> lock(mu);
      release = true;
    }
    cv.notify_all();
    for (auto& t : ts) t.join();
  }
}
BENCHMARK(BM_MemoryPerBlockedThread)->Arg(2000)->Iterations(1)->Unit(benchmark::kMillisecond);

// ---------------------------------------------------------------------------
// Time
// ---------------------------------------------------------------------------

// Counter for "nanoseconds per item" (Google Benchmark prints seconds; the
// value shown is per item).
benchmark::Counter per_item(double items) {
  return benchmark::Counter(items, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// Spawn an empty task and await it, one at a time, from a driving future
// (tokio: `for _ in 0..n { tokio::spawn(async {}).await }`).
void BM_SpawnJoinSequential(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    std::int64_t i = 0;
    JoinHandle<Unit> h;
    ex.block_on(poll_fn([&](Context& cx) -> Poll<Unit> {
      for (;;) {
        if (h.valid()) {
          if (h.poll(cx).is_pending()) return Pending{};
          i += 1;
        }
        if (i == n) return Unit{};
        h = ex.spawn_local(ready());
      }
    }));
  }
  state.counters["per_task"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_SpawnJoinSequential)->Arg(10000);

// Spawn n empty tasks from a driving future, then await them all (a batch on
// one thread; with n = 1M: "a million tasks spawned and joined").
void BM_SpawnJoinBatch(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  std::vector<JoinHandle<Unit>> hs;
  hs.reserve(n);
  for (auto _ : state) {
    std::size_t next = 0;
    ex.block_on(poll_fn([&](Context& cx) -> Poll<Unit> {
      if (hs.empty()) {
        for (std::int64_t i = 0; i < n; ++i) hs.push_back(ex.spawn_local(ready()));
      }
      for (; next < hs.size(); ++next) {
        if (hs[next].poll(cx).is_pending()) return Pending{};
      }
      return Unit{};
    }));
    hs.clear();
  }
  state.counters["per_task"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_SpawnJoinBatch)->Arg(10000)->Arg(1000000)->Unit(benchmark::kMillisecond);

// Detached spawn + run (no JoinHandle at all).
void BM_SpawnDetached(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    for (std::int64_t i = 0; i < n; ++i) ex.spawn_detached(ready());
    ex.run_until_stalled();
  }
  state.counters["per_task"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_SpawnDetached)->Arg(10000);

// Two tasks that yield to each other: each yield is one reschedule + poll.
void BM_YieldPingPong(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    auto yielder = [n] {
      return poll_fn([n, left = n](Context& cx) mutable -> Poll<Unit> {
        if (left == 0) return Unit{};
        left -= 1;
        cx.waker().wake_by_ref();
        return Pending{};
      });
    };
    ex.spawn_detached(yielder());
    ex.spawn_detached(yielder());
    ex.run_until_stalled();
  }
  state.counters["per_yield"] = per_item(static_cast<double>(state.iterations() * 2 * n));
}
BENCHMARK(BM_YieldPingPong)->Arg(100000);

// Each task spawns the next; 1M in a chain.
struct Chain {
  using Output = Unit;
  static constexpr bool kUnpin = true;
  std::int64_t left;
  Poll<Unit> poll(Context&) {
    if (left > 0) LocalExecutor::current()->spawn_detached(Chain{left - 1});
    return Unit{};
  }
};
void BM_ChainedSpawn(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    ex.spawn_detached(Chain{n - 1});
    ex.run_until_stalled();
  }
  state.counters["per_task"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_ChainedSpawn)->Arg(1000000)->Unit(benchmark::kMillisecond);

// OS threads: spawn + join of an empty std::thread.
void BM_ThreadSpawnJoin(benchmark::State& state) {
  for (auto _ : state) {
    std::thread t([] {});
    t.join();
  }
  state.counters["per_thread"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_ThreadSpawnJoin);

}  // namespace
}  // namespace weft
