// Benchmarks of StaticExecutor<N> against LocalExecutor (same machine, same
// run; compare ratios). Run: ./bazelw run --config=opt //executor:static_executor_benchmark
//
//   BM_*SpawnRunComplete   spawn an empty task, run it, its slot/task freed.
//   BM_*Yield/2            two tasks, each yielding (wake self + Pending)
//                          1000 times; time per yield (items).
//   BM_*PingPong           two tasks taking turns: each wakes the other and
//                          waits; time per hand-over (items).
//   BM_*TaskYield/2        the yield loop written as a `Task` coroutine
//                          (static: TaskArena frames; local: the frame pool).
#include "executor/static_executor.h"

#include <cstdint>

#include "benchmark/benchmark.h"
#include "executor/local_executor.h"
#include "future/frame_allocator.h"
#include "future/ready.h"
#include "future/task.h"

namespace weft {
namespace {

constexpr int kYields = 1000;

// Wakes itself and returns Pending `n` times, then Ready.
class YieldLoop {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  explicit YieldLoop(int n) : left_(n) {}
  Poll<Unit> poll(Context& cx) {
    if (left_ == 0) return Unit{};
    left_ -= 1;
    cx.waker().wake_by_ref();
    return Pending{};
  }

 private:
  int left_;
};

// Two players; the one whose turn it is plays, passes the turn and wakes
// the other.
struct Table {
  int turn = 0;
  int rounds = 0;
  Waker waiters[2];
};
class Player {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  Player(Table* table, int me) : table_(table), me_(me) {}
  Poll<Unit> poll(Context& cx) {
    Table& t = *table_;
    if (t.rounds >= kYields) {
      t.waiters[1 - me_].wake_by_ref();  // let the other one see the end
      return Unit{};
    }
    if (t.turn == me_) {
      t.rounds += 1;
      t.turn = 1 - me_;
      t.waiters[1 - me_].wake_by_ref();
    }
    register_waker(t.waiters[me_], cx.waker());
    return Pending{};
  }

 private:
  Table* table_;
  int me_;
};

struct BenchArenaTag;
using Arena = TaskArena<16 * 1024, BenchArenaTag>;

template <class Alloc>
Task<Unit, Alloc> yield_task(int n) {
  for (int i = 0; i < n; ++i) co_await yield_now();
  co_return;
}

// --- spawn + run + complete ------------------------------------------------

void BM_StaticSpawnRunComplete(benchmark::State& state) {
  static TaskStorage<Ready<Unit>> storage;
  static StaticExecutor<32> ex;
  for (auto _ : state) {
    auto h = ex.spawn(storage, [] { return ready(); });
    ex.run_until_idle();
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_StaticSpawnRunComplete);

void BM_LocalSpawnRunComplete(benchmark::State& state) {
  LocalExecutor ex;
  for (auto _ : state) {
    auto h = ex.spawn_local(ready());
    ex.run_until_stalled();
    benchmark::DoNotOptimize(h);
  }
}
BENCHMARK(BM_LocalSpawnRunComplete);

// --- yield ------------------------------------------------------------------

void BM_StaticYield(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  static TaskPool<YieldLoop, 8> pool;
  static StaticExecutor<8> ex;
  for (auto _ : state) {
    for (int i = 0; i < tasks; ++i) (void)ex.spawn(pool, [] { return YieldLoop(kYields); });
    ex.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * tasks * kYields);
}
BENCHMARK(BM_StaticYield)->Arg(2);

void BM_LocalYield(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  LocalExecutor ex;
  for (auto _ : state) {
    for (int i = 0; i < tasks; ++i) ex.spawn_local(YieldLoop(kYields)).detach();
    ex.run_until_stalled();
  }
  state.SetItemsProcessed(state.iterations() * tasks * kYields);
}
BENCHMARK(BM_LocalYield)->Arg(2);

void BM_StaticTaskYield(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  static TaskPool<Task<Unit, Arena>, 8> pool;
  static StaticExecutor<8> ex;
  for (auto _ : state) {
    for (int i = 0; i < tasks; ++i) (void)ex.spawn(pool, [] { return yield_task<Arena>(kYields); });
    ex.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * tasks * kYields);
}
BENCHMARK(BM_StaticTaskYield)->Arg(2);

void BM_LocalTaskYield(benchmark::State& state) {
  const int tasks = static_cast<int>(state.range(0));
  LocalExecutor ex;
  for (auto _ : state) {
    for (int i = 0; i < tasks; ++i) {
      ex.spawn_local(yield_task<DefaultTaskAllocator>(kYields)).detach();
    }
    ex.run_until_stalled();
  }
  state.SetItemsProcessed(state.iterations() * tasks * kYields);
}
BENCHMARK(BM_LocalTaskYield)->Arg(2);

// --- ping-pong --------------------------------------------------------------

void BM_StaticPingPong(benchmark::State& state) {
  static TaskPool<Player, 2> pool;
  static StaticExecutor<8> ex;
  for (auto _ : state) {
    Table table;
    (void)ex.spawn(pool, [&] { return Player(&table, 0); });
    (void)ex.spawn(pool, [&] { return Player(&table, 1); });
    ex.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * kYields);
}
BENCHMARK(BM_StaticPingPong);

void BM_LocalPingPong(benchmark::State& state) {
  LocalExecutor ex;
  for (auto _ : state) {
    Table table;
    ex.spawn_local(Player(&table, 0)).detach();
    ex.spawn_local(Player(&table, 1)).detach();
    ex.run_until_stalled();
  }
  state.SetItemsProcessed(state.iterations() * kYields);
}
BENCHMARK(BM_LocalPingPong);

// --- a wake from "an interrupt": the bare cost of waking a slot -------------

void BM_StaticWake(benchmark::State& state) {
  static StaticExecutor<32> ex;
  const Waker w = ex.waker(5);
  for (auto _ : state) {
    w.wake_by_ref();
    benchmark::ClobberMemory();
  }
  ex.run_until_idle();
}
BENCHMARK(BM_StaticWake);

}  // namespace
}  // namespace weft
