// watch under contention: one writer incrementing while three readers wait
// (changed(), a poll loop that cancels its changed() futures, and a
// has_changed() spinner); then close races (sender drop against waiting
// readers, receiver drops against closed()). Bounded by count and deadline.
// Run under tsan: ./bazelw test --config=tsan //channels:watch_stress_test
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "channels/watch.h"
#include "future/block_on.h"
#include "future/stream.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

constexpr auto kDeadline = std::chrono::seconds(40);

bool past(std::chrono::steady_clock::time_point start) {
  return std::chrono::steady_clock::now() - start > kDeadline;
}

TEST(WatchStressTest, OneWriterThreeReaders) {
  constexpr int kValues = 200000;
  const auto start = std::chrono::steady_clock::now();
  auto [tx, rx] = watch<std::int64_t>(0);
  std::atomic<std::int64_t> last_written{0};
  testing::CountingWaker cancel_waker;  // outlives the channel
  std::vector<std::int64_t> seen_last(3, -1);
  std::vector<std::int64_t> changes(3, 0);

  // Reader 0: block_on(changed()) then borrow_and_update.
  auto blocking_reader = [&](WatchReceiver<std::int64_t> r, int id) {
    std::int64_t last = *r.borrow_and_update();
    while (block_on(r.changed())) {
      const std::int64_t v = *r.borrow_and_update();
      ASSERT_GT(v, last) << "reader " << id << " saw a value go back";
      last = v;
      changes[id] += 1;
    }
    seen_last[id] = last;
  };
  // Reader 1: polls a changed() once with a counting waker and drops it
  // (cancellation racing the writer's wake-ups), then waits properly.
  auto cancelling_reader = [&](WatchReceiver<std::int64_t> r, int id) {
    std::int64_t last = *r.borrow_and_update();
    for (;;) {
      int outcome;  // 1 changed, 0 closed, -1 pending (then cancelled)
      {
        auto c = r.changed();
        Waker w = cancel_waker.waker();
        Context cx(w);
        auto p = c.poll(cx);
        outcome = p.is_pending() ? -1 : p.value().is_ok() ? 1 : 0;
      }  // a queued `c` is cancelled here: that loses nothing, so wait anew
      if (outcome == -1) outcome = block_on(r.changed()).is_ok() ? 1 : 0;
      if (outcome == 0) break;
      const std::int64_t v = *r.borrow_and_update();
      ASSERT_GT(v, last) << "reader " << id << " saw a value go back";
      last = v;
      changes[id] += 1;
    }
    seen_last[id] = last;
  };
  // Reader 2: never waits; has_changed() until Closed.
  auto spinning_reader = [&](WatchReceiver<std::int64_t> r, int id) {
    std::int64_t last = *r.borrow_and_update();
    for (;;) {
      auto hc = r.has_changed();
      if (!hc) break;
      if (!hc.value()) {
        std::this_thread::yield();
        continue;
      }
      const std::int64_t v = *r.borrow_and_update();
      ASSERT_GE(v, last) << "reader " << id << " saw a value go back";
      last = v;
      changes[id] += 1;
    }
    seen_last[id] = last;
  };

  std::thread r0(blocking_reader, rx, 0);
  std::thread r1(cancelling_reader, rx, 1);
  std::thread r2(spinning_reader, std::move(rx), 2);
  std::thread writer([&, tx = std::move(tx)]() mutable {
    std::int64_t i = 0;
    while (i < kValues && !past(start)) {
      i += 1;
      if (i % 2 == 0) {
        ASSERT_TRUE(tx.send(i).is_ok());
      } else {
        tx.send_modify([](std::int64_t& v) { v += 1; });
      }
      if (i % 64 == 0) std::this_thread::yield();  // let the readers in more often
    }
    last_written.store(i);
  });  // tx dropped at the end of the lambda's life: with the thread object
  writer.join();
  r0.join();
  r1.join();
  r2.join();
  const std::int64_t final_value = last_written.load();
  EXPECT_GT(final_value, 0);
  for (int id = 0; id < 3; ++id) {
    EXPECT_EQ(seen_last[id], final_value) << "reader " << id;
    EXPECT_GT(changes[id], 0) << "reader " << id;
  }
  EXPECT_EQ(cancel_waker.outstanding(), 0);
  std::printf("watch stress: %lld values; changes seen per reader: %lld %lld %lld\n",
              static_cast<long long>(final_value), static_cast<long long>(changes[0]),
              static_cast<long long>(changes[1]), static_cast<long long>(changes[2]));
}

// Sender drop against readers that are about to wait: every reader ends
// with Closed, having seen the last value.
TEST(WatchStressTest, SenderDropRacesWaitingReaders) {
  constexpr int kRounds = 2000;
  const auto start = std::chrono::steady_clock::now();
  int rounds = 0;
  for (; rounds < kRounds && !past(start); ++rounds) {
    auto [tx, rx] = watch<int>(0);
    const int last = 1 + rounds % 3;
    auto reader = [](WatchReceiver<int> r, int expect) {
      int got = 0;
      while (block_on(r.changed())) got = *r.borrow_and_update();
      if (r.has_changed().is_ok()) ADD_FAILURE() << "has_changed must be Err(Closed) after Closed";
      EXPECT_EQ(*r.borrow(), expect);
      EXPECT_LE(got, expect);
    };
    std::thread a(reader, rx, last);
    std::thread b(reader, std::move(rx), last);
    for (int i = 1; i <= last; ++i) EXPECT_TRUE(tx.send(i).is_ok());
    { auto gone = std::move(tx); }
    a.join();
    b.join();
  }
  EXPECT_GT(rounds, 0);
}

// Two sender copies on two threads publish their own increasing sequences
// (value = sequence * 2 + writer); readers see each writer's values in
// increasing order and Closed only after both copies are gone.
TEST(WatchStressTest, TwoSenderCopiesAgainstReaders) {
  constexpr int kEach = 20000;
  const auto start = std::chrono::steady_clock::now();
  auto [tx, rx] = watch<int>(-1);
  std::atomic<int> writers_done{0};
  auto writer = [&](WatchSender<int> w, int id) {
    for (int i = 0; i < kEach && !past(start); ++i) (void)w.send(i * 2 + id);
    writers_done.fetch_add(1);
  };  // the copy is dropped here
  auto reader = [&](WatchReceiver<int> r) {
    int last[2] = {-1, -1};
    int seen = 0;
    while (block_on(r.changed())) {
      const int v = *r.borrow_and_update();
      if (v < 0) continue;
      EXPECT_GT(v / 2, last[v % 2]) << "writer " << v % 2 << " went back";
      last[v % 2] = v / 2;
      ++seen;
    }
    EXPECT_EQ(writers_done.load(), 2);  // Closed only once both copies are gone
    EXPECT_GT(seen, 0);
  };
  std::thread r1(reader, rx);
  std::thread r2(reader, std::move(rx));
  std::thread w0(writer, tx, 0);
  std::thread w1(writer, std::move(tx), 1);
  w0.join();
  w1.join();
  r1.join();
  r2.join();
}

// wait_for against a writer: readers wait for ever larger thresholds (one
// blocking, one cancelling a first poll each time), each result satisfies
// its predicate and never goes back; after the sender is gone a predicate
// nothing satisfies ends with Closed; no waker is left behind.
TEST(WatchStressTest, WaitForThresholdsAgainstAWriter) {
  constexpr std::int64_t kValues = 100000;
  const auto start = std::chrono::steady_clock::now();
  auto [tx, rx] = watch<std::int64_t>(0);
  testing::CountingWaker cancel_waker;  // outlives the channel
  std::vector<std::int64_t> hits(2, 0);
  std::vector<int> closed_ok(2, 0);
  auto reader = [&](WatchReceiver<std::int64_t> r, int id) {
    std::int64_t last = 0;
    for (std::int64_t target = 1;; target += 1 + (target % 97)) {
      auto pred = [target](const std::int64_t& v) { return v >= target; };
      if (id == 1) {  // poll once and drop: a cancelled wait_for loses nothing
        auto f = r.wait_for(pred);
        Waker w = cancel_waker.waker();
        Context cx(w);
        (void)f.poll(cx);
      }
      auto res = block_on(r.wait_for(pred));
      if (!res.is_ok()) break;  // Closed: nothing will reach `target`
      const std::int64_t v = *res.value();
      ASSERT_GE(v, target) << "reader " << id << " got a value its predicate rejects";
      ASSERT_GE(v, last) << "reader " << id << " saw a value go back";
      last = v;
      hits[id] += 1;
    }
    // The sender is gone: a predicate the last value fails is Closed, one
    // it satisfies is still answered from the last value.
    auto never = block_on(r.wait_for([](const std::int64_t&) { return false; }));
    auto any = block_on(r.wait_for([](const std::int64_t&) { return true; }));
    closed_ok[id] = (!never.is_ok() && any.is_ok()) ? 1 : 0;
  };
  std::thread r0(reader, rx, 0);
  std::thread r1(reader, std::move(rx), 1);
  std::thread writer([&, tx = std::move(tx)]() mutable {
    for (std::int64_t i = 1; i <= kValues && !past(start); ++i) {
      ASSERT_TRUE(tx.send(i).is_ok());
      if (i % 64 == 0) std::this_thread::yield();
    }
  });
  writer.join();
  r0.join();
  r1.join();
  for (int id = 0; id < 2; ++id) {
    EXPECT_GT(hits[id], 0) << "reader " << id;
    EXPECT_EQ(closed_ok[id], 1) << "reader " << id;
  }
  EXPECT_EQ(cancel_waker.outstanding(), 0);
  std::printf("watch wait_for stress: thresholds met per reader: %lld %lld\n",
              static_cast<long long>(hits[0]), static_cast<long long>(hits[1]));
}

// Receiver drops (and copies) against the sender's closed() and sends.
TEST(WatchStressTest, ReceiverDropsRaceClosed) {
  constexpr int kRounds = 2000;
  const auto start = std::chrono::steady_clock::now();
  int rounds = 0;
  std::int64_t refused = 0;
  for (; rounds < kRounds && !past(start); ++rounds) {
    auto [tx, rx] = watch<int>(0);
    auto rx2 = rx;
    std::thread a([r = std::move(rx)]() mutable {
      auto copy = r;  // a copy made and dropped while others go
      (void)copy.has_changed();
    });
    std::thread b([r = std::move(rx2)]() mutable {
      auto c = r.changed();
      Context cx(noop_waker());
      (void)c.poll(cx);  // queued (or ready), then cancelled with the receiver
    });
    int i = 0;
    while (tx.send(++i).is_ok() && i < 50) {
    }
    block_on(tx.closed());
    EXPECT_EQ(tx.receiver_count(), 0u);
    auto r = tx.send(-1);
    EXPECT_TRUE(r.is_err());
    refused += i < 50 ? 1 : 0;
    a.join();
    b.join();
  }
  EXPECT_GT(rounds, 0);
  std::printf("watch close races: %d rounds, %lld with a send refused before 50\n", rounds,
              static_cast<long long>(refused));
}

// WatchStream on one thread while a writer publishes increasing values on
// another: every item is newer than the one before, the last item is the
// last value written, and the stream ends once the writer is gone.
TEST(WatchStressTest, StreamAgainstAWriter) {
  constexpr std::int64_t kValues = 100000;
  for (int round = 0; round < 3; ++round) {
    auto [tx, rx] = watch<std::int64_t>(0);
    WatchStream<std::int64_t> st(std::move(rx));
    std::thread writer([tx = std::move(tx)]() mutable {
      for (std::int64_t v = 1; v <= kValues; ++v) (void)tx.send(v);
    });  // the writer's sender goes with it: the stream then ends
    std::int64_t last = -1, items = 0;
    while (std::optional<std::int64_t> v = block_on(stream::next(st))) {
      EXPECT_GT(*v, last);  // (not ASSERT: the writer thread must be joined)
      last = *v;
      items += 1;
    }
    writer.join();
    EXPECT_EQ(last, kValues);
    EXPECT_GE(items, 2);  // the initial value, then at least the last
  }
}

}  // namespace
}  // namespace weft
