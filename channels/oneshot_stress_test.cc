// Races every pair of oneshot operations across threads: send / drop unsent
// / wait for closed on sender threads against receive / try_recv / close /
// drop / cancel-after-pending on receiver threads, 100k channels (or until a
// deadline). Checks exactly-once delivery or a clean error for every pair,
// that every value is destroyed exactly once, and that no waker is left.
// Run under tsan: ./bazelw test --config=tsan //channels:oneshot_stress_test
#include <array>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <utility>
#include <vector>

#include "channels/oneshot.h"
#include "future/block_on.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

constexpr int kBatch = 1000;
constexpr int kBatches = 100;  // 100k channels
constexpr auto kDeadline = std::chrono::seconds(60);

// Per batch: how often the value with id i was destroyed while owning it.
std::array<std::atomic<int>, kBatch> g_final_destroys;
std::atomic<std::int64_t> g_live{0};

// A value that knows whether it is the owner (not moved from) and counts
// the owner's destruction per id.
struct Value {
  int id;
  bool owner = true;
  explicit Value(int i) : id(i) { g_live.fetch_add(1, std::memory_order_relaxed); }
  Value(Value&& o) noexcept : id(o.id), owner(std::exchange(o.owner, false)) {
    g_live.fetch_add(1, std::memory_order_relaxed);
  }
  Value(const Value&) = delete;
  ~Value() {
    g_live.fetch_sub(1, std::memory_order_relaxed);
    if (owner) g_final_destroys[id].fetch_add(1, std::memory_order_relaxed);
  }
};

enum class TxDid : std::uint8_t { kNothing, kSent, kSendFailed, kDropped };
enum class RxGot : std::uint8_t { kNothing, kValue, kClosed, kEmptyThenDropped, kDropped };

// Sender actions (by pair index): 0 send; 1 drop unsent; 2 poll_closed once,
// then send; 3 block until closed, then send (only when the receiver will
// drop or close, else it is 0).
// Receiver actions: 0 block_on(rx); 1 try_recv a few times then drop;
// 2 drop at once; 3 close then block_on(rx); 4 poll once (pending) then drop.
int rx_action(int i) { return i % 5; }
int tx_action(int i) {
  const int a = (i / 5) % 4;
  return (a == 3 && rx_action(i) == 0) ? 0 : a;
}

TEST(OneshotStressTest, EveryOperationPairRaces) {
  const auto start = std::chrono::steady_clock::now();
  testing::CountingWaker tx_waker;  // outlive every channel
  testing::CountingWaker rx_waker;
  int batches_run = 0;
  std::int64_t delivered = 0, failed_sends = 0, closed_receives = 0;

  for (int b = 0; b < kBatches && std::chrono::steady_clock::now() - start < kDeadline; ++b) {
    batches_run += 1;
    std::vector<OneshotSender<Value>> txs;
    std::vector<OneshotReceiver<Value>> rxs;
    txs.reserve(kBatch);
    rxs.reserve(kBatch);
    for (int i = 0; i < kBatch; ++i) {
      auto [tx, rx] = oneshot<Value>();
      txs.push_back(std::move(tx));
      rxs.push_back(std::move(rx));
      g_final_destroys[i].store(0, std::memory_order_relaxed);
    }
    std::vector<TxDid> tx_did(kBatch, TxDid::kNothing);
    std::vector<RxGot> rx_got(kBatch, RxGot::kNothing);
    std::vector<int> got_id(kBatch, -1);
    std::barrier sync(4);

    // Two sender threads (even / odd pairs) and two receiver threads.
    auto sender = [&](int parity) {
      sync.arrive_and_wait();
      for (int i = parity; i < kBatch; i += 2) {
        OneshotSender<Value> tx = std::move(txs[i]);
        switch (tx_action(i)) {
          case 1:
            tx = {};
            tx_did[i] = TxDid::kDropped;
            continue;
          case 2: {
            Waker w = tx_waker.waker();
            Context cx(w);
            (void)tx.poll_closed(cx);
            break;
          }
          case 3:
            block_on(tx.closed());
            EXPECT_TRUE(tx.is_closed());
            break;
          default:
            break;
        }
        auto r = tx.send(Value(i));
        if (r.is_ok()) {
          tx_did[i] = TxDid::kSent;
        } else {
          EXPECT_EQ(r.error().value.id, i);
          tx_did[i] = TxDid::kSendFailed;
        }
      }
    };
    auto receiver = [&](int parity) {
      sync.arrive_and_wait();
      for (int i = parity; i < kBatch; i += 2) {
        OneshotReceiver<Value> rx = std::move(rxs[i]);
        auto record = [&](Result<Value, RecvError>& r) {
          if (r.is_ok()) {
            got_id[i] = r.value().id;
            rx_got[i] = RxGot::kValue;
          } else {
            rx_got[i] = RxGot::kClosed;
          }
        };
        switch (rx_action(i)) {
          case 0: {
            auto r = block_on(rx);
            record(r);
            break;
          }
          case 1: {
            rx_got[i] = RxGot::kEmptyThenDropped;
            for (int k = 0; k < 3; ++k) {
              auto r = rx.try_recv();
              if (r.is_ok()) {
                got_id[i] = r.value().id;
                rx_got[i] = RxGot::kValue;
                break;
              }
              if (r.error().is_closed()) {
                rx_got[i] = RxGot::kClosed;
                break;
              }
              std::this_thread::yield();
            }
            break;
          }
          case 2:
            rx_got[i] = RxGot::kDropped;
            break;
          case 3: {
            rx.close();
            auto r = block_on(rx);
            record(r);
            break;
          }
          case 4: {
            Waker w = rx_waker.waker();
            Context cx(w);
            auto p = rx.poll(cx);
            if (p.is_ready()) {
              record(p.value());
            } else {
              rx_got[i] = RxGot::kDropped;  // cancelled while pending
            }
            break;
          }
        }
      }  // rx dropped here
    };
    std::thread t0(sender, 0), t1(sender, 1), t2(receiver, 0), t3(receiver, 1);
    t0.join();
    t1.join();
    t2.join();
    t3.join();
    txs.clear();
    rxs.clear();

    for (int i = 0; i < kBatch; ++i) {
      SCOPED_TRACE(::testing::Message() << "batch " << b << " pair " << i << " tx action "
                                        << tx_action(i) << " rx action " << rx_action(i));
      const TxDid t = tx_did[i];
      const RxGot r = rx_got[i];
      ASSERT_NE(t, TxDid::kNothing);
      ASSERT_NE(r, RxGot::kNothing);
      if (r == RxGot::kValue) {
        ASSERT_EQ(t, TxDid::kSent);
        ASSERT_EQ(got_id[i], i);
        delivered += 1;
      }
      if (r == RxGot::kClosed) closed_receives += 1;
      if (t == TxDid::kSendFailed) failed_sends += 1;
      // A receiver that waited to the end gets the value iff it was sent.
      if (rx_action(i) == 0 || rx_action(i) == 3) {
        ASSERT_EQ(t == TxDid::kSent, r == RxGot::kValue);
      }
      // Nobody closed: the send cannot fail.
      if (rx_action(i) == 0) {
        ASSERT_NE(t, TxDid::kSendFailed);
      }
      // Every value made was destroyed exactly once (received, handed back,
      // or dropped in the channel).
      const bool made = tx_action(i) != 1;
      ASSERT_EQ(g_final_destroys[i].load(), made ? 1 : 0);
    }
    ASSERT_EQ(g_live.load(), 0);
  }
  EXPECT_EQ(tx_waker.outstanding(), 0);
  EXPECT_EQ(rx_waker.outstanding(), 0);
  EXPECT_GE(batches_run, 1);
  EXPECT_GT(delivered, 0);
  EXPECT_GT(failed_sends, 0);
  EXPECT_GT(closed_receives, 0);
  std::printf(
      "oneshot stress: %d channels, %lld delivered, %lld sends refused, %lld closed receives\n",
      batches_run * kBatch, static_cast<long long>(delivered), static_cast<long long>(failed_sends),
      static_cast<long long>(closed_receives));
}

// Sender drop against receiver drop with nothing else going on: whichever
// goes last frees the state (a leak or double free shows under tsan/asan).
TEST(OneshotStressTest, DropAgainstDrop) {
  const auto start = std::chrono::steady_clock::now();
  constexpr int kPairs = 20000;
  std::vector<OneshotSender<Value>> txs;
  std::vector<OneshotReceiver<Value>> rxs;
  for (int i = 0; i < kPairs; ++i) {
    auto [tx, rx] = oneshot<Value>();
    txs.push_back(std::move(tx));
    rxs.push_back(std::move(rx));
  }
  std::atomic<bool> go{false};
  std::thread a([&] {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < kPairs && std::chrono::steady_clock::now() - start < kDeadline; ++i)
      txs[i] = {};
  });
  std::thread c([&] {
    while (!go.load()) std::this_thread::yield();
    for (int i = 0; i < kPairs && std::chrono::steady_clock::now() - start < kDeadline; ++i)
      rxs[i] = {};
  });
  go.store(true);
  a.join();
  c.join();
  txs.clear();
  rxs.clear();
  EXPECT_EQ(g_live.load(), 0);
}

}  // namespace
}  // namespace weft
