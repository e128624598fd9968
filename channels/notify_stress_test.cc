// Stress: Notify under real threads (run under --config=tsan; tag "stress").
// Every wait is bounded by a deadline, so a lost wake-up fails the test.
#include <atomic>
#include <chrono>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "channels/internal/deadline_block_on.h"
#include "channels/notify.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::block_on_until;
using channels_internal::DeadlineParker;
using channels_internal::StressClock;

// Producer/consumer handshake: each side publishes its turn, then
// notify_one()s the other, which waits with the lost-wake-up-free pattern
// (notified() before checking the condition). 100k round trips.
TEST(NotifyStressTest, PingPongHandshakeLosesNoWakeup) {
  constexpr int kRounds = 100'000;
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  Notify ping, pong;
  std::atomic<int> served{0};  // rounds the consumer has answered
  std::atomic<int> asked{0};   // rounds the producer has asked
  std::atomic<bool> failed{false};
  DeadlineParker pa, pb;

  std::thread consumer([&] {
    for (int i = 1; i <= kRounds && !failed.load(); ++i) {
      for (;;) {
        auto n = ping.notified();
        if (asked.load(std::memory_order_acquire) >= i) break;
        if (!block_on_until(n, pb, deadline)) {
          failed.store(true);
          ADD_FAILURE() << "consumer: lost wake-up at round " << i;
          return;
        }
      }
      served.store(i, std::memory_order_release);
      pong.notify_one();
    }
  });
  int i = 1;
  for (; i <= kRounds && !failed.load(); ++i) {
    asked.store(i, std::memory_order_release);
    ping.notify_one();
    for (;;) {
      auto n = pong.notified();
      if (served.load(std::memory_order_acquire) >= i) break;
      if (!block_on_until(n, pa, deadline)) {
        failed.store(true);
        ADD_FAILURE() << "producer: lost wake-up at round " << i;
        break;
      }
    }
  }
  consumer.join();
  EXPECT_EQ(served.load(), kRounds);
}

// Pure permit ping-pong: no condition variable at all, only notify_one's
// permit carries the turn (a lost or duplicated permit deadlocks or races).
TEST(NotifyStressTest, PermitPingPong) {
  constexpr int kRounds = 100'000;
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  Notify ping, pong;
  DeadlineParker pa, pb;
  std::atomic<bool> failed{false};
  std::atomic<int> turn{0};  // checked: strictly alternates

  std::thread other([&] {
    for (int i = 0; i < kRounds && !failed.load(); ++i) {
      auto n = ping.notified();
      if (!block_on_until(n, pb, deadline)) {
        failed.store(true);
        ADD_FAILURE() << "other: lost permit at round " << i;
        return;
      }
      EXPECT_EQ(turn.fetch_add(1), 2 * i + 1);
      pong.notify_one();
    }
  });
  for (int i = 0; i < kRounds && !failed.load(); ++i) {
    EXPECT_EQ(turn.fetch_add(1), 2 * i);
    ping.notify_one();
    auto n = pong.notified();
    if (!block_on_until(n, pa, deadline)) {
      failed.store(true);
      ADD_FAILURE() << "main: lost permit at round " << i;
    }
  }
  other.join();
  EXPECT_EQ(turn.load(), 2 * kRounds);
}

// Several consumers wait; each one that is woken drops its Notified at
// random instead of polling it. Each notify_one() must still end in exactly
// one completed Notified: a dropped one passes its notification on.
TEST(NotifyStressTest, DroppedNotifiedPassesItsNotificationOn) {
  constexpr int kRounds = 20'000;
  constexpr int kConsumers = 3;
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  Notify notify;
  std::atomic<int> completed{0};
  std::atomic<int> dropped_after_wake{0};  // dropped holding a notification
  std::atomic<bool> stop{false};
  std::deque<DeadlineParker> parkers(kConsumers);

  std::vector<std::thread> consumers;
  for (int c = 0; c < kConsumers; ++c) {
    consumers.emplace_back([&, c] {
      std::minstd_rand rng(1234 + c);
      DeadlineParker& parker = parkers[c];
      Waker w = parker.waker();
      while (!stop.load(std::memory_order_acquire)) {
        std::optional<Notified> n(notify.notified());
        Context cx(w);
        if (n->poll(cx).is_ready()) {
          completed.fetch_add(1, std::memory_order_acq_rel);
          continue;
        }
        // Wait (briefly, to notice `stop`) for a wake.
        if (!parker.park_until(StressClock::now() + std::chrono::milliseconds(2))) {
          if (rng() % 2 == 0) continue;  // drop it un-notified (a plain unlink)
        }
        if (rng() % 3 == 0) {
          // enable() on a registered Notified: "has it been notified?"
          if (n->enable()) dropped_after_wake.fetch_add(1, std::memory_order_relaxed);
          continue;  // drop it, notified or not: must pass a notify_one on
        }
        for (;;) {
          if (n->poll(cx).is_ready()) {
            completed.fetch_add(1, std::memory_order_acq_rel);
            break;
          }
          if (!parker.park_until(StressClock::now() + std::chrono::milliseconds(2)) &&
              stop.load(std::memory_order_acquire)) {
            break;
          }
        }
      }
    });
  }
  bool ok = true;
  for (int i = 1; i <= kRounds && ok; ++i) {
    notify.notify_one();
    while (completed.load(std::memory_order_acquire) < i) {
      if (StressClock::now() > deadline) {
        ADD_FAILURE() << "notification " << i << " was lost (completed " << completed.load() << ")";
        ok = false;
        break;
      }
      std::this_thread::yield();
    }
  }
  stop.store(true, std::memory_order_release);
  for (auto& t : consumers) t.join();
  // A consumer may have taken the permit of the last round after it ended:
  // never more completions than notifications.
  EXPECT_EQ(completed.load(), kRounds);
  EXPECT_GT(dropped_after_wake.load(), 0);
}

// notify_waiters() wakes every registered waiter, while waiters register,
// drop and re-register concurrently.
TEST(NotifyStressTest, NotifyWaitersWakesEveryRegisteredWaiter) {
  constexpr int kRounds = 2'000;
  constexpr int kWaiters = 4;
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  Notify notify;
  std::atomic<int> registered{0};
  std::atomic<int> woken{0};
  std::atomic<bool> failed{false};
  std::deque<DeadlineParker> parkers(kWaiters);
  std::vector<std::thread> threads;
  for (int t = 0; t < kWaiters; ++t) {
    threads.emplace_back([&, t] {
      for (int r = 0; r < kRounds && !failed.load(); ++r) {
        {  // a Notified that is dropped while registered: unlinks
          auto noise = notify.notified();
          (void)noise.enable();
        }
        auto n = notify.notified();
        (void)n.enable();
        registered.fetch_add(1, std::memory_order_acq_rel);
        if (!block_on_until(n, parkers[t], deadline)) {
          failed.store(true);
          ADD_FAILURE() << "waiter " << t << " missed notify_waiters in round " << r;
          return;
        }
        woken.fetch_add(1, std::memory_order_acq_rel);
        // Wait for the round to end before registering for the next one.
        while (woken.load(std::memory_order_acquire) < (r + 1) * kWaiters && !failed.load()) {
          if (StressClock::now() > deadline) return;
          std::this_thread::yield();
        }
      }
    });
  }
  for (int r = 0; r < kRounds && !failed.load(); ++r) {
    while (registered.load(std::memory_order_acquire) < (r + 1) * kWaiters && !failed.load()) {
      if (StressClock::now() > deadline) {
        failed.store(true);
        ADD_FAILURE() << "waiters did not register in round " << r;
        break;
      }
      std::this_thread::yield();
    }
    notify.notify_waiters();
    while (woken.load(std::memory_order_acquire) < (r + 1) * kWaiters && !failed.load()) {
      if (StressClock::now() > deadline) {
        failed.store(true);
        ADD_FAILURE() << "not every waiter was woken in round " << r;
        break;
      }
      std::this_thread::yield();
    }
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(woken.load(), kRounds * kWaiters);
}

}  // namespace
}  // namespace weft
