// Benchmarks for broadcast (fan-out to 16 receivers) and Notify (notify_one
// -> notified round trips), on the LocalExecutor and on a 2-worker
// ThreadPool, with OS-thread std::mutex + std::condition_variable versions
// measured in the same run for the ratio. Run:
//
//   ./bazelw run --config=opt //channels:broadcast_benchmark --
//       --benchmark_repetitions=3 --benchmark_report_aggregates_only=true
//
// Figures: `ns_per_delivery` (wall time per value delivered to one
// receiver), `ns_per_round_trip`, and the `cpu_` variants (CPU time of every
// thread of the process: less sensitive to a shared machine).
#include <time.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "channels/broadcast.h"
#include "channels/notify.h"
#include "executor/join_handle.h"
#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/task.h"
#include "future/testing/test_waker.h"

namespace weft {
namespace {

double process_cpu_ns() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e9 + static_cast<double>(ts.tv_nsec);
}

// Reports `<name>` (wall ns per item) and `cpu_<name>`.
class PerItem {
 public:
  PerItem(benchmark::State& state, const char* name)
      : state_(state), name_(name), cpu0_(process_cpu_ns()) {}
  void finish(std::int64_t items_per_iter) {
    const double cpu = process_cpu_ns() - cpu0_;
    const double items = static_cast<double>(state_.iterations() * items_per_iter);
    state_.SetItemsProcessed(state_.iterations() * items_per_iter);
    state_.counters[name_] =
        benchmark::Counter(items, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
    state_.counters[std::string("cpu_") + name_] = items > 0 ? cpu / items : 0.0;
  }

 private:
  benchmark::State& state_;
  const char* name_;
  double cpu0_;
};

// ---- broadcast fan-out -------------------------------------------------------
//
// One sender, 16 receiver tasks, capacity 64. The sender sends in batches of
// 32 and never gets more than two batches ahead of the slowest receiver
// (receivers ack each batch through a Notify), so nothing lags: every value
// is delivered 16 times.

constexpr int kFanOut = 16;
constexpr std::size_t kCapacity = 64;
constexpr long kBatch = 32;
constexpr long kValues = 4096;  // per iteration

struct Acks {
  std::atomic<long> batches[kFanOut] = {};  // batches read, per receiver
  Notify notify;
  long slowest() const {
    long m = batches[0].load(std::memory_order_acquire);
    for (const auto& b : batches) {
      const long v = b.load(std::memory_order_acquire);
      m = v < m ? v : m;
    }
    return m;
  }
};

Task<long> fan_out_receiver(BroadcastReceiver<std::uint64_t> rx, Acks* acks, int id) {
  long got = 0, lagged = 0;
  std::uint64_t sum = 0;
  while (got + lagged < kValues) {
    Result<std::uint64_t, RecvError> r = co_await rx.recv();
    if (r.is_err()) {
      if (r.error().is_closed()) break;
      lagged += static_cast<long>(r.error().lagged_by());
      continue;
    }
    sum += r.value();
    got += 1;
    if (got % kBatch == 0) {
      acks->batches[id].fetch_add(1, std::memory_order_release);
      acks->notify.notify_one();
    }
  }
  benchmark::DoNotOptimize(sum);
  co_return lagged;
}

Task<Unit> fan_out_sender(BroadcastSender<std::uint64_t> tx, Acks* acks) {
  for (long k = 0; k * kBatch < kValues; ++k) {
    const long need = k - 1;  // batches 0..k-2 read by everyone
    while (acks->slowest() < need) {
      auto n = acks->notify.notified();
      if (acks->slowest() >= need) break;
      co_await n;
    }
    for (long i = 0; i < kBatch; ++i) (void)tx.send(static_cast<std::uint64_t>(k * kBatch + i));
  }
  co_return;
}

Task<long> join_receivers(std::vector<JoinHandle<long>>* hs) {
  long lagged = 0;
  for (auto& h : *hs) lagged += (co_await h).value();
  co_return lagged;
}

void BM_BroadcastFanOut16Local(benchmark::State& state) {
  LocalExecutor ex;
  long lagged = 0;
  PerItem per(state, "ns_per_delivery");
  for (auto _ : state) {
    auto [tx, rx] = broadcast<std::uint64_t>(kCapacity);
    Acks acks;
    std::vector<JoinHandle<long>> hs;
    hs.push_back(ex.spawn_local(fan_out_receiver(std::move(rx), &acks, 0)));
    for (int r = 1; r < kFanOut; ++r)
      hs.push_back(ex.spawn_local(fan_out_receiver(tx.subscribe(), &acks, r)));
    auto s = ex.spawn_local(fan_out_sender(std::move(tx), &acks));
    (void)ex.block_on(std::move(s));
    lagged += ex.block_on(join_receivers(&hs));
  }
  per.finish(kValues * kFanOut);
  state.counters["lagged"] = static_cast<double>(lagged);
}
BENCHMARK(BM_BroadcastFanOut16Local)->UseRealTime();

void BM_BroadcastFanOut16Pool2(benchmark::State& state) {
  ThreadPool pool(2);
  long lagged = 0;
  PerItem per(state, "ns_per_delivery");
  for (auto _ : state) {
    auto [tx, rx] = broadcast<std::uint64_t>(kCapacity);
    Acks acks;
    std::vector<JoinHandle<long>> hs;
    hs.push_back(pool.spawn(fan_out_receiver(std::move(rx), &acks, 0)));
    for (int r = 1; r < kFanOut; ++r)
      hs.push_back(pool.spawn(fan_out_receiver(tx.subscribe(), &acks, r)));
    auto s = pool.spawn(fan_out_sender(std::move(tx), &acks));
    (void)pool.block_on(std::move(s));
    lagged += pool.block_on(join_receivers(&hs));
  }
  per.finish(kValues * kFanOut);
  state.counters["lagged"] = static_cast<double>(lagged);
}
BENCHMARK(BM_BroadcastFanOut16Pool2)->UseRealTime();

// The same fan-out with OS threads: a ring under one std::mutex, readers
// and the writer sleeping on std::condition_variables.
void BM_BroadcastFanOut16MutexCondvarThreads(benchmark::State& state) {
  PerItem per(state, "ns_per_delivery");
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable readable, writable;
    std::vector<std::uint64_t> ring(kCapacity);
    long tail = 0;
    std::vector<long> cursor(kFanOut, 0);
    auto min_cursor = [&] {
      long m = cursor[0];
      for (long c : cursor) m = c < m ? c : m;
      return m;
    };
    std::vector<std::thread> readers;
    for (int r = 0; r < kFanOut; ++r) {
      readers.emplace_back([&, r] {
        std::uint64_t sum = 0;
        std::unique_lock<std::mutex> lock(mu);
        while (cursor[r] < kValues) {
          readable.wait(lock, [&] { return tail > cursor[r]; });
          while (cursor[r] < tail) {
            sum += ring[static_cast<std::size_t>(cursor[r]) % kCapacity];
            cursor[r] += 1;
          }
          writable.notify_one();
        }
        benchmark::DoNotOptimize(sum);
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      for (long i = 0; i < kValues; ++i) {
        writable.wait(lock, [&] { return tail - min_cursor() < static_cast<long>(kCapacity); });
        ring[static_cast<std::size_t>(tail) % kCapacity] = static_cast<std::uint64_t>(i);
        tail += 1;
        if (i % kBatch == kBatch - 1 || i == kValues - 1) readable.notify_all();
      }
    }
    for (auto& t : readers) t.join();
  }
  per.finish(kValues * kFanOut);
}
BENCHMARK(BM_BroadcastFanOut16MutexCondvarThreads)->UseRealTime();

// ---- Notify round trips --------------------------------------------------------

// notify_one() with nobody waiting, then notified(): the permit, lock-free.
void BM_NotifyPermitRoundTrip(benchmark::State& state) {
  Notify notify;
  PerItem per(state, "ns_per_round_trip");
  for (auto _ : state) {
    notify.notify_one();
    auto n = notify.notified();
    benchmark::DoNotOptimize(testing::poll_once(n).is_ready());
  }
  per.finish(1);
}
BENCHMARK(BM_NotifyPermitRoundTrip);

// A registered waiter: poll (Pending, registers), notify_one() (unlinks and
// wakes it), poll (Ready). One thread, a counting waker.
void BM_NotifyWaiterRoundTrip(benchmark::State& state) {
  Notify notify;
  testing::CountingWaker w;
  PerItem per(state, "ns_per_round_trip");
  for (auto _ : state) {
    auto n = notify.notified();
    benchmark::DoNotOptimize(testing::poll_once(n, w).is_pending());
    notify.notify_one();
    benchmark::DoNotOptimize(testing::poll_once(n, w).is_ready());
  }
  per.finish(1);
}
BENCHMARK(BM_NotifyWaiterRoundTrip);

// Two tasks hand a turn back and forth: ping.notify_one() -> the other's
// ping.notified() completes -> pong.notify_one() -> back. Per round trip.
constexpr int kRoundTrips = 10'000;

Task<Unit> ping_side(Notify* ping, Notify* pong) {
  for (int i = 0; i < kRoundTrips; ++i) {
    ping->notify_one();
    co_await pong->notified();
  }
  co_return;
}
Task<Unit> pong_side(Notify* ping, Notify* pong) {
  for (int i = 0; i < kRoundTrips; ++i) {
    co_await ping->notified();
    pong->notify_one();
  }
  co_return;
}

void BM_NotifyPingPongLocal(benchmark::State& state) {
  LocalExecutor ex;
  PerItem per(state, "ns_per_round_trip");
  for (auto _ : state) {
    Notify ping, pong;
    auto b = ex.spawn_local(pong_side(&ping, &pong));
    auto a = ex.spawn_local(ping_side(&ping, &pong));
    (void)ex.block_on(std::move(a));
    (void)ex.block_on(std::move(b));
  }
  per.finish(kRoundTrips);
}
BENCHMARK(BM_NotifyPingPongLocal)->UseRealTime();

void BM_NotifyPingPongPool2(benchmark::State& state) {
  ThreadPool pool(2);
  PerItem per(state, "ns_per_round_trip");
  for (auto _ : state) {
    Notify ping, pong;
    auto b = pool.spawn(pong_side(&ping, &pong));
    auto a = pool.spawn(ping_side(&ping, &pong));
    (void)pool.block_on(std::move(a));
    (void)pool.block_on(std::move(b));
  }
  per.finish(kRoundTrips);
}
BENCHMARK(BM_NotifyPingPongPool2)->UseRealTime();

// The same hand-off between two OS threads with std::mutex +
// std::condition_variable.
void BM_MutexCondvarPingPongThreads(benchmark::State& state) {
  PerItem per(state, "ns_per_round_trip");
  for (auto _ : state) {
    std::mutex mu;
    std::condition_variable cv;
    int turn = 0;  // even: ping's, odd: pong's
    std::thread other([&] {
      std::unique_lock<std::mutex> lock(mu);
      for (int i = 0; i < kRoundTrips; ++i) {
        cv.wait(lock, [&] { return turn == 2 * i + 1; });
        turn += 1;
        cv.notify_one();
      }
    });
    {
      std::unique_lock<std::mutex> lock(mu);
      for (int i = 0; i < kRoundTrips; ++i) {
        turn += 1;
        cv.notify_one();
        cv.wait(lock, [&] { return turn == 2 * i + 2; });
      }
    }
    other.join();
  }
  per.finish(kRoundTrips);
}
BENCHMARK(BM_MutexCondvarPingPongThreads)->UseRealTime();

}  // namespace
}  // namespace weft
