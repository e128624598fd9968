// Stress tests for block_on and its Parker: concurrent wakes from many
// threads, and ping-pong completions racing with park. Bounded in count and
// time (each loop also stops at a deadline); run under --config=tsan.
#include "future/block_on.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "future/internal/parker.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTimeLimit = std::chrono::seconds(20);

// Ready once `threads * wakes_each` increments have happened; on its first
// poll it starts `threads` threads, each with its own waker clone, that
// increment and then wake, `wakes_each` times.
class Countdown {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  Countdown(int threads, int wakes_each, std::vector<std::thread>* started)
      : threads_(threads), wakes_each_(wakes_each), started_(started) {}

  Poll<int> poll(Context& cx) {
    polls_ += 1;
    if (!started_->empty() || threads_ == 0) {
      if (count_->load(std::memory_order_acquire) == threads_ * wakes_each_) return polls_;
      return Pending{};
    }
    for (int t = 0; t < threads_; ++t) {
      started_->emplace_back([w = cx.waker(), count = count_, n = wakes_each_] {
        for (int i = 0; i < n; ++i) {
          count->fetch_add(1, std::memory_order_release);
          if (i % 2 == 0) {
            w.wake_by_ref();
          } else {
            Waker c = w;  // clone + consuming wake, also concurrently
            std::move(c).wake();
          }
        }
      });
    }
    return Pending{};
  }

 private:
  int threads_;
  int wakes_each_;
  std::vector<std::thread>* started_;
  int polls_ = 0;
  std::shared_ptr<std::atomic<int>> count_ = std::make_shared<std::atomic<int>>(0);
};
static_assert(Future<Countdown> && Unpin<Countdown>);

TEST(BlockOnStressTest, ConcurrentWakesFromManyThreadsAreNeverLost) {
  constexpr int kThreads = 4;
  constexpr int kWakes = 10000;
  constexpr int kRounds = 50;
  const auto deadline = Clock::now() + kTimeLimit;
  for (int round = 0; round < kRounds && Clock::now() < deadline; ++round) {
    std::vector<std::thread> threads;
    const int polls = block_on(Countdown(kThreads, kWakes, &threads));
    for (auto& t : threads) t.join();
    // Never lost (we returned), and coalesced: at most one poll per wake.
    EXPECT_GE(polls, 2);
    EXPECT_LE(polls, kThreads * kWakes + 1);
  }
}

// A one-shot slot completed by a helper thread.
struct Slot {
  std::mutex mu;
  bool done = false;
  Waker waker;
};

class SlotFuture {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  explicit SlotFuture(Slot* s) : s_(s) {}
  Poll<Unit> poll(Context& cx) {
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->done) return Unit{};
    register_waker(s_->waker, cx.waker());
    return Pending{};
  }

 private:
  Slot* s_;
};
static_assert(Future<SlotFuture> && Unpin<SlotFuture>);

// The helper completes each slot as soon as it is published, so completion
// races with the first poll, with park, and (its wake lands late) with the
// next block_on on the same thread's cached parker.
TEST(BlockOnStressTest, PingPongCompletionsRaceWithPark) {
  constexpr int kIterations = 50000;
  std::atomic<Slot*> published{nullptr};
  std::atomic<bool> stop{false};
  std::thread helper([&] {
    while (!stop.load(std::memory_order_acquire)) {
      Slot* s = published.exchange(nullptr, std::memory_order_acq_rel);
      if (s == nullptr) {
        std::this_thread::yield();
        continue;
      }
      Waker w;
      {
        std::lock_guard<std::mutex> lock(s->mu);
        s->done = true;
        w = std::move(s->waker);
      }
      std::move(w).wake();  // may run after block_on returned: the waker keeps the parker alive
    }
  });
  const auto deadline = Clock::now() + kTimeLimit;
  int done = 0;
  for (; done < kIterations && Clock::now() < deadline; ++done) {
    Slot s;
    published.store(&s, std::memory_order_release);
    block_on(SlotFuture(&s));
    // `s` dies here: the helper is done with it once done == true was seen,
    // except for its wake, which touches only the waker it moved out.
    std::lock_guard<std::mutex> lock(s.mu);
  }
  stop.store(true, std::memory_order_release);
  helper.join();
  EXPECT_GT(done, 0);
}

// Many threads, each running its own block_on loop on tasks woken by a
// shared helper; wakers travel between threads.
Task<int> await_slot(Slot* s, int v) {
  co_await SlotFuture(s);
  co_return v;
}

TEST(BlockOnStressTest, ManyBlockingThreadsOneWaker) {
  constexpr int kThreads = 4;
  constexpr int kIterations = 5000;
  std::atomic<Slot*> queue[kThreads] = {};
  std::atomic<int> finished{0};
  std::thread helper([&] {
    while (finished.load(std::memory_order_acquire) < kThreads) {
      bool any = false;
      for (auto& q : queue) {
        Slot* s = q.exchange(nullptr, std::memory_order_acq_rel);
        if (s == nullptr) continue;
        any = true;
        Waker w;
        {
          std::lock_guard<std::mutex> lock(s->mu);
          s->done = true;
          w = std::move(s->waker);
        }
        std::move(w).wake();
      }
      if (!any) std::this_thread::yield();
    }
  });
  const auto deadline = Clock::now() + kTimeLimit;
  std::vector<std::thread> workers;
  std::atomic<long> sum{0};
  for (int t = 0; t < kThreads; ++t) {
    workers.emplace_back([&, t] {
      for (int i = 0; i < kIterations && Clock::now() < deadline; ++i) {
        Slot s;
        queue[t].store(&s, std::memory_order_release);
        sum.fetch_add(block_on(await_slot(&s, 1)), std::memory_order_relaxed);
        std::lock_guard<std::mutex> lock(s.mu);
      }
      finished.fetch_add(1, std::memory_order_release);
    });
  }
  for (auto& w : workers) w.join();
  helper.join();
  EXPECT_GT(sum.load(), 0);
  EXPECT_LE(sum.load(), long{kThreads} * kIterations);
}

}  // namespace
}  // namespace weft
