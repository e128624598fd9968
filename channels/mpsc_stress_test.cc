// Stress: N producer threads x 1 consumer, bounded and unbounded, with
// per-producer sequence numbers and a checksum (nothing lost, nothing
// duplicated, per-producer order kept), random cancellation of pending send
// and recv futures, and close races (every value delivered or handed back).
// Run under --config=tsan. Every loop is bounded in count and by a deadline.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <random>
#include <thread>
#include <vector>

#include "channels/mpsc.h"
#include "future/block_on.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

#if defined(__SANITIZE_THREAD__)
#define WEFT_MPSC_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_MPSC_TSAN 1
#endif
#endif
#ifndef WEFT_MPSC_TSAN
#define WEFT_MPSC_TSAN 0
#endif

namespace weft {
namespace {

using Clock = std::chrono::steady_clock;

// 10^6 messages in total normally; 2 * 10^5 under tsan (about 10x slower).
constexpr std::uint64_t kTotal = WEFT_MPSC_TSAN ? 200000 : 1000000;
// The unbounded exchange: the 10^7 messages (2 * 10^5 under tsan).
constexpr std::uint64_t kUnboundedTotal = WEFT_MPSC_TSAN ? 200000 : 10000000;
constexpr int kProducers = 4;
constexpr auto kBudget = std::chrono::seconds(30);

std::uint64_t encode(int producer, std::uint64_t seq) { return (static_cast<std::uint64_t>(producer) << 40) | seq; }
int producer_of(std::uint64_t v) { return static_cast<int>(v >> 40); }
std::uint64_t seq_of(std::uint64_t v) { return v & ((std::uint64_t{1} << 40) - 1); }

// Checks what one consumer saw: per-producer order and no gaps.
struct Ledger {
  std::vector<std::uint64_t> next = std::vector<std::uint64_t>(kProducers, 0);
  std::uint64_t count = 0;
  std::uint64_t checksum = 0;
  bool ordered = true;

  void see(std::uint64_t v) {
    const int p = producer_of(v);
    if (p >= kProducers || seq_of(v) != next[p]) ordered = false;
    if (p < kProducers) next[p] = seq_of(v) + 1;
    count += 1;
    checksum += v * 2654435761u;
  }
};

std::uint64_t expected_checksum(const std::vector<std::uint64_t>& sent) {
  std::uint64_t sum = 0;
  for (int p = 0; p < kProducers; ++p) {
    for (std::uint64_t s = 0; s < sent[p]; ++s) sum += encode(p, s) * 2654435761u;
  }
  return sum;
}

// Checks a bounded run: everything sent was received once, in order per
// producer; real progress was made; every permit is back. Returns the total.
std::uint64_t check_bounded_run(const Ledger& l, const std::vector<std::uint64_t>& sent, std::size_t capacity,
                                std::size_t free_slots, std::uint64_t min_total) {
  std::uint64_t total = 0;
  for (auto v : sent) total += v;
  EXPECT_TRUE(l.ordered) << "capacity " << capacity;
  EXPECT_EQ(l.count, total) << "capacity " << capacity;
  EXPECT_EQ(l.checksum, expected_checksum(sent));
  EXPECT_GT(total, min_total);      // made real progress before any deadline
  EXPECT_EQ(free_slots, capacity);  // every permit back
  return total;
}

// The consumer: mostly block_on(recv), sometimes polls a recv once and drops
// it if pending (cancel-safety: nothing may be lost).
template <class Rx>
Ledger consume(Rx& rx, testing::CountingWaker& w, std::uint64_t seed,
               std::atomic<std::uint64_t>* consumed = nullptr) {
  Ledger l;
  std::mt19937_64 rng(seed);
  const auto deadline = Clock::now() + kBudget + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (rng() % 16 == 0) {
      auto f = rx.recv();
      auto p = testing::poll_once(f, w.borrowed());
      if (p.is_pending()) continue;  // cancelled mid-wait
      if (!p.value().has_value()) break;
      l.see(*p.value());
      continue;
    }
    std::optional<std::uint64_t> v = block_on(rx.recv());
    if (!v.has_value()) break;
    l.see(*v);
    if (consumed != nullptr && (l.count & 255) == 0) consumed->store(l.count, std::memory_order_relaxed);
  }
  return l;
}

enum class SendMode { kBlocking, kTry, kReserve, kCancelling, kReserveMany, kCancellingReserveMany };

// One bounded producer: sends `n` values (sequence 0..n-1) mixing send,
// try_send, reserve + permit.send, reserve_many + sends (some of its slots
// left unused and given back), and send / reserve_many futures dropped while
// pending (then retried: a dropped send never delivers, a dropped
// reserve_many gives back what it was granted).
std::uint64_t produce_bounded(MpscSender<std::uint64_t> tx, int p, std::uint64_t n, Clock::time_point deadline,
                              testing::CountingWaker& w, std::atomic<std::uint64_t>& cancelled) {
  std::mt19937_64 rng(p * 7919 + 1);
  std::uint64_t s = 0;
  while (s < n && Clock::now() < deadline) {
    const std::uint64_t v = encode(p, s);
    switch (static_cast<SendMode>(rng() % 6)) {
      case SendMode::kBlocking:
        if (block_on(tx.send(v)).is_err()) return s;
        s += 1;
        break;
      case SendMode::kTry: {
        auto r = tx.try_send(v);
        if (r.is_ok()) {
          s += 1;
        } else if (r.error().is_closed()) {
          return s;
        } else {
          std::this_thread::yield();
        }
        break;
      }
      case SendMode::kReserve: {
        auto permit = block_on(tx.reserve());
        if (permit.is_err()) return s;
        permit->send(v);
        s += 1;
        break;
      }
      case SendMode::kCancelling: {
        auto f = tx.send(v);
        auto r = testing::poll_once(f, w.borrowed());
        if (r.is_ready()) {
          if (r.value().is_err()) return s;
          s += 1;
        } else {
          cancelled.fetch_add(1);  // dropped while waiting: retried
        }
        break;
      }
      case SendMode::kReserveMany: {
        const std::size_t k = 1 + rng() % std::min<std::size_t>(3, tx.max_capacity());
        auto permits = block_on(tx.reserve_many(k));
        if (permits.is_err()) return s;
        const std::size_t use = rng() % (k + 1);  // the rest go back unused
        for (std::size_t i = 0; i < use && s < n; ++i) permits->send(encode(p, s++));
        break;
      }
      case SendMode::kCancellingReserveMany: {
        auto f = tx.reserve_many(std::min<std::size_t>(2, tx.max_capacity()));
        auto r = testing::poll_once(f, w.borrowed());
        if (r.is_ready()) {
          if (r.value().is_err()) return s;
          r.value()->send(v);
          s += 1;
        } else {
          cancelled.fetch_add(1);  // dropped while queued: its partial grant goes back
        }
        break;
      }
    }
  }
  return s;
}

// Producers that only try_send (yielding when full) never queue, so the
// receiver keeps holding permits back all along: senders take them from a
// receiver that parks or is busy (the steal and the receiver's batch flush
// racing on `flushed_`). Nothing lost or duplicated, order kept, every
// permit back at the end.
TEST(MpscStressTest, BoundedTrySendOnlyKeepsHoldingBackAndStrandsNothing) {
  for (std::size_t capacity : {std::size_t{10}, std::size_t{64}}) {
    const auto deadline = Clock::now() + kBudget / 4;
    testing::CountingWaker w;  // outlives rx
    auto [tx, rx] = mpsc<std::uint64_t>(capacity);
    std::vector<std::uint64_t> sent(kProducers, 0);
    const std::uint64_t per = kTotal / 4 / kProducers;
    std::vector<std::thread> ts;
    for (int p = 0; p < kProducers; ++p) {
      ts.emplace_back([&, p, tx = tx]() mutable {
        std::uint64_t s = 0;
        while (s < per && Clock::now() < deadline) {
          auto r = tx.try_send(encode(p, s));
          if (r.is_ok()) {
            s += 1;
          } else if (r.error().is_full()) {
            std::this_thread::yield();
          } else {
            ADD_FAILURE() << "try_send on an open channel: closed";
            break;
          }
        }
        sent[p] = s;
      });
    }
    { auto gone = std::move(tx); }
    Ledger l = consume(rx, w, 7);
    for (auto& t : ts) t.join();
    check_bounded_run(l, sent, capacity, rx.capacity(), kTotal / 400);
    { auto gone = std::move(rx); }
    EXPECT_EQ(w.outstanding(), 0);
  }
}

TEST(MpscStressTest, BoundedManyProducersOneConsumer) {
  // 1: every permit back at once; 10 and 64: held back in batches of 4.
  for (std::size_t capacity : {std::size_t{1}, std::size_t{10}, std::size_t{64}}) {
    const auto deadline = Clock::now() + kBudget / 3;
    std::deque<testing::CountingWaker> wakers(kProducers + 1);  // outlive the threads and rx
    auto [tx, rx] = mpsc<std::uint64_t>(capacity);
    std::atomic<std::uint64_t> cancelled{0};
    std::vector<std::uint64_t> sent(kProducers, 0);
    const std::uint64_t per = (capacity == 1 ? kTotal / 2 : kTotal) / kProducers;  // >= 10^5 under tsan
    std::vector<std::thread> ts;
    for (int p = 0; p < kProducers; ++p) {
      ts.emplace_back([&, p, tx = tx]() mutable {
        sent[p] = produce_bounded(std::move(tx), p, per, deadline, wakers[p], cancelled);
      });
    }
    { auto gone = std::move(tx); }
    Ledger l = consume(rx, wakers[kProducers], 42);
    for (auto& t : ts) t.join();
    const std::uint64_t total = check_bounded_run(l, sent, capacity, rx.capacity(), kTotal / 100);
    { auto gone = std::move(rx); }       // the receiver keeps its last waker until dropped
    for (auto& w : wakers) EXPECT_EQ(w.outstanding(), 0);
    std::printf("bounded cap %zu: %llu messages, %llu send futures cancelled\n", capacity,
                static_cast<unsigned long long>(total), static_cast<unsigned long long>(cancelled.load()));
  }
}

TEST(MpscStressTest, UnboundedManyProducersOneConsumer) {
  const auto deadline = Clock::now() + kBudget;
  std::deque<testing::CountingWaker> wakers(1);  // outlives the receiver
  auto [tx, rx] = unbounded_mpsc<std::uint64_t>();
  std::vector<std::uint64_t> sent(kProducers, 0);
  const std::uint64_t per = kUnboundedTotal / kProducers;
  // Producers stay at most ~kMaxBacklog ahead of the consumer, so that what
  // was sent when the deadline stops them (slow machines, qemu) is drained
  // in time, and memory stays bounded.
  constexpr std::uint64_t kMaxBacklog = 1 << 16;
  std::atomic<std::uint64_t> consumed{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p) {
    ts.emplace_back([&, p, tx = tx]() mutable {
      std::uint64_t s = 0;
      for (; s < per && Clock::now() < deadline; ++s) {
        while (s * kProducers > consumed.load(std::memory_order_relaxed) + kMaxBacklog &&
               Clock::now() < deadline) {
          std::this_thread::yield();
        }
        ASSERT_TRUE(tx.send(encode(p, s)).is_ok());
        if (s % 1024 == 0) std::this_thread::yield();  // vary the interleaving
      }
      sent[p] = s;
    });
  }
  { auto gone = std::move(tx); }
  Ledger l = consume(rx, wakers[0], 7, &consumed);
  for (auto& t : ts) t.join();
  std::uint64_t total = 0;
  for (auto s : sent) total += s;
  EXPECT_TRUE(l.ordered);
  EXPECT_EQ(l.count, total);
  EXPECT_EQ(l.checksum, expected_checksum(sent));
  { auto gone = std::move(rx); }  // the receiver keeps its last waker until dropped
  EXPECT_EQ(wakers[0].outstanding(), 0);
  std::printf("unbounded: %llu of %llu messages\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(kUnboundedTotal));
}

// The receiver closes while producers send: each value is either received or
// handed back in the error, none lost, none twice.
TEST(MpscStressTest, CloseRacesDeliverOrHandBackEveryValue) {
  const auto deadline = Clock::now() + kBudget / 2;
  const int rounds = WEFT_MPSC_TSAN ? 20 : 100;
  for (int round = 0; round < rounds && Clock::now() < deadline; ++round) {
    const bool bounded = round % 2 == 0;
    std::atomic<std::uint64_t> attempted{0}, handed_back{0};
    std::atomic<std::uint64_t> back_sum{0};
    std::uint64_t delivered = 0, delivered_sum = 0, attempted_sum_expected = 0;
    std::vector<std::thread> ts;
    std::vector<std::uint64_t> attempted_by(kProducers, 0);
    auto run_consumer = [&](auto& rx) {
      const std::uint64_t close_after = 50 + round * 37 % 500;
      while (Clock::now() < deadline + std::chrono::seconds(10)) {
        if (delivered == close_after) rx.close();
        auto v = block_on(rx.recv());
        if (!v.has_value()) break;
        delivered += 1;
        delivered_sum += *v;
      }
    };
    if (bounded) {
      auto [tx, rx] = mpsc<std::uint64_t>(8);
      for (int p = 0; p < kProducers; ++p) {
        ts.emplace_back([&, p, tx = tx]() mutable {
          std::uint64_t s = 0;
          for (; s < 100000 && Clock::now() < deadline; ++s) {
            const std::uint64_t v = encode(p, s);
            attempted_by[p] = s + 1;
            if (s % 3 == 0) {
              auto permit = block_on(tx.reserve());
              if (permit.is_err()) {  // closed: the value was never taken
                handed_back.fetch_add(1);
                back_sum.fetch_add(v);
                break;
              }
              permit->send(v);
            } else {
              auto r = block_on(tx.send(v));
              if (r.is_err()) {
                handed_back.fetch_add(1);
                back_sum.fetch_add(std::move(r.error()).into_inner());
                break;
              }
            }
          }
        });
      }
      { auto gone = std::move(tx); }
      run_consumer(rx);
    } else {
      auto [tx, rx] = unbounded_mpsc<std::uint64_t>();
      for (int p = 0; p < kProducers; ++p) {
        ts.emplace_back([&, p, tx = tx]() mutable {
          for (std::uint64_t s = 0; s < 100000 && Clock::now() < deadline; ++s) {
            const std::uint64_t v = encode(p, s);
            attempted_by[p] = s + 1;
            auto r = tx.send(v);
            if (r.is_err()) {
              handed_back.fetch_add(1);
              back_sum.fetch_add(std::move(r.error()).into_inner());
              break;
            }
          }
        });
      }
      { auto gone = std::move(tx); }
      run_consumer(rx);
    }
    for (auto& t : ts) t.join();
    std::uint64_t total = 0;
    for (int p = 0; p < kProducers; ++p) {
      total += attempted_by[p];
      for (std::uint64_t s = 0; s < attempted_by[p]; ++s) attempted_sum_expected += encode(p, s);
    }
    ASSERT_EQ(delivered + handed_back.load(), total) << "round " << round << (bounded ? " bounded" : " unbounded");
    ASSERT_EQ(delivered_sum + back_sum.load(), attempted_sum_expected) << "round " << round;
  }
}

// The receiver is dropped (not closed) while producers send: every value is
// destroyed exactly once, delivered ones by the consumer.
struct Counted {
  static inline std::atomic<std::int64_t> live{0};
  std::uint64_t v;
  explicit Counted(std::uint64_t x) : v(x) { live.fetch_add(1); }
  Counted(Counted&& o) noexcept : v(o.v) { live.fetch_add(1); }
  Counted(const Counted&) = delete;
  ~Counted() { live.fetch_sub(1); }
};

TEST(MpscStressTest, ReceiverDropRacesDestroyEveryValueOnce) {
  const auto deadline = Clock::now() + kBudget / 4;
  const int rounds = WEFT_MPSC_TSAN ? 20 : 100;
  for (int round = 0; round < rounds && Clock::now() < deadline; ++round) {
    Counted::live.store(0);
    std::vector<std::thread> ts;
    {
      auto [tx, rx] = mpsc<Counted>(4);
      auto [utx, urx] = unbounded_mpsc<Counted>();
      for (int p = 0; p < 2; ++p) {
        ts.emplace_back([&, tx = tx, utx = utx]() mutable {
          for (std::uint64_t s = 0; s < 100000 && Clock::now() < deadline; ++s) {
            if (block_on(tx.send(Counted(s))).is_err()) break;
            if (utx.send(Counted(s)).is_err()) break;
          }
        });
      }
      { auto gone = std::move(tx); }
      { auto gone = std::move(utx); }
      for (int i = 0; i < 20 + round; ++i) {
        if (!block_on(rx.recv()).has_value()) break;
        (void)urx.try_recv();
      }
      { auto gone = std::move(rx); }  // producers fail from here on
      { auto gone = std::move(urx); }
      for (auto& t : ts) t.join();
    }
    ASSERT_EQ(Counted::live.load(), 0) << "round " << round;
  }
}

// Weak senders upgrading while the last strong sender goes: an upgrade
// either fails (the count reached zero: the receiver may already have seen
// "closed") or yields a sender whose values are all delivered before the
// receiver sees the end. Nothing is sent after the receiver saw "closed".
TEST(MpscStressTest, WeakUpgradesRaceTheLastSenderDrop) {
  const auto deadline = Clock::now() + kBudget / 4;
  const int rounds = WEFT_MPSC_TSAN ? 100 : 1000;
  int upgraded_total = 0;
  for (int round = 0; round < rounds && Clock::now() < deadline; ++round) {
    auto [tx, rx] = unbounded_mpsc<int>();
    std::vector<std::thread> ts;
    std::atomic<int> sent{0};
    std::atomic<int> upgrades{0};
    for (int p = 0; p < 3; ++p) {
      ts.emplace_back([&, weak = tx.downgrade()] {
        for (int i = 0; i < 50; ++i) {
          std::optional<UnboundedMpscSender<int>> up = weak.upgrade();
          if (!up.has_value()) return;  // closed for good
          upgrades.fetch_add(1);
          if (up->send(1).is_ok()) sent.fetch_add(1);
        }
      });
    }
    if (round % 2 == 0) std::this_thread::yield();
    { auto gone = std::move(tx); }
    int got = 0;
    while (block_on(rx.recv()).has_value()) ++got;  // ends once every upgraded sender is gone
    for (auto& t : ts) t.join();
    EXPECT_EQ(got, sent.load()) << "round " << round;
    EXPECT_EQ(rx.sender_strong_count(), 0u);
    upgraded_total += upgrades.load();
  }
  EXPECT_GT(upgraded_total, 0);
}

// M consumers sharing the one receiver through a mutex (each recv is made
// under the lock): nothing lost or duplicated (order per consumer is not
// checked: the consumers interleave).
TEST(MpscStressTest, ConsumersSharingTheReceiverThroughAMutex) {
  constexpr int kConsumers = 2;
  const auto deadline = Clock::now() + kBudget / 2;
  auto [tx, rx] = mpsc<std::uint64_t>(32);
  std::mutex mu;
  std::vector<std::uint64_t> sent(kProducers, 0);
  std::vector<std::thread> ts;
  const std::uint64_t per = kTotal / 10 / kProducers;
  for (int p = 0; p < kProducers; ++p) {
    ts.emplace_back([&, p, tx = tx]() mutable {
      std::uint64_t s = 0;
      for (; s < per && Clock::now() < deadline; ++s) {
        if (block_on(tx.send(encode(p, s))).is_err()) break;
      }
      sent[p] = s;
    });
  }
  { auto gone = std::move(tx); }
  std::vector<std::vector<std::uint8_t>> seen(kProducers, std::vector<std::uint8_t>(per, 0));
  std::atomic<bool> duplicate{false};
  std::atomic<std::uint64_t> count{0};
  std::vector<std::thread> cs;
  for (int c = 0; c < kConsumers; ++c) {
    cs.emplace_back([&] {
      while (Clock::now() < deadline + std::chrono::seconds(10)) {
        std::optional<std::uint64_t> v;
        {
          std::lock_guard<std::mutex> lock(mu);
          v = block_on(rx.recv());
          if (v.has_value()) {
            auto& slot = seen[producer_of(*v)][seq_of(*v)];
            if (slot != 0) duplicate = true;
            slot = 1;
          }
        }
        if (!v.has_value()) break;
        count.fetch_add(1);
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& t : cs) t.join();
  std::uint64_t total = 0;
  for (int p = 0; p < kProducers; ++p) {
    total += sent[p];
    for (std::uint64_t s = 0; s < sent[p]; ++s) ASSERT_EQ(seen[p][s], 1) << p << ":" << s;
  }
  EXPECT_FALSE(duplicate.load());
  EXPECT_EQ(count.load(), total);
}

// The receiver holds permits back (capacity 64: batches of 4). Each round
// fills the channel; the consumer takes one value (its permit held back)
// and then waits for the producer, whose send needs exactly that slot and
// starts waiting at the same moment: the sender's heavy fence and the
// receiver's light one (asymmetric_fence.h) must not lose the slot. A lost
// slot shows as a send that never completes (the round times out).
TEST(MpscStressTest, HeldBackPermitReachesASenderThatStartsWaitingConcurrently) {
  constexpr int kRounds = 2000;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  auto [tx, rx] = mpsc<int>(64);
  std::atomic<int> round{0};
  std::atomic<int> sent{0};
  std::thread producer([&tx = tx, &round, &sent] {
    for (int r = 1; r <= kRounds; ++r) {
      for (int cur; (cur = round.load(std::memory_order_acquire)) != r;) {
        if (cur < 0) return;  // the consumer stopped early
        std::this_thread::yield();
      }
      if (!tx.blocking_send(r).is_ok()) return;  // the consumer gave up
      sent.store(r, std::memory_order_release);
    }
  });
  int stuck = 0;
  bool failed = false;
  for (int r = 1; r <= kRounds && stuck == 0 && !failed; ++r) {
    for (int i = 0; i < 64 && !failed; ++i) {
      if (!tx.try_send(-1).is_ok()) {
        ADD_FAILURE() << "round " << r << ": filler " << i << " found the channel full";
        failed = true;
      }
    }
    if (failed) break;
    round.store(r, std::memory_order_release);
    if (r % 2 == 0) std::this_thread::yield();  // vary who goes first
    auto first = rx.try_recv();
    if (!first.is_ok() || first.value() != -1) {
      ADD_FAILURE() << "round " << r << ": the first value taken is not a filler";
      failed = true;
      break;
    }
    while (sent.load(std::memory_order_acquire) != r) {
      if (std::chrono::steady_clock::now() > deadline) {
        stuck = r;
        break;
      }
      std::this_thread::yield();
    }
    // Drain: 63 fillers and the producer's value.
    int got = 0;
    bool seen = false;
    for (;;) {
      auto v = rx.try_recv();
      if (v.is_err()) break;
      seen = seen || v.value() == r;
      got += 1;
    }
    if (stuck == 0) {
      EXPECT_EQ(got, 64);
      EXPECT_TRUE(seen);
    }
  }
  EXPECT_EQ(stuck, 0) << "a send never got the slot freed by the receive in round " << stuck;
  round.store(-1, std::memory_order_release);  // releases a producer waiting for a round
  rx.close();                                  // and one stuck in its send
  producer.join();
}

}  // namespace
}  // namespace weft
