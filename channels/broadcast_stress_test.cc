// Stress: broadcast with 2 senders and 3 receivers on their own threads (run
// under --config=tsan; tag "stress"). Each receiver checks per-sender order
// and that received + lagged == sent; values are counted so none leaks.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "channels/broadcast.h"
#include "channels/internal/deadline_block_on.h"
#include "future/stream.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using channels_internal::block_on_until;
using channels_internal::DeadlineParker;
using channels_internal::StressClock;

std::atomic<long> g_live{0};

struct Msg {
  int sender;
  long seq;
  Msg(int s, long q) : sender(s), seq(q) { g_live.fetch_add(1, std::memory_order_relaxed); }
  Msg(const Msg& o) : sender(o.sender), seq(o.seq) {
    g_live.fetch_add(1, std::memory_order_relaxed);
  }
  Msg(Msg&& o) noexcept : sender(o.sender), seq(o.seq) {
    g_live.fetch_add(1, std::memory_order_relaxed);
  }
  Msg& operator=(const Msg&) = default;
  ~Msg() { g_live.fetch_sub(1, std::memory_order_relaxed); }
};

constexpr int kSenders = 2;
constexpr int kReceivers = 3;

// Senders yield every `yield_every` sends: often, so receivers mostly wait
// (the wake path), or seldom, so they mostly lag (the overwrite path).
void run_fan_out(std::size_t capacity, long kPerSender, long yield_every) {
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  g_live.store(0);
  std::deque<DeadlineParker> parkers(kReceivers);  // outlive every thread
  {
    auto [tx, rx] = broadcast<Msg>(capacity);
    std::vector<BroadcastReceiver<Msg>> rxs;
    rxs.push_back(std::move(rx));
    while (static_cast<int>(rxs.size()) < kReceivers) rxs.push_back(tx.subscribe());
    std::vector<BroadcastSender<Msg>> txs;
    txs.push_back(tx);
    txs.push_back(std::move(tx));

    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    std::vector<long> received(kReceivers, 0), lagged(kReceivers, 0), lag_events(kReceivers, 0);
    for (int r = 0; r < kReceivers; ++r) {
      threads.emplace_back([&, r, rx = std::move(rxs[r])]() mutable {
        long last[kSenders] = {-1, -1};
        for (;;) {
          auto f = rx.recv();
          std::optional<Result<Msg, RecvError>> out = block_on_until(f, parkers[r], deadline);
          if (!out) {
            failed.store(true);
            ADD_FAILURE() << "receiver " << r << " stalled (lost wake-up?) after " << received[r]
                          << " values";
            return;
          }
          if (out->is_err()) {
            if (out->error().is_closed()) break;
            lagged[r] += static_cast<long>(out->error().lagged_by());
            lag_events[r] += 1;
            continue;
          }
          const Msg& m = out->value();
          ASSERT_TRUE(m.sender >= 0 && m.sender < kSenders);
          EXPECT_GT(m.seq, last[m.sender])
              << "receiver " << r << " saw sender " << m.sender << " out of order";
          last[m.sender] = m.seq;
          received[r] += 1;
        }
      });
    }
    for (int s = 0; s < kSenders; ++s) {
      threads.emplace_back([&, s, tx = std::move(txs[s])]() mutable {
        for (long i = 0; i < kPerSender && !failed.load(std::memory_order_relaxed); ++i) {
          EXPECT_EQ(tx.send(Msg(s, i)).value(), static_cast<std::size_t>(kReceivers));
          if (i % yield_every == 0) std::this_thread::yield();
        }
      });  // the sender is dropped here: the last one closes the channel
    }
    for (auto& t : threads) t.join();
    for (int r = 0; r < kReceivers; ++r) {
      EXPECT_EQ(received[r] + lagged[r], kSenders * kPerSender) << "receiver " << r;
      EXPECT_GT(received[r], 0);
    }
    long all_lag_events = 0;
    for (long e : lag_events) all_lag_events += e;
    int wakes = 0;
    for (auto& p : parkers) wakes += p.wakes();
    std::printf(
        "capacity %zu, yield every %ld: received %ld/%ld/%ld, lag events %ld, receiver wakes %d\n",
        capacity, yield_every, received[0], received[1], received[2], all_lag_events, wakes);
  }
  EXPECT_EQ(g_live.load(), 0) << "a value leaked";
}

TEST(BroadcastStressTest, TwoSendersThreeReceiversMostlyLagging) { run_fan_out(16, 50'000, 64); }

TEST(BroadcastStressTest, TwoSendersThreeReceiversMostlyWaiting) { run_fan_out(64, 20'000, 1); }

// Receivers come and go (drop, resubscribe) while senders send: no value
// leaks and every live receiver stays consistent.
TEST(BroadcastStressTest, ReceiversComeAndGoWithoutLeaks) {
  constexpr long kPerSender = 20'000;
  const auto deadline = StressClock::now() + std::chrono::seconds(120);
  g_live.store(0);
  std::deque<DeadlineParker> parkers(kReceivers);
  {
    auto [tx, rx0] = broadcast<Msg>(8);
    std::atomic<int> senders_done{0};
    std::vector<std::thread> threads;
    for (int r = 0; r < kReceivers; ++r) {
      threads.emplace_back([&, r, rx = tx.subscribe()]() mutable {
        std::minstd_rand rng(99 + r);
        long last[kSenders] = {-1, -1};
        for (;;) {
          if (rng() % 200 == 0) {  // start over: drop this receiver's unread values
            rx = rx.resubscribe();
            last[0] = last[1] = -1;
          }
          std::optional<Result<Msg, RecvError>> out;
          if (rng() % 2 == 0) {
            auto f = rx.recv();
            out = block_on_until(f, parkers[r], deadline);
            if (!out) {
              ADD_FAILURE() << "receiver " << r << " stalled";
              return;
            }
          } else {
            Result<Msg, TryRecvError> t = rx.try_recv();
            if (t.is_ok()) {
              out.emplace(std::move(t).value());
            } else if (t.error().is_closed()) {
              break;
            } else if (t.error().is_lagged()) {
              continue;
            } else {
              std::this_thread::yield();
              continue;
            }
          }
          if (out->is_err()) {
            if (out->error().is_closed()) break;
            continue;
          }
          const Msg& m = out->value();
          EXPECT_GT(m.seq, last[m.sender]);
          last[m.sender] = m.seq;
        }
      });
    }
    { auto gone = std::move(rx0); }
    for (int s = 0; s < kSenders; ++s) {
      threads.emplace_back(
          [&, s, tx = (s == 0 ? BroadcastSender<Msg>(tx) : std::move(tx))]() mutable {
            for (long i = 0; i < kPerSender; ++i) {
              (void)tx.send(Msg(s, i));  // may find no receiver for a moment: Err
              if (i % 32 == 0) std::this_thread::yield();
            }
            senders_done.fetch_add(1);
          });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(senders_done.load(), kSenders);
  }
  EXPECT_EQ(g_live.load(), 0) << "a value leaked";
}

// `closed()` awaited on threads while receivers (and resubscriptions) come
// and go on others: every waiter wakes once the last receiver is gone, and
// never while one is alive at its final check.
TEST(BroadcastStressTest, SenderClosedRacesReceiverDrops) {
  constexpr int kRounds = 300;
  constexpr int kWatchers = 2;
  constexpr int kDroppers = 3;
  const auto deadline = StressClock::now() + std::chrono::seconds(60);
  std::deque<DeadlineParker> parkers(kWatchers);
  for (int round = 0; round < kRounds; ++round) {
    auto [tx, rx0] = broadcast<int>(4);
    std::vector<BroadcastReceiver<int>> rxs;
    for (int d = 0; d < kDroppers; ++d) rxs.push_back(tx.subscribe());
    std::atomic<int> woken{0};
    std::vector<std::thread> ts;
    for (int w = 0; w < kWatchers; ++w) {
      ts.emplace_back([&, w] {
        auto f = tx.closed();
        if (!block_on_until(f, parkers[w], deadline)) {
          ADD_FAILURE() << "closed() never completed in round " << round;
          return;
        }
        EXPECT_TRUE(tx.is_closed());
        woken.fetch_add(1);
      });
    }
    for (int d = 0; d < kDroppers; ++d) {
      ts.emplace_back([&, d, rx = std::move(rxs[d])]() mutable {
        (void)tx.send(d);
        if ((round + d) % 3 == 0) rx = rx.resubscribe();  // a drop and a subscribe
        std::this_thread::yield();
        { auto gone = std::move(rx); }
      });
    }
    { auto gone = std::move(rx0); }
    for (auto& t : ts) t.join();
    EXPECT_EQ(woken.load(), kWatchers);
  }
}

// BroadcastStream on two threads while two senders publish: per sender the
// values come in order, lags are items (never a hang), and both streams end
// once the senders are gone.
TEST(BroadcastStressTest, StreamsAgainstTwoSenders) {
  constexpr long kPerSender = 30'000;
  const auto deadline = StressClock::now() + std::chrono::seconds(60);
  auto [tx, rx0] = broadcast<Msg>(16);
  std::deque<DeadlineParker> parkers(2);
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&, r, st = BroadcastStream<Msg>(tx.subscribe())]() mutable {
      long last[kSenders] = {-1, -1};
      for (;;) {
        auto f = stream::next(st);
        auto out = block_on_until(f, parkers[r], deadline);
        if (!out) {
          ADD_FAILURE() << "stream " << r << " stalled";
          return;
        }
        if (!out->has_value()) break;  // ended
        const Result<Msg, RecvError>& item = **out;
        if (item.is_err()) {
          EXPECT_TRUE(item.error().is_lagged());
          continue;
        }
        EXPECT_GT(item.value().seq, last[item.value().sender]);
        last[item.value().sender] = item.value().seq;
      }
    });
  }
  { auto gone = std::move(rx0); }
  std::vector<std::thread> senders;
  for (int s = 0; s < kSenders; ++s) {
    senders.emplace_back([s, tx = (s == 0 ? BroadcastSender<Msg>(tx) : std::move(tx))]() mutable {
      for (long i = 0; i < kPerSender; ++i) {
        (void)tx.send(Msg(s, i));
        if (i % 64 == 0) std::this_thread::yield();
      }
    });
  }
  for (auto& t : senders) t.join();
  for (auto& t : readers) t.join();
}

}  // namespace
}  // namespace weft
