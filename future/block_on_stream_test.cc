#include "future/block_on_stream.h"

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/async_generator.h"
#include "future/ready.h"
#include "future/stream.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"
#include "iter/iter.h"

namespace weft {
namespace {

using testing::PendingOnce;

// A stream fed by another thread: Pending (waker registered) while empty.
struct ThreadFeed {
  std::mutex mu;
  std::deque<int> q;
  bool closed = false;
  Waker waker;
  int polls = 0;  // guarded by mu

  void push(int v) {
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      q.push_back(v);
      w = std::move(waker);
    }
    std::move(w).wake();
  }
  void close() {
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      closed = true;
      w = std::move(waker);
    }
    std::move(w).wake();
  }
};

struct ThreadFeedStream {
  using Item = int;
  static constexpr bool kUnpin = true;
  ThreadFeed* f;
  PollNext<int> poll_next(Context& cx) {
    std::lock_guard<std::mutex> lock(f->mu);
    ++f->polls;
    if (!f->q.empty()) {
      int v = f->q.front();
      f->q.pop_front();
      return std::optional<int>(v);
    }
    if (f->closed) return std::nullopt;
    register_waker(f->waker, cx.waker());
    return Pending{};
  }
};

using Blocking = BlockingStream<stream::Iter<iter::Range<int>>>;
static_assert(iter::Iterator<Blocking>);
static_assert(std::is_same_v<iter::ItemOf<Blocking>, int>);
static_assert(iter::Iterator<BlockingStream<stream::Iter<iter::Range<int>>&>>);

TEST(BlockOnStreamTest, HeaderExample) {
  int sum = 0;
  for (int x : weft::block_on_stream(weft::stream::iter(weft::iter::range(1, 4)))) sum += x;
  EXPECT_EQ(sum, 6);
}

TEST(BlockOnStreamTest, ParksBetweenItemsWokenFromAnotherThread) {
  ThreadFeed feed;
  constexpr int kItems = 200;
  std::thread producer([&feed] {
    for (int i = 0; i < kItems; ++i) {
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      feed.push(i);
    }
    feed.close();
  });
  std::vector<int> got;
  for (int x : block_on_stream(ThreadFeedStream{&feed})) got.push_back(x);
  producer.join();
  ASSERT_EQ(got.size(), static_cast<std::size_t>(kItems));
  for (int i = 0; i < kItems; ++i) EXPECT_EQ(got[i], i);
  std::lock_guard<std::mutex> lock(feed.mu);
  // No busy polling: at most one Pending poll per item (plus the end).
  EXPECT_LE(feed.polls, 2 * kItems + 2);
}

TEST(BlockOnStreamTest, IsAnIteratorWithEveryAdaptor) {
  auto evens = block_on_stream(stream::iter(iter::range(0, 10))).filter([](int x) { return x % 2 == 0; });
  EXPECT_EQ(std::move(evens).map([](int x) { return x * 10; }).sum(), 200);
}

TEST(BlockOnStreamTest, BorrowsAnLvalueStream) {
  auto s = stream::iter(iter::range(0, 5));
  auto first = block_on_stream(s).take(2).collect<std::vector>();
  EXPECT_EQ(first, (std::vector<int>{0, 1}));
  auto rest = block_on_stream(s).collect<std::vector>();
  EXPECT_EQ(rest, (std::vector<int>{2, 3, 4}));
}

TEST(BlockOnStreamTest, DrivesAGeneratorThatAwaitsPendingFutures) {
  auto g = []() -> AsyncGenerator<int> {
    for (int i = 0; i < 3; ++i) co_yield co_await PendingOnce(ready(i));
  };
  EXPECT_EQ(block_on_stream(g()).collect<std::vector>(), (std::vector<int>{0, 1, 2}));
}

TEST(BlockOnStreamTest, AnInfiniteReadyStreamYieldsEveryItemDespiteTheBudget) {
  auto it = block_on_stream(stream::iter(iter::repeat(1)));
  int sum = 0;
  for (int i = 0; i < 1000; ++i) sum += *it.next();  // 1000 > Budget::kDefault
  EXPECT_EQ(sum, 1000);
}

TEST(BlockOnStreamTest, StaysEndedWithoutPollingAgain) {
  ThreadFeed feed;
  feed.close();
  auto it = block_on_stream(ThreadFeedStream{&feed});
  EXPECT_EQ(it.next(), std::nullopt);
  EXPECT_TRUE(it.is_terminated());
  EXPECT_EQ(it.next(), std::nullopt);
  std::lock_guard<std::mutex> lock(feed.mu);
  EXPECT_EQ(feed.polls, 1);
}

TEST(BlockOnStreamTest, AWakerOutlivingTheIteratorIsSafe) {
  ThreadFeed feed;
  {
    auto it = block_on_stream(stream::merge(ThreadFeedStream{&feed}, stream::iter(iter::once(5))));
    EXPECT_EQ(it.next(), std::optional<int>(5));  // the feed side kept the iterator's waker
  }
  {
    std::lock_guard<std::mutex> lock(feed.mu);
    EXPECT_FALSE(feed.waker.is_noop());
  }
  std::thread t([&feed] { feed.push(1); });  // wakes a parker whose iterator is gone: harmless
  t.join();
  EXPECT_TRUE(feed.waker.is_noop());
}

TEST(BlockOnStreamTest, ExceptionsPropagateOutOfNext) {
  auto g = []() -> AsyncGenerator<int> {
    co_yield 1;
    throw std::runtime_error("boom");
  };
  auto it = block_on_stream(g());
  EXPECT_EQ(it.next(), std::optional<int>(1));
  EXPECT_THROW((void)it.next(), std::runtime_error);
}

}  // namespace
}  // namespace weft
