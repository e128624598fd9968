// Stress test for the Idle protocol: a miniature pool whose "queue" is a
// counter. Producers add work and wake at most one worker through
// `worker_to_notify`; workers follow the search / park protocol of
// executor/internal/idle.h with real parkers. If a wake-up were ever lost,
// work would stay queued while every worker sleeps and the round would hit
// its deadline. Bounded in count and time; run under --config=tsan.
#include "executor/internal/idle.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "future/internal/parker.h"
#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

using Clock = std::chrono::steady_clock;

struct MiniPool {
  explicit MiniPool(std::size_t n) : idle(n), parkers(n) {}

  Idle idle;
  std::vector<future_internal::Parker> parkers;
  std::atomic<std::int64_t> queue{0};  // units of work waiting (seq_cst RMWs)
  std::atomic<std::int64_t> done{0};
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> parks{0};
  std::atomic<std::uint64_t> notifies{0};

  bool try_take() {
    std::int64_t q = queue.load(std::memory_order_seq_cst);
    while (q > 0) {
      if (queue.compare_exchange_weak(q, q - 1, std::memory_order_seq_cst)) return true;
    }
    return false;
  }
  void notify() {
    if (auto id = idle.worker_to_notify()) {
      notifies.fetch_add(1, std::memory_order_relaxed);
      parkers[*id].unpark();
    }
  }
  void produce(std::int64_t n) {
    queue.fetch_add(n, std::memory_order_seq_cst);
    notify();
  }

  void worker(std::size_t id) {
    bool searching = false;
    while (!stop.load(std::memory_order_acquire)) {
      if (!try_take()) {
        if (!searching) searching = idle.transition_worker_to_searching();
        if (!try_take()) {
          // Park.
          const bool last = idle.transition_worker_to_parked(id, searching);
          searching = false;
          if (last && queue.load(std::memory_order_seq_cst) > 0) notify();
          for (;;) {
            parks.fetch_add(1, std::memory_order_relaxed);
            parkers[id].park();
            if (stop.load(std::memory_order_acquire)) return;
            if (!idle.is_parked(id)) {
              searching = true;  // chosen by worker_to_notify
              break;
            }
          }
          continue;
        }
      }
      // Got one unit of work.
      if (searching) {
        searching = false;
        // The pool's rule: the last searcher wakes another worker only if
        // work is left (checked after the RMW that ends the search).
        if (idle.transition_worker_from_searching() && queue.load(std::memory_order_seq_cst) > 0) notify();
      }
      done.fetch_add(1, std::memory_order_relaxed);
      if (done.load(std::memory_order_relaxed) % 7 == 0) std::this_thread::yield();
    }
  }
};

void run_round(std::size_t workers, int producers, std::int64_t per_producer, bool bursts) {
  MiniPool pool(workers);
  std::vector<std::thread> ws;
  for (std::size_t i = 0; i < workers; ++i) ws.emplace_back([&pool, i] { pool.worker(i); });
  std::vector<std::thread> ps;
  for (int p = 0; p < producers; ++p) {
    ps.emplace_back([&pool, per_producer, bursts, p] {
      for (std::int64_t i = 0; i < per_producer;) {
        const std::int64_t n = bursts ? 1 + (i + p) % 13 : 1;
        pool.produce(n);
        i += n;
        if (i % 64 == 0) std::this_thread::sleep_for(std::chrono::microseconds(50));  // let workers park
      }
    });
  }
  for (auto& t : ps) t.join();
  std::int64_t expect = 0;
  for (int p = 0; p < producers; ++p) {
    for (std::int64_t i = 0; i < per_producer;) {
      const std::int64_t n = bursts ? 1 + (i + p) % 13 : 1;
      expect += n;
      i += n;
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (pool.done.load() < expect && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(pool.done.load(), expect) << "work left queued: a wake-up was lost";
  pool.stop.store(true, std::memory_order_release);
  for (auto& p : pool.parkers) p.unpark();
  for (auto& t : ws) t.join();
  // Anti-herd: never more notifications than units of work.
  EXPECT_LE(pool.notifies.load(), static_cast<std::uint64_t>(expect));
}

TEST(IdleStressTest, NoLostWakeupsOneByOne) {
  const auto deadline = Clock::now() + std::chrono::seconds(25);
  for (int round = 0; round < 30 && Clock::now() < deadline; ++round) {
    run_round(/*workers=*/2 + round % 3, /*producers=*/1 + round % 2, /*per_producer=*/3000, /*bursts=*/false);
  }
}

TEST(IdleStressTest, NoLostWakeupsInBursts) {
  const auto deadline = Clock::now() + std::chrono::seconds(25);
  for (int round = 0; round < 30 && Clock::now() < deadline; ++round) {
    run_round(/*workers=*/1 + round % 4, /*producers=*/2, /*per_producer=*/5000, /*bursts=*/true);
  }
}

}  // namespace
}  // namespace weft::executor_internal
