// Benchmarks of the static-capacity family (same machine, same run: compare
// ratios). Run: ./bazelw run --config=opt //channels:static_channel_benchmark
//
//   BM_TrySendTryRecv<Policy>   one try_send + one try_recv (a pair per item)
//   BM_StdMutexDequePair        the same through a std::mutex + std::deque
//   BM_SendRecvFutures<Policy>  send + recv futures polled once each (no wait)
//   BM_StaticExecutorPingPong   two StaticExecutor tasks, ping on one channel,
//                               pong on another: time per round trip
//   BM_StaticExecutorStream     producer -> consumer tasks through 16 slots:
//                               time per message
//   BM_BlockOnPingPong          two threads, block_on(send/recv) on
//                               AtomicPolicy channels: time per round trip
//   BM_CondvarPingPong          the same with std::mutex + condition_variable
//   BM_MutexTryLock, BM_MutexLockFuture, BM_SignalThenTake
#include "channels/static_channel.h"

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "benchmark/benchmark.h"
#include "channels/static_mutex.h"
#include "channels/static_signal.h"
#include "executor/static_executor.h"
#include "future/block_on.h"
#include "future/frame_allocator.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "tools/base/sync.h"

namespace weft {
namespace {

template <class Policy>
void BM_TrySendTryRecv(benchmark::State& state) {
  static StaticChannel<int, 64, Policy> ch;
  int sum = 0;
  for (auto _ : state) {
    (void)ch.try_send(1);
    sum += ch.try_recv().value();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_TrySendTryRecv<CriticalSectionPolicy>);
BENCHMARK(BM_TrySendTryRecv<AtomicPolicy>);

void BM_StdMutexDequePair(benchmark::State& state) {
  std::mutex mu;
  std::deque<int> q;
  int sum = 0;
  for (auto _ : state) {
    {
      std::lock_guard<std::mutex> l(mu);
      q.push_back(1);
    }
    {
      std::lock_guard<std::mutex> l(mu);
      sum += q.front();
      q.pop_front();
    }
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_StdMutexDequePair);

template <class Policy>
void BM_SendRecvFutures(benchmark::State& state) {
  static StaticChannel<int, 64, Policy> ch;
  int sum = 0;
  for (auto _ : state) {
    auto s = ch.send(1);
    (void)testing::poll_once(s);
    auto r = ch.recv();
    sum += testing::poll_once(r).value().value();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SendRecvFutures<CriticalSectionPolicy>);
BENCHMARK(BM_SendRecvFutures<AtomicPolicy>);

// ---- tasks on a StaticExecutor ----

constexpr int kRounds = 1000;
struct BenchTag;
using Job = Task<int, TaskArena<16 * 1024, BenchTag>>;
using Ch1 = StaticChannel<int, 1, CriticalSectionPolicy>;
Ch1 g_ping, g_pong;

Job pinger() {
  for (int i = 0; i < kRounds; ++i) {
    (void)co_await g_ping.send(i);
    (void)co_await g_pong.recv();
  }
  co_return 0;
}
Job ponger() {
  for (int i = 0; i < kRounds; ++i) {
    auto v = co_await g_ping.recv();
    (void)co_await g_pong.send(*v);
  }
  co_return 0;
}

void BM_StaticExecutorPingPong(benchmark::State& state) {
  TaskStorage<Job> a, b;
  StaticExecutor<2, CriticalSectionPolicy> ex;
  for (auto _ : state) {
    (void)ex.spawn(a, [] { return pinger(); });
    (void)ex.spawn(b, [] { return ponger(); });
    ex.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * kRounds);
}
BENCHMARK(BM_StaticExecutorPingPong);

StaticChannel<int, 16, CriticalSectionPolicy> g_stream;
Job stream_producer() {
  for (int i = 0; i < kRounds; ++i) (void)co_await g_stream.send(i);
  co_return 0;
}
Job stream_consumer() {
  int sum = 0;
  for (int i = 0; i < kRounds; ++i) sum += (co_await g_stream.recv()).value();
  co_return sum;
}

void BM_StaticExecutorStream(benchmark::State& state) {
  TaskStorage<Job> a, b;
  StaticExecutor<2, CriticalSectionPolicy> ex;
  for (auto _ : state) {
    (void)ex.spawn(a, [] { return stream_producer(); });
    (void)ex.spawn(b, [] { return stream_consumer(); });
    ex.run_until_idle();
  }
  state.SetItemsProcessed(state.iterations() * kRounds);
}
BENCHMARK(BM_StaticExecutorStream);

// ---- two threads ----

void BM_BlockOnPingPong(benchmark::State& state) {
  static StaticChannel<int, 1, AtomicPolicy> ping, pong;
  std::thread echo([] {
    for (;;) {
      auto v = block_on(ping.recv());
      if (!v || *v < 0) return;
      (void)block_on(pong.send(*v));
    }
  });
  for (auto _ : state) {
    for (int i = 0; i < 100; ++i) {
      (void)block_on(ping.send(i));
      (void)block_on(pong.recv());
    }
  }
  (void)block_on(ping.send(-1));
  echo.join();
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_BlockOnPingPong)->UseRealTime();

void BM_CondvarPingPong(benchmark::State& state) {
  struct Box {
    std::mutex mu;
    std::condition_variable cv;
    bool full = false;
    int value = 0;
    void put(int v) {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return !full; });
      value = v;
      full = true;
      cv.notify_all();
    }
    int take() {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return full; });
      full = false;
      cv.notify_all();
      return value;
    }
  };
  static Box ping, pong;
  std::thread echo([] {
    for (;;) {
      const int v = ping.take();
      if (v < 0) return;
      pong.put(v);
    }
  });
  for (auto _ : state) {
    for (int i = 0; i < 100; ++i) {
      ping.put(i);
      (void)pong.take();
    }
  }
  ping.put(-1);
  echo.join();
  state.SetItemsProcessed(state.iterations() * 100);
}
BENCHMARK(BM_CondvarPingPong)->UseRealTime();

// ---- mutex and signal ----

void BM_MutexTryLock(benchmark::State& state) {
  static StaticMutex<int, AtomicPolicy> m;
  for (auto _ : state) {
    auto g = m.try_lock();
    **g += 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexTryLock);

void BM_MutexLockFuture(benchmark::State& state) {
  static StaticMutex<int, AtomicPolicy> m;
  for (auto _ : state) {
    auto l = m.lock();
    auto g = testing::poll_once(l);
    *g.value() += 1;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MutexLockFuture);

void BM_SignalThenTake(benchmark::State& state) {
  static StaticSignal<int, AtomicPolicy> s;
  int sum = 0;
  for (auto _ : state) {
    s.signal(1);
    auto w = s.wait();
    sum += testing::poll_once(w).value();
  }
  benchmark::DoNotOptimize(sum);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SignalThenTake);

}  // namespace
}  // namespace weft
