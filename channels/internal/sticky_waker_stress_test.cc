// StickyWaker under concurrent wakes (run under --config=tsan): producers
// publish and wake while the consumer re-registers (mostly the same waker,
// sometimes another one, sometimes after a take). The consumer sleeps only
// when it saw nothing new; a lost wake-up leaves it asleep with data
// pending, which the deadline turns into a failure instead of a hang.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "channels/internal/sticky_waker.h"
#include "future/testing/test_waker.h"
#include "future/waker.h"
#include "tools/base/sync.h"
#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

// A waker that models a task: wake sets a flag the consumer clears with an
// RMW before it looks (an executor's transition to "running"). Waking takes
// a moment (a short spin), which widens the window in which a second wake
// finds the first in progress. Two distinct data pointers give two wakers
// that do not `will_wake` each other.
struct FlagWaker {
  std::atomic<bool>* woken;
  std::atomic<int>* wakes;
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) { wake_by_ref(p); }
  static void wake_by_ref(const void* p) {
    const auto* self = static_cast<const FlagWaker*>(p);
    self->wakes->fetch_add(1, std::memory_order_relaxed);
    self->woken->store(true, std::memory_order_release);
    for (int i = 0; i < 50; ++i) sync::spin_hint();
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable{&clone, &wake, &wake_by_ref, &drop};
  Waker waker() const { return Waker::from_raw(RawWaker{this, &kVTable}); }
};

// Rounds in which every producer publishes one item and wakes, then waits
// until the consumer has seen the whole round: no later wake can cover for a
// lost one, so a lost wake-up leaves the consumer asleep (reported after a
// timeout instead of hanging). The consumer mostly re-registers the same
// waker, sometimes another one, sometimes after a take.
TEST(StickyWakerStressTest, NoLostWakeUpWhileReRegisteringReplacingAndTaking) {
  constexpr int kProducers = 3;
  constexpr int kRounds = 3000;
  constexpr int kTotal = kProducers * kRounds;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);

  StickyWaker sw;
  std::atomic<int> published{0};
  std::atomic<int> seen_shared{0};
  std::atomic<bool> woken{false};
  std::atomic<int> wakes{0};
  std::atomic<bool> abort{false};
  FlagWaker a{&woken, &wakes}, b{&woken, &wakes};
  const Waker wa = a.waker(), wb = b.waker();

  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&] {
      for (int r = 1; r <= kRounds && !abort.load(std::memory_order_acquire); ++r) {
        published.fetch_add(1, std::memory_order_release);
        sw.wake();
        while (seen_shared.load(std::memory_order_acquire) < r * kProducers &&
               !abort.load(std::memory_order_acquire)) {
          std::this_thread::yield();
        }
      }
    });
  }

  int seen = 0;
  int sleeps = 0;
  bool lost = false;
  bool timed_out = false;
  for (int round = 0; seen < kTotal && !timed_out; ++round) {
    (void)woken.exchange(false, std::memory_order_acq_rel);
    if (round % 97 == 0) (void)sw.take();  // stop waiting, then wait again
    sw.register_waker(round % 31 == 0 ? wb : wa);
    const int now = published.load(std::memory_order_acquire);
    if (now > seen) {
      seen = now;
      seen_shared.store(seen, std::memory_order_release);
      continue;
    }
    sleeps += 1;
    const auto give_up = std::min(deadline, std::chrono::steady_clock::now() + std::chrono::seconds(10));
    while (!woken.load(std::memory_order_acquire)) {
      if (std::chrono::steady_clock::now() > give_up) {
        lost = published.load(std::memory_order_acquire) > seen;
        timed_out = true;
        break;
      }
      std::this_thread::yield();
    }
  }
  abort.store(true, std::memory_order_release);
  for (auto& t : producers) t.join();
  EXPECT_FALSE(lost) << "a wake-up was lost: " << seen << " seen, " << published.load() << " published";
  EXPECT_EQ(seen, kTotal);
  EXPECT_GT(sleeps, 0);  // the consumer did sleep and was woken
  EXPECT_GT(wakes.load(), 0);
}

// Wakes racing a consumer that keeps replacing the waker: every wake reaches
// one of the registered wakers or the registrant; nothing is woken after the
// final take.
TEST(StickyWakerStressTest, TakeLeavesNothingRegistered) {
  constexpr int kRounds = 20000;
  StickyWaker sw;
  std::atomic<bool> woken{false};
  std::atomic<int> wakes{0};
  FlagWaker a{&woken, &wakes}, b{&woken, &wakes};
  const Waker wa = a.waker(), wb = b.waker();
  std::atomic<bool> stop{false};
  std::thread waker([&] {
    while (!stop.load(std::memory_order_acquire)) sw.wake();
  });
  for (int i = 0; i < kRounds; ++i) {
    sw.register_waker(i % 2 == 0 ? wa : wb);
    if (i % 3 == 0) (void)sw.take();
  }
  (void)sw.take();
  stop.store(true, std::memory_order_release);
  waker.join();
  const int before = wakes.load();
  sw.wake();
  EXPECT_EQ(wakes.load(), before);
}

// wake_final racing the consumer's replacements and takes: once both are
// done, the slot holds no waker (a lost kFinal would leave the last
// registered one there, keeping its task alive).
TEST(StickyWakerStressTest, WakeFinalLeavesNoWakerBehind) {
  constexpr int kRounds = 300;
  for (int round = 0; round < kRounds; ++round) {
    testing::CountingWaker a, b;
    {
      const Waker wa = a.waker(), wb = b.waker();
      StickyWaker sw;
      std::atomic<bool> done{false};
      std::thread waker([&] {
        for (int i = 0; i < 50; ++i) sw.wake();
        sw.wake_final();
        done.store(true, std::memory_order_release);
      });
      for (int i = 0; !done.load(std::memory_order_acquire); ++i) {
        sw.register_waker(i % 2 == 0 ? wa : wb);
        if (i % 7 == 0) (void)sw.take();
      }
      waker.join();
      sw.register_waker(wa);  // after the final wake: not stored
      EXPECT_EQ(a.outstanding(), 1) << "round " << round;  // only `wa` itself
      EXPECT_EQ(b.outstanding(), 1) << "round " << round;
    }
    if (::testing::Test::HasFailure()) break;
  }
}

}  // namespace
}  // namespace weft::channels_internal
