// Stress: children of a FuturesUnordered woken from several threads while the
// set is polled (through block_on, which parks between wakes), pushed to
// (buffer_unordered), and dropped. Bounded in rounds and in time; run it
// under --config=tsan and --config=asan.
#include "future/futures_unordered.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "future/block_on.h"
#include "future/stream.h"
#include "gtest/gtest.h"
#include "iter/iter.h"

namespace weft {
namespace {

constexpr int kThreads = 4;
constexpr auto kTimeLimit = std::chrono::seconds(20);

// One child's shared state: the child registers its waker under `mu`; a waker
// thread sets `ready` and wakes.
struct Slot {
  std::mutex mu;
  Waker waker;
  std::atomic<bool> ready{false};
  std::atomic<int> polls{0};

  // A clone of the registered waker (noop if none yet).
  Waker clone() {
    std::lock_guard<std::mutex> lock(mu);
    return waker;
  }
  Waker take() {
    std::lock_guard<std::mutex> lock(mu);
    return std::move(waker);
  }
};

class StressChild {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  StressChild(Slot* s, int v) : s_(s), v_(v) {}

  Poll<int> poll(Context& cx) {
    s_->polls.fetch_add(1, std::memory_order_relaxed);
    if (s_->ready.load(std::memory_order_acquire)) return v_;
    {
      std::lock_guard<std::mutex> lock(s_->mu);
      register_waker(s_->waker, cx.waker());
    }
    // Re-check after registering: a waker thread that set `ready` before we
    // registered took no waker (or the old one) and may not wake us.
    if (s_->ready.load(std::memory_order_acquire)) return v_;
    return Pending{};
  }

 private:
  Slot* s_;
  int v_;
};

// Each thread: for its share of the slots, in random order: a few spurious
// wakes (from clones, concurrently with other threads' wakes), then ready +
// wake.
void wake_all(std::vector<std::unique_ptr<Slot>>& slots, int t, unsigned seed) {
  std::vector<std::size_t> mine;
  for (std::size_t i = t; i < slots.size(); i += kThreads) mine.push_back(i);
  std::mt19937 rng(seed);
  std::shuffle(mine.begin(), mine.end(), rng);
  for (std::size_t i : mine) {
    Slot& s = *slots[i];
    for (int k = 0; k < 2; ++k) {
      // Spurious wakes of a neighbour's child too (another thread's slot).
      Slot& other = *slots[(i + 1) % slots.size()];
      other.clone().wake_by_ref();
      s.clone().wake_by_ref();
    }
    s.ready.store(true, std::memory_order_release);
    Waker w = s.take();
    std::move(w).wake();
  }
}

std::vector<std::unique_ptr<Slot>> make_slots(int n) {
  std::vector<std::unique_ptr<Slot>> slots;
  for (int i = 0; i < n; ++i) slots.push_back(std::make_unique<Slot>());
  return slots;
}

TEST(FuturesUnorderedStressTest, ChildrenWokenFromManyThreadsAllComplete) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  constexpr int kChildren = 1000;
  constexpr int kRounds = 50;
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    auto slots = make_slots(kChildren);
    FuturesUnordered<StressChild> set;
    long expect = 0;
    for (int i = 0; i < kChildren; ++i) {
      set.push(StressChild(slots[i].get(), i));
      expect += i;
    }
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&slots, t, round] { wake_all(slots, t, static_cast<unsigned>(round * 31 + t)); });
    }
    std::size_t items = 0;
    const long sum = block_on(stream::fold(stream::by_ref(set), 0L, [&items](long a, int x) {
      ++items;
      return a + x;
    }));
    for (auto& th : threads) th.join();
    EXPECT_EQ(items, static_cast<std::size_t>(kChildren));
    EXPECT_EQ(sum, expect);
    EXPECT_TRUE(set.empty());
    for (auto& s : slots) s->take();  // drop leftover clones before the slots go
  }
}

TEST(FuturesUnorderedStressTest, BufferUnorderedWithConcurrentWakes) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  constexpr int kChildren = 2000;
  constexpr int kRounds = 10;
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    auto slots = make_slots(kChildren);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&slots, t, round] { wake_all(slots, t, static_cast<unsigned>(round * 17 + t)); });
    }
    auto s = stream::iter(iter::range(0, kChildren)) |
             stream::map([&slots](int i) { return StressChild(slots[i].get(), 1); }) |
             stream::buffer_unordered(64) | stream::fold(0, std::plus<>());
    EXPECT_EQ(block_on(std::move(s)), kChildren);
    for (auto& th : threads) th.join();
    for (auto& sl : slots) sl->take();
  }
}

TEST(FuturesUnorderedStressTest, ChildWakersUsedWhileTheSetIsDropped) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeLimit;
  constexpr int kChildren = 200;
  constexpr int kRounds = 200;
  for (int round = 0; round < kRounds && std::chrono::steady_clock::now() < deadline; ++round) {
    auto slots = make_slots(kChildren);
    auto set = std::make_unique<FuturesUnordered<StressChild>>();
    for (int i = 0; i < kChildren; ++i) set->push(StressChild(slots[i].get(), i));
    {
      Context cx(noop_waker());
      EXPECT_TRUE(set->poll_next(cx).is_pending());  // every child registered a node waker
    }
    std::atomic<bool> go{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&slots, &go, t] {
        std::vector<Waker> kept;
        for (std::size_t i = t; i < slots.size(); i += kThreads) kept.push_back(slots[i]->clone());
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        for (int k = 0; k < 20; ++k) {
          for (Waker& w : kept) w.wake_by_ref();
        }
        kept.clear();  // the last references to some nodes: freed here, on this thread
      });
    }
    go.store(true, std::memory_order_release);
    // Poll a little while the wakes come in, then drop the set mid-way.
    for (int k = 0; k < 5; ++k) {
      Context cx(noop_waker());
      EXPECT_TRUE(set->poll_next(cx).is_pending());
    }
    set.reset();
    for (auto& th : threads) th.join();
    for (auto& s : slots) s->take();
  }
}

}  // namespace
}  // namespace weft
