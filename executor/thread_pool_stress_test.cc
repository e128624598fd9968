// Stress tests for ThreadPool: no lost wake-ups (a task woken while being
// polled runs again; wake-ups racing from many threads), no double poll,
// abort racing completion, join handles dropped before/after completion, a
// million tasks spawned and joined, stealing under imbalance, and shutdown
// with tasks pending. Each test is bounded in count and has a watchdog that
// aborts the binary (naming the test) if it hangs: a lost wake-up shows up as
// a hang. Run under --config=tsan and --config=asan.
#include "executor/thread_pool.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Aborts the process if not destroyed within `limit`.
class Watchdog {
 public:
  Watchdog(std::chrono::seconds limit, const char* what)
      : thread_([this, limit, what] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [&] { return done_; })) {
            std::fprintf(stderr, "watchdog: %s did not finish within %llds (lost wake-up?)\n", what,
                         static_cast<long long>(limit.count()));
            std::fflush(stderr);
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// A waker slot other threads can wake (mutex-protected).
struct WakerSlot {
  std::mutex mu;
  Waker waker;
  void store(const Waker& w) {
    std::lock_guard<std::mutex> lock(mu);
    register_waker(waker, w);
  }
  void wake() {
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      w = waker;  // clone: the slot keeps its waker for later wakes
    }
    std::move(w).wake();
  }
};

TEST(ThreadPoolStressTest, AMillionTasksSpawnedAndJoined) {
  const int kTasks = 1000000;
  Watchdog dog(240s, "AMillionTasksSpawnedAndJoined");
  ThreadPool pool(2);
  // From outside the pool (inject queue), in batches.
  std::int64_t sum = 0;
  const int kBatch = 10000;
  std::vector<JoinHandle<int>> hs;
  hs.reserve(kBatch);
  for (int base = 0; base < kTasks / 2; base += kBatch) {
    hs.clear();
    for (int i = 0; i < kBatch; ++i) hs.push_back(pool.spawn(ready(1)));
    for (auto& h : hs) sum += pool.block_on(std::move(h)).value();
  }
  // From inside a task (LIFO slot, local queue, overflow to the inject queue).
  auto root = [](ThreadPool* p, int n) -> Task<std::int64_t> {
    std::vector<JoinHandle<int>> v;
    v.reserve(10000);
    std::int64_t s = 0;
    for (int base = 0; base < n; base += 10000) {
      v.clear();
      for (int i = 0; i < 10000; ++i) v.push_back(p->spawn(ready(1)));
      for (auto& h : v) s += (co_await std::move(h)).value();
    }
    co_return s;
  };
  sum += pool.block_on(pool.spawn(root(&pool, kTasks / 2))).value();
  EXPECT_EQ(sum, kTasks);
  const ExecutorCounters c = pool.counters();
  EXPECT_EQ(c.spawned, static_cast<std::uint64_t>(kTasks) + 1);
  EXPECT_TRUE(pool.shutdown(10s));
  EXPECT_EQ(pool.live_tasks(), 0u);
}

// A ring of tasks passing a token: task i waits until `token == i`, then
// passes it on and wakes task i+1. Every hand-off is a cross-task wake, often
// from another worker; one lost wake-up stalls the ring for good.
class TokenRing : public ::testing::TestWithParam<int> {};  // spin_before_park in us

TEST_P(TokenRing, LosesNoWakeups) {
  const int kTasks = 8;
  const int kLaps = kSanitized ? 2000 : 20000;
  Watchdog dog(120s, "TokenRingLosesNoWakeups");
  ThreadPoolOptions options;
  options.workers = 2;
  options.spin_before_park = std::chrono::microseconds(GetParam());
  ThreadPool pool(std::move(options));
  std::atomic<int> token{0};
  std::vector<std::unique_ptr<WakerSlot>> slots;
  for (int i = 0; i < kTasks; ++i) slots.push_back(std::make_unique<WakerSlot>());
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < kTasks; ++i) {
    hs.push_back(pool.spawn(poll_fn([&, i, laps = 0](Context& cx) mutable -> Poll<int> {
      for (;;) {
        if (laps == kLaps) return laps;
        const int t = token.load(std::memory_order_acquire);
        if (t % kTasks != i) {
          slots[i]->store(cx.waker());
          if (token.load(std::memory_order_acquire) == t) return Pending{};
          continue;  // it moved while we registered: look again
        }
        laps += 1;
        token.store(t + 1, std::memory_order_release);
        slots[(i + 1) % kTasks]->wake();
      }
    })));
  }
  for (auto& h : hs) EXPECT_EQ(pool.block_on(std::move(h)).value(), kLaps);
  EXPECT_EQ(token.load(), kTasks * kLaps);
}
INSTANTIATE_TEST_SUITE_P(ThreadPoolStressTest, TokenRing, ::testing::Values(0, 20));

// Tasks woken from several threads at once, also while they are being polled,
// must never be polled concurrently and must see every wake (they finish only
// after observing the final count, which arrives with a wake).
TEST(ThreadPoolStressTest, ConcurrentWakesNeverDoublePollNorGetLost) {
  const int kTasks = 16;
  const int kWakers = 3;
  const int kWakesEach = kSanitized ? 3000 : 30000;
  Watchdog dog(120s, "ConcurrentWakesNeverDoublePollNorGetLost");
  ThreadPool pool(2);
  struct Shared {
    std::atomic<int> count{0};
    std::atomic<int> in_poll{0};
    std::atomic<int> double_polls{0};
    WakerSlot slot;
  };
  std::vector<std::unique_ptr<Shared>> shared;
  for (int i = 0; i < kTasks; ++i) shared.push_back(std::make_unique<Shared>());
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < kTasks; ++i) {
    Shared* s = shared[i].get();
    hs.push_back(pool.spawn(poll_fn([s, polls = 0](Context& cx) mutable -> Poll<int> {
      if (s->in_poll.exchange(1, std::memory_order_acq_rel) != 0) s->double_polls.fetch_add(1);
      polls += 1;
      s->slot.store(cx.waker());
      const bool done = s->count.load(std::memory_order_acquire) == kWakers * kWakesEach;
      if (polls % 5 == 0) cx.waker().wake_by_ref();  // also wake ourselves mid-poll
      s->in_poll.store(0, std::memory_order_release);
      if (done) return polls;
      return Pending{};
    })));
  }
  std::vector<std::thread> wakers;
  for (int k = 0; k < kWakers; ++k) {
    wakers.emplace_back([&] {
      for (int n = 0; n < kWakesEach; ++n) {
        for (auto& s : shared) {
          s->count.fetch_add(1, std::memory_order_release);
          s->slot.wake();
        }
      }
    });
  }
  for (auto& t : wakers) t.join();
  for (auto& h : hs) EXPECT_TRUE(pool.block_on(std::move(h)).is_ok());
  for (auto& s : shared) EXPECT_EQ(s->double_polls.load(), 0);
}

// A future released by a gate; counts its destruction.
class Gated {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  Gated(std::shared_ptr<std::atomic<bool>> open, std::shared_ptr<WakerSlot> slot, std::atomic<int>* destroyed)
      : open_(std::move(open)), slot_(std::move(slot)), destroyed_(destroyed) {}
  Gated(Gated&& o) noexcept
      : open_(std::move(o.open_)), slot_(std::move(o.slot_)), destroyed_(std::exchange(o.destroyed_, nullptr)) {}
  ~Gated() {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  Poll<int> poll(Context& cx) {
    if (open_->load(std::memory_order_acquire)) return 1;
    slot_->store(cx.waker());
    if (open_->load(std::memory_order_acquire)) return 1;
    return Pending{};
  }

 private:
  std::shared_ptr<std::atomic<bool>> open_;
  std::shared_ptr<WakerSlot> slot_;
  std::atomic<int>* destroyed_;
};

TEST(ThreadPoolStressTest, AbortRacesWithCompletion) {
  const int kRounds = kSanitized ? 2000 : 20000;
  Watchdog dog(120s, "AbortRacesWithCompletion");
  ThreadPool pool(2);
  std::atomic<int> destroyed{0};
  int ok = 0;
  int cancelled = 0;
  std::mt19937 rng(42);
  for (int r = 0; r < kRounds; ++r) {
    auto open = std::make_shared<std::atomic<bool>>(false);
    auto slot = std::make_shared<WakerSlot>();
    auto h = pool.spawn(Gated(open, slot, &destroyed));
    const unsigned mode = rng() % 3;
    std::thread opener([&] {
      if (mode == 0) std::this_thread::yield();
      open->store(true, std::memory_order_release);
      slot->wake();
    });
    if (mode == 1) std::this_thread::yield();
    h.abort();
    if (mode == 2) h.abort();  // idempotent
    opener.join();
    JoinResult<int> res = pool.block_on(std::move(h));
    ASSERT_TRUE(res.is_ok() || res.is_cancelled());
    if (res.is_ok()) {
      EXPECT_EQ(res.value(), 1);
      ok += 1;
    } else {
      cancelled += 1;
    }
  }
  pool.shutdown(10s);
  EXPECT_EQ(destroyed.load(), kRounds);  // every future destroyed exactly once
  std::printf("abort vs completion: %d completed, %d cancelled\n", ok, cancelled);
}

TEST(ThreadPoolStressTest, JoinHandlesDroppedBeforeOrAfterCompletion) {
  const int kTasks = kSanitized ? 20000 : 200000;
  Watchdog dog(120s, "JoinHandlesDroppedBeforeOrAfterCompletion");
  std::vector<std::weak_ptr<int>> outputs;
  outputs.reserve(kTasks);
  {
    ThreadPool pool(2);
    std::vector<JoinHandle<std::shared_ptr<int>>> hs;
    hs.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) {
      auto p = std::make_shared<int>(i);
      outputs.push_back(p);
      hs.push_back(pool.spawn(ready(std::move(p))));
    }
    // Drop the handles on two threads while the tasks complete.
    std::thread a([&] {
      for (int i = 0; i < kTasks; i += 2) hs[i] = {};
    });
    std::thread b([&] {
      for (int i = 1; i < kTasks; i += 2) hs[i] = {};
    });
    a.join();
    b.join();
    EXPECT_TRUE(pool.shutdown(30s));
  }
  int alive = 0;
  for (auto& w : outputs) alive += w.expired() ? 0 : 1;
  EXPECT_EQ(alive, 0) << "outputs leaked";
}

int spin_for(std::chrono::microseconds d) {
  const auto end = Clock::now() + d;
  int n = 0;
  do {
    n += 1;
  } while (Clock::now() < end);
  return n;  // >= 1 even if the thread was descheduled past `end`
}

TEST(ThreadPoolStressTest, StealingUnderImbalance) {
  Watchdog dog(120s, "StealingUnderImbalance");
  ThreadPool pool(2);
  // One worker gets every task (spawned from a task running on it); the
  // other can only steal.
  auto root = [](ThreadPool* p, int n) -> Task<int> {
    std::vector<JoinHandle<int>> hs;
    for (int i = 0; i < n; ++i) {
      hs.push_back(p->spawn(lazy([] { return spin_for(std::chrono::microseconds(20)) > 0 ? 1 : 0; })));
    }
    int s = 0;
    for (auto& h : hs) s += (co_await std::move(h)).value();
    co_return s;
  };
  for (int round = 0; round < 5; ++round) {
    EXPECT_EQ(pool.block_on(pool.spawn(root(&pool, 2000))).value(), 2000);
  }
  const ExecutorCounters c = pool.counters();
  EXPECT_GT(c.stolen, 0u);
  std::printf("stealing: spawned=%llu polled=%llu stolen=%llu parked=%llu\n",
              static_cast<unsigned long long>(c.spawned), static_cast<unsigned long long>(c.polled),
              static_cast<unsigned long long>(c.stolen), static_cast<unsigned long long>(c.parked));
}

// A task that keeps yielding until told to stop; counts destructions.
class Spinner {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  Spinner(std::atomic<int>* destroyed) : destroyed_(destroyed) {}
  Spinner(Spinner&& o) noexcept : destroyed_(std::exchange(o.destroyed_, nullptr)) {}
  ~Spinner() {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  Poll<int> poll(Context& cx) {
    cx.waker().wake_by_ref();
    return Pending{};
  }

 private:
  std::atomic<int>* destroyed_;
};

TEST(ThreadPoolStressTest, ShutdownWithPendingTasksRunsEveryDestructor) {
  const int kRounds = kSanitized ? 20 : 100;
  Watchdog dog(120s, "ShutdownWithPendingTasksRunsEveryDestructor");
  for (int r = 0; r < kRounds; ++r) {
    std::atomic<int> destroyed{0};
    std::vector<JoinHandle<int>> hs;
    std::vector<std::thread> wakers;
    int spawned = 0;
    {
      ThreadPool pool(2);
      std::vector<std::shared_ptr<WakerSlot>> slots;
      for (int i = 0; i < 200; ++i) {
        if (i % 3 == 0) {
          hs.push_back(pool.spawn(Spinner(&destroyed)));  // always running or scheduled
        } else {
          auto open = std::make_shared<std::atomic<bool>>(false);
          auto slot = std::make_shared<WakerSlot>();
          slots.push_back(slot);
          if (i % 3 == 1) {
            hs.push_back(pool.spawn(Gated(open, slot, &destroyed)));  // idle forever
          } else {
            pool.spawn_detached(Gated(open, slot, &destroyed));
          }
        }
        spawned += 1;
      }
      // Wakes racing with the shutdown.
      wakers.emplace_back([slots] {
        for (int k = 0; k < 50; ++k) {
          for (auto& s : slots) s->wake();
        }
      });
      std::this_thread::sleep_for(std::chrono::microseconds(200 * (r % 5)));
    }  // ~ThreadPool: cancel everything
    for (auto& t : wakers) t.join();
    EXPECT_EQ(destroyed.load(), spawned);
    for (auto& h : hs) EXPECT_TRUE(block_on(std::move(h)).is_cancelled());
  }
}

// shutdown() is thread-safe: several threads shutting the pool down at once,
// while workers are still taking unbound tasks (spawned from outside) from
// the inject queue. None may cancel tasks before the workers have stopped
// (a worker would then bind a task onto a closed shard). Every task is run
// or cancelled exactly once, and nothing stays alive.
TEST(ThreadPoolStressTest, ConcurrentShutdownsWhileWorkersBindTasks) {
  const int kRounds = kSanitized ? 20 : 100;
  Watchdog dog(120s, "ConcurrentShutdownsWhileWorkersBindTasks");
  for (int r = 0; r < kRounds; ++r) {
    std::atomic<int> destroyed{0};
    std::vector<JoinHandle<int>> hs;
    constexpr int kTasks = 300;
    {
      ThreadPool pool(2);
      for (int i = 0; i < kTasks; ++i) hs.push_back(pool.spawn(Spinner(&destroyed)));
      std::atomic<int> go{0};
      std::vector<std::thread> stoppers;
      for (int k = 0; k < 3; ++k) {
        stoppers.emplace_back([&] {
          go.fetch_add(1);
          while (go.load() < 3) std::this_thread::yield();
          (void)pool.shutdown();
        });
      }
      for (auto& t : stoppers) t.join();
      EXPECT_EQ(pool.live_tasks(), 0u);
    }
    EXPECT_EQ(destroyed.load(), kTasks);
    for (auto& h : hs) {
      JoinResult<int> res = block_on(std::move(h));
      EXPECT_TRUE(res.is_ok() || res.is_cancelled());
    }
  }
}

}  // namespace
}  // namespace weft
