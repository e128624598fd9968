#include "future/stream.h"

#include <cstddef>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/async_generator.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"
#include "iter/iter.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::PendingOnce;
using testing::poll_next_once;
using testing::poll_once;

// ---------------------------------------------------------------------------
// Test streams
// ---------------------------------------------------------------------------

// Feed<T>: a queue the test fills by hand; FeedStream reads it. Pending (with
// the waker stored) while empty and open. Fixed capacity: no allocation.
template <class T>
struct Feed {
  T items[64] = {};
  std::size_t head = 0;
  std::size_t tail = 0;
  bool closed = false;
  Waker waker;
  int polls = 0;
  int streams_dropped = 0;

  void push(T v) {
    items[tail++] = std::move(v);
    wake();
  }
  void close() {
    closed = true;
    wake();
  }
  void wake() {
    Waker w = std::move(waker);
    std::move(w).wake();
  }
};

template <class T>
class FeedStream {
 public:
  using Item = T;
  static constexpr bool kUnpin = true;

  explicit FeedStream(Feed<T>* f) : f_(f) {}
  FeedStream(FeedStream&& o) noexcept : f_(std::exchange(o.f_, nullptr)) {}
  ~FeedStream() {
    if (f_ != nullptr) {
      f_->waker = Waker();  // drop the registered waker with the stream
      ++f_->streams_dropped;
    }
  }

  PollNext<T> poll_next(Context& cx) {
    ++f_->polls;
    if (f_->head < f_->tail) return std::optional<T>(std::move(f_->items[f_->head++]));
    if (f_->closed) return std::nullopt;
    register_waker(f_->waker, cx.waker());
    return Pending{};
  }

 private:
  Feed<T>* f_;
};

// PendingEach<S>: before every item of `S`, one Pending (after waking).
template <Stream S>
class PendingEach {
 public:
  using Item = StreamItemOf<S>;
  static constexpr bool kUnpin = Unpin<S>;

  explicit PendingEach(S s, int* polls = nullptr) : s_(std::move(s)), polls_(polls) {}

  PollNext<Item> poll_next(Context& cx) {
    if (polls_ != nullptr) ++*polls_;
    if (!armed_) {
      armed_ = true;
      cx.waker().wake_by_ref();
      return Pending{};
    }
    armed_ = false;
    return s_.poll_next(cx);
  }

 private:
  S s_;
  int* polls_;
  bool armed_ = false;
};

// A stream that is not Unpin (for move checks).
struct NotUnpinStream {
  using Item = int;
  PollNext<int> poll_next(Context&) { return Pending{}; }
};

// Counts destructions (of in-flight futures, of generator locals).
struct DropCounter {
  int* drops;
  explicit DropCounter(int* d) : drops(d) {}
  DropCounter(DropCounter&& o) noexcept : drops(std::exchange(o.drops, nullptr)) {}
  ~DropCounter() {
    if (drops != nullptr) ++*drops;
  }
};

// A future Pending until `*gate` is true; registers its waker; counts drops.
struct Gated {
  using Output = int;
  static constexpr bool kUnpin = true;
  int v;
  const bool* gate;
  Waker* slot;
  DropCounter dc;
  Poll<int> poll(Context& cx) {
    if (*gate) return v;
    register_waker(*slot, cx.waker());
    return Pending{};
  }
};

// Drives `s` to its end as an executor would: every Pending must have come
// with a wake-up (the test streams here wake synchronously). Returns the items.
template <Stream S>
std::vector<StreamItemOf<S>> drain(S& s, CountingWaker& w, int* pendings = nullptr) {
  std::vector<StreamItemOf<S>> out;
  for (int guard = 0; guard < 100000; ++guard) {
    const int before = w.wakes();
    Context cx(w.borrowed());
    PollNext<StreamItemOf<S>> p = s.poll_next(cx);
    if (p.is_pending()) {
      EXPECT_GT(w.wakes(), before) << "Pending without a wake-up: lost wake-up";
      if (pendings != nullptr) ++*pendings;
      if (w.wakes() == before) return out;
      continue;
    }
    if (!p.value()) return out;
    out.push_back(std::move(*p.value()));
  }
  ADD_FAILURE() << "stream did not end";
  return out;
}


auto sq = [](int x) { return x * x; };
auto odd = [](int x) { return x % 2 == 1; };

using RangeS = stream::Iter<iter::Range<int>>;

// ---------------------------------------------------------------------------
// Compile-time facts
// ---------------------------------------------------------------------------

static_assert(Stream<RangeS>);
static_assert(Stream<FeedStream<int>>);
static_assert(!Stream<int>);
static_assert(!Stream<Ready<int>>);
static_assert(!Stream<RangeS&>);
static_assert(!Future<RangeS>);
static_assert(std::is_same_v<StreamItemOf<RangeS>, int>);
static_assert(std::is_same_v<StreamItemOf<stream::Iter<iter::From<std::vector<std::string>&>>>, std::string>);
static_assert(Stream<stream::Map<RangeS, decltype(sq)>>);
static_assert(Stream<stream::Filter<RangeS, decltype(odd)>>);
static_assert(Stream<stream::Take<RangeS>>);
static_assert(Stream<stream::Zip<RangeS, RangeS>>);
static_assert(std::is_same_v<StreamItemOf<stream::Zip<RangeS, RangeS>>, std::pair<int, int>>);
static_assert(Stream<stream::Chain<RangeS, RangeS>>);
static_assert(Stream<stream::Merge<RangeS, RangeS>>);
static_assert(Stream<stream::Fuse<RangeS>>);
static_assert(Stream<stream::ByRef<RangeS>>);
static_assert(Stream<AsyncGenerator<int>>);
static_assert(Future<stream::Next<RangeS>> && CancelSafe<stream::Next<RangeS>> && Unpin<stream::Next<RangeS>>);
static_assert(std::is_same_v<OutputOf<stream::Next<RangeS>>, std::optional<int>>);
static_assert(Future<stream::Collect<RangeS, std::vector<int>>>);

// Unpin when the parts are; not Unpin (move-checked) otherwise.
static_assert(Unpin<RangeS> && Unpin<stream::Map<RangeS, decltype(sq)>> && Unpin<stream::Zip<RangeS, RangeS>>);
static_assert(!Unpin<stream::Map<NotUnpinStream, decltype(sq)>>);
static_assert(!Unpin<stream::Merge<RangeS, NotUnpinStream>>);
static_assert(Unpin<stream::ByRef<NotUnpinStream>> && Unpin<stream::Next<NotUnpinStream>>);

// Sizes are the sum of the parts.
static_assert(sizeof(stream::Map<RangeS, decltype(sq)>) == sizeof(RangeS));
static_assert(sizeof(stream::Filter<RangeS, decltype(odd)>) == sizeof(RangeS));
static_assert(sizeof(stream::Take<RangeS>) == sizeof(RangeS) + sizeof(std::size_t));
static_assert(sizeof(stream::Chain<RangeS, RangeS>) == sizeof(std::optional<RangeS>) + sizeof(RangeS));
static_assert(sizeof(stream::Zip<RangeS, RangeS>) <= 2 * sizeof(RangeS) + 2 * sizeof(std::optional<int>) + 4);
static_assert(sizeof(stream::Merge<RangeS, RangeS>) <= 2 * sizeof(RangeS) + 4);
static_assert(sizeof(stream::Next<RangeS>) == 2 * sizeof(void*));
static_assert(sizeof(stream::Fold<RangeS, int, std::plus<>>) == sizeof(RangeS) + sizeof(std::optional<int>));
static_assert(sizeof(stream::Iter<iter::Range<int>>) == sizeof(iter::Range<int>));

// ---------------------------------------------------------------------------
// Header examples
// ---------------------------------------------------------------------------

TEST(StreamTest, HeaderExample) {
  auto s = stream::iter(iter::range(1, 6))
           | stream::map([](int x) { return x * x; })
           | stream::filter([](int x) { return x % 2 == 1; });
  auto sum = stream::fold(std::move(s), 0, [](int a, int x) { return a + x; });
  EXPECT_EQ(testing::poll_once(sum).value(), 35);   // 1 + 9 + 25
}

TEST(StreamTest, HeaderExampleNextLoopInACoroutine) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto consume = [](AsyncGenerator<int> s) -> AsyncGenerator<int> {
    int total = 0;
    // Inside a coroutine (`Task<T>`, `AsyncGenerator<T>`), item by item:
    while (auto x = co_await stream::next(s)) total += *x;
    co_yield total;
  };
  auto numbers = []() -> AsyncGenerator<int> {
    for (int i = 1; i <= 4; ++i) co_yield co_await PendingOnce(ready(i));
  };
  auto g = consume(numbers());
  EXPECT_EQ(drain(g, w), std::vector<int>{10});
}

// ---------------------------------------------------------------------------
// iter
// ---------------------------------------------------------------------------

TEST(IterTest, YieldsTheIteratorsItemsThenEnds) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::iter(iter::range(0, 3));
  EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1, 2}));
  EXPECT_EQ(w.wakes(), 0);
}

TEST(IterTest, ReferenceItemsAreCopied) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<std::string> names = {"ada", "bob"};
  auto s = stream::iter(iter::from(names));
  EXPECT_EQ(drain(s, w), names);
  EXPECT_EQ(names[0], "ada");  // copied, not moved from
}

TEST(IterTest, EachItemTakesOneBudgetUnitAndAnExhaustedBudgetYields) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  // A task draining an infinite stream: it must hand the thread back after
  // 128 items, having woken itself so that it is polled again.
  int n = 0;
  auto task = stream::for_each(stream::iter(iter::repeat(1)), [&n](int x) { n += x; });
  Budget budget(128);
  EXPECT_TRUE(poll_once(task, w, &budget).is_pending());
  EXPECT_EQ(n, 128);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(budget.exhausted());
  budget.refill(128);
  EXPECT_TRUE(poll_once(task, w, &budget).is_pending());
  EXPECT_EQ(n, 256);
  EXPECT_EQ(w.wakes(), 2);
}

TEST(IterTest, BudgetIsCheckedPerPoll) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::iter(iter::repeat(7));
  Budget budget(2);
  EXPECT_EQ(poll_next_once(s, w, &budget).value(), 7);
  EXPECT_EQ(poll_next_once(s, w, &budget).value(), 7);
  EXPECT_EQ(w.wakes(), 0);
  EXPECT_TRUE(poll_next_once(s, w, &budget).is_pending());
  EXPECT_EQ(w.wakes(), 1);
}

// ---------------------------------------------------------------------------
// map / filter
// ---------------------------------------------------------------------------

TEST(MapTest, MapsEachItem) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::map(stream::iter(iter::range(1, 4)), sq);
  EXPECT_EQ(drain(s, w), (std::vector<int>{1, 4, 9}));
}

TEST(MapTest, ForwardsPendingAndWakeups) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  int calls = 0;
  auto s = stream::map(FeedStream<int>(&feed), [&calls](int x) {
    ++calls;
    return std::to_string(x);
  });
  static_assert(std::is_same_v<StreamItemOf<decltype(s)>, std::string>);
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(w.wakes(), 0);
  feed.push(5);
  EXPECT_EQ(w.wakes(), 1);  // the child's wake reaches the task
  EXPECT_EQ(poll_next_once(s, w).value(), std::optional<std::string>("5"));
  EXPECT_EQ(feed.polls, 2);  // polled once per poll_next: no needless re-poll
  feed.close();
  EXPECT_EQ(poll_next_once(s, w).value(), std::nullopt);
  EXPECT_EQ(calls, 1);
}

TEST(MapTest, CancellationDropsTheChildAndItsWaker) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  {
    auto s = stream::map(FeedStream<int>(&feed), sq);
    EXPECT_TRUE(poll_next_once(s, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(feed.streams_dropped, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(FilterTest, SkipsItemsAndKeepsPollingUntilOnePasses) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::filter(stream::iter(iter::range(0, 10)), odd);
  EXPECT_EQ(drain(s, w), (std::vector<int>{1, 3, 5, 7, 9}));
}

TEST(FilterTest, PendingAfterRejectedItemsAndWakesOnTheNextOne) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  feed.push(2);
  feed.push(4);
  auto s = stream::filter(FeedStream<int>(&feed), odd);
  EXPECT_TRUE(poll_next_once(s, w).is_pending());  // 2, 4 rejected, then Pending
  EXPECT_EQ(feed.polls, 3);
  EXPECT_EQ(w.wakes(), 0);
  feed.push(5);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_next_once(s, w).value(), 5);
  EXPECT_EQ(feed.polls, 4);
}

TEST(FilterTest, PredicateSeesConstItemAndMoveOnlyItemsPass) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<std::string> feed;
  feed.push("a");
  feed.push("bb");
  feed.close();
  auto s = stream::filter(FeedStream<std::string>(&feed), [](const std::string& x) { return x.size() == 2; });
  EXPECT_EQ(drain(s, w), std::vector<std::string>{"bb"});
}

// ---------------------------------------------------------------------------
// then
// ---------------------------------------------------------------------------

TEST(ThenTest, AwaitsEachItemsFutureInOrder) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  int fut_polls = 0;
  auto s = stream::then(stream::iter(iter::range(1, 4)), [&fut_polls](int x) {
    return PendingOnce(map(lazy([&fut_polls] { return ++fut_polls; }), [x](int) { return x * 10; }));
  });
  int pendings = 0;
  EXPECT_EQ(drain(s, w, &pendings), (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(pendings, 3);   // one per item's PendingOnce
  EXPECT_EQ(fut_polls, 3);  // each inner future polled to ready exactly once
}

TEST(ThenTest, DoesNotPullTheNextItemWhileAFutureIsInFlight) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  feed.push(1);
  feed.push(2);
  bool gate = false;
  Waker slot;
  int drops = 0;
  auto s = stream::then(FeedStream<int>(&feed),
                        [&](int x) { return Gated{x, &gate, &slot, DropCounter(&drops)}; });
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(feed.polls, 1);  // item 2 is still in the feed
  gate = true;
  std::move(slot).wake();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_next_once(s, w).value(), 1);
  EXPECT_EQ(drops, 1);  // destroyed as soon as it was ready
  EXPECT_EQ(poll_next_once(s, w).value(), 2);
}

TEST(ThenTest, CancellationDestroysTheInFlightFuture) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  feed.push(1);
  bool gate = false;
  int drops = 0;
  {
    Waker slot;
    auto s = stream::then(FeedStream<int>(&feed),
                          [&](int x) { return Gated{x, &gate, &slot, DropCounter(&drops)}; });
    EXPECT_TRUE(poll_next_once(s, w).is_pending());  // future in flight
    EXPECT_TRUE(poll_next_once(s, w).is_pending());
    EXPECT_EQ(drops, 0);
    slot = Waker();
  }
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(feed.streams_dropped, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

// ---------------------------------------------------------------------------
// take / zip / chain / merge / fuse
// ---------------------------------------------------------------------------

TEST(TakeTest, StopsAfterNWithoutPollingFurther) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  for (int i = 0; i < 5; ++i) feed.push(i);
  auto s = stream::take(FeedStream<int>(&feed), 2);
  EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1}));
  EXPECT_EQ(feed.polls, 2);
  EXPECT_EQ(poll_next_once(s, w).value(), std::nullopt);  // stays ended, harmless
  EXPECT_EQ(feed.polls, 2);
}

TEST(TakeTest, ZeroNeverPollsAndShortStreamsEndEarly) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  auto z = stream::take(FeedStream<int>(&feed), 0);
  EXPECT_EQ(poll_next_once(z).value(), std::nullopt);
  EXPECT_EQ(feed.polls, 0);
  auto s = stream::take(stream::iter(iter::range(0, 2)), 10);
  EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1}));
  EXPECT_EQ(s.remaining(), 0u);
}

TEST(ZipTest, PairsItemsAndEndsWithTheShorter) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::zip(stream::iter(iter::range(0, 3)), stream::iter(iter::range(10, 20)));
  EXPECT_EQ(drain(s, w), (std::vector<std::pair<int, int>>{{0, 10}, {1, 11}, {2, 12}}));
}

TEST(ZipTest, BuffersOneSideWhileTheOtherIsPending) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> a;
  Feed<std::string> b;
  auto s = stream::zip(FeedStream<int>(&a), FeedStream<std::string>(&b));
  a.push(1);
  EXPECT_TRUE(poll_next_once(s, w).is_pending());  // 1 buffered, b registered
  EXPECT_EQ(a.polls, 1);
  EXPECT_EQ(b.polls, 1);
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(a.polls, 1);  // the side with a buffered item is not re-polled
  b.push("x");
  EXPECT_EQ(w.wakes(), 1);
  auto p = poll_next_once(s, w);
  ASSERT_TRUE(p.is_ready());
  EXPECT_EQ(*p.value(), std::make_pair(1, std::string("x")));
  a.close();
  EXPECT_EQ(poll_next_once(s, w).value(), std::nullopt);
}

TEST(ZipTest, CancellationDropsBufferedItemsAndWakers) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> a;
  Feed<int> b;
  {
    auto s = stream::zip(FeedStream<int>(&a), FeedStream<int>(&b));
    a.push(1);
    EXPECT_TRUE(poll_next_once(s, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(a.streams_dropped + b.streams_dropped, 2);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(ChainTest, FirstThenSecondAndTheFirstIsDroppedAtItsEnd) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> a;
  a.push(1);
  a.close();
  auto s = stream::chain(FeedStream<int>(&a), stream::map(stream::iter(iter::range(2, 4)), [](int x) { return x; }));
  EXPECT_EQ(poll_next_once(s, w).value(), 1);
  EXPECT_EQ(a.streams_dropped, 0);
  EXPECT_EQ(poll_next_once(s, w).value(), 2);
  EXPECT_EQ(a.streams_dropped, 1);
  EXPECT_EQ(a.polls, 2);
  EXPECT_EQ(drain(s, w), std::vector<int>{3});
}

TEST(ChainTest, PendingFirstKeepsTheSecondUnpolled) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> a;
  Feed<int> b;
  b.push(9);
  auto s = stream::chain(FeedStream<int>(&a), FeedStream<int>(&b));
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(b.polls, 0);
  a.close();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_next_once(s, w).value(), 9);
}

TEST(MergeTest, AlternatesBetweenTwoReadyStreams) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::take(stream::merge(stream::iter(iter::repeat(1)), stream::iter(iter::repeat(2))), 6);
  EXPECT_EQ(drain(s, w), (std::vector<int>{1, 2, 1, 2, 1, 2}));
}

TEST(MergeTest, EndsOnlyWhenBothEnd) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto s = stream::merge(stream::iter(iter::range(0, 3)), stream::iter(iter::range(10, 11)));
  auto items = drain(s, w);
  EXPECT_EQ(items, (std::vector<int>{0, 10, 1, 2}));
}

TEST(MergeTest, PendingUntilEitherSideWakes) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> a;
  Feed<int> b;
  auto s = stream::merge(FeedStream<int>(&a), FeedStream<int>(&b));
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(a.polls, 1);
  EXPECT_EQ(b.polls, 1);
  b.push(7);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_next_once(s, w).value(), 7);
  a.close();
  EXPECT_TRUE(poll_next_once(s, w).is_pending());  // a ended, b pending
  const int a_polls = a.polls;
  b.push(8);
  EXPECT_EQ(poll_next_once(s, w).value(), 8);
  EXPECT_EQ(a.polls, a_polls);  // an ended side is not polled again
  b.close();
  EXPECT_EQ(poll_next_once(s, w).value(), std::nullopt);
}

TEST(MergeTest, AnAlwaysReadySideDoesNotStarveTheOther) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> slow;
  auto s = stream::merge(stream::iter(iter::repeat(0)), FeedStream<int>(&slow));
  slow.push(42);
  bool seen = false;
  for (int i = 0; i < 4 && !seen; ++i) seen = poll_next_once(s, w).value() == std::optional<int>(42);
  EXPECT_TRUE(seen);
}

TEST(FuseTest, EndsForeverAndDropsTheInnerStream) {
  Feed<int> feed;
  feed.push(1);
  feed.close();
  auto s = stream::fuse(FeedStream<int>(&feed));
  EXPECT_FALSE(s.is_terminated());
  EXPECT_EQ(poll_next_once(s).value(), 1);
  EXPECT_EQ(poll_next_once(s).value(), std::nullopt);
  EXPECT_TRUE(s.is_terminated());
  EXPECT_EQ(feed.streams_dropped, 1);
  EXPECT_EQ(poll_next_once(s).value(), std::nullopt);
  EXPECT_EQ(feed.polls, 2);
}

TEST(ByRefTest, AdaptsAndConsumesInPlace) {
  auto s = stream::iter(iter::range(0, 6));
  auto first = stream::collect<std::vector>(stream::take(stream::by_ref(s), 2));
  EXPECT_EQ(poll_once(first).value(), (std::vector<int>{0, 1}));
  auto rest = stream::collect<std::vector>(stream::by_ref(s));
  EXPECT_EQ(poll_once(rest).value(), (std::vector<int>{2, 3, 4, 5}));
}

// ---------------------------------------------------------------------------
// next / fold / for_each / collect
// ---------------------------------------------------------------------------

TEST(NextTest, BorrowsTheStreamAndIsCancelSafe) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  FeedStream<int> s(&feed);
  {
    auto n = stream::next(s);
    EXPECT_TRUE(poll_once(n, w).is_pending());
  }  // dropped before Ready: nothing lost
  feed.push(3);
  auto n = stream::next(s);
  EXPECT_EQ(poll_once(n, w).value(), std::optional<int>(3));
  feed.close();
  auto e = stream::next(s);
  EXPECT_EQ(poll_once(e, w).value(), std::nullopt);
}

TEST(NextTest, WhileLoopInAGeneratorSeesPendingItems) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto inner = [](Feed<int>* f) -> AsyncGenerator<int> {
    FeedStream<int> s(f);
    while (auto x = co_await stream::next(s)) co_yield *x + 100;
  };
  Feed<int> feed;
  auto g = inner(&feed);
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  feed.push(1);
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_next_once(g, w).value(), 101);
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  feed.close();
  EXPECT_EQ(poll_next_once(g, w).value(), std::nullopt);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(FoldTest, SyncFunction) {
  auto f = stream::fold(stream::iter(iter::range(1, 5)), std::string(), [](std::string acc, int x) {
    return acc + std::to_string(x);
  });
  EXPECT_EQ(poll_once(f).value(), "1234");
}

TEST(FoldTest, AsyncFunctionIsAwaitedBeforeTheNextItem) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  int polls = 0;
  auto f = stream::fold(PendingEach(stream::iter(iter::range(1, 4)), &polls), 0,
                        [](int acc, int x) { return PendingOnce(ready(acc + x)); });
  int pendings = 0;
  for (;;) {
    auto p = poll_once(f, w);
    if (p.is_ready()) {
      EXPECT_EQ(p.value(), 6);
      break;
    }
    ++pendings;
    ASSERT_EQ(w.wakes(), pendings);  // every Pending came with a wake
  }
  EXPECT_EQ(pendings, 3 + 3 + 1);  // per item: stream once + future once; the end once
  EXPECT_EQ(polls, 2 * 3 + 2);
}

TEST(FoldTest, CancellationAtEachPendingPoint) {
  for (int stop = 0; stop < 4; ++stop) {
    CountingWaker w;
    Feed<int> feed;
    int drops = 0;
    bool gate = false;
    {
      Waker slot;
      auto f = stream::fold(FeedStream<int>(&feed), 0, [&](int acc, int x) {
        return map(Gated{x, &gate, &slot, DropCounter(&drops)}, [acc](int v) { return acc + v; });
      });
      for (int i = 0; i < stop; ++i) {
        feed.push(i);
        EXPECT_TRUE(poll_once(f, w).is_pending());
      }
      slot = Waker();
    }
    EXPECT_EQ(drops, stop > 0 ? 1 : 0) << stop;
    EXPECT_EQ(feed.streams_dropped, 1);
    EXPECT_EQ(w.outstanding(), 0);
  }
}

TEST(ForEachTest, SyncAndAsyncFunctions) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<int> seen;
  auto a = stream::for_each(stream::iter(iter::range(0, 3)), [&](int x) { seen.push_back(x); });
  EXPECT_TRUE(poll_once(a).is_ready());
  auto b = stream::for_each(stream::iter(iter::range(3, 5)), [&](int x) {
    return PendingOnce(lazy([&seen, x] { seen.push_back(x); }));
  });
  EXPECT_TRUE(poll_once(b, w).is_pending());
  EXPECT_EQ(seen.size(), 3u);
  EXPECT_TRUE(poll_once(b, w).is_pending());
  EXPECT_EQ(seen.size(), 4u);
  EXPECT_TRUE(poll_once(b, w).is_ready());
  EXPECT_EQ(w.wakes(), 2);
  EXPECT_EQ(seen, (std::vector<int>{0, 1, 2, 3, 4}));
}

// A future that counts its moves (Ready(v) at the first poll).
struct MoveCounting {
  using Output = int;
  int v;
  int* moves;
  MoveCounting(int value, int* m) : v(value), moves(m) {}
  MoveCounting(MoveCounting&& o) noexcept : v(o.v), moves(o.moves) { *moves += 1; }
  Poll<int> poll(Context&) { return v; }
};

TEST(StreamTest, FutureReturnedByTheFunctionIsBuiltInPlace) {
  int moves = 0;
  auto a = stream::for_each(stream::iter(iter::range(0, 3)), [&](int x) { return MoveCounting(x, &moves); });
  EXPECT_TRUE(poll_once(a).is_ready());
  auto b = stream::fold(stream::iter(iter::range(1, 4)), 0,
                        [&](int acc, int x) { return MoveCounting(acc + x, &moves); });
  EXPECT_EQ(poll_once(b).value(), 6);
  auto c = stream::then(stream::iter(iter::range(5, 7)), [&](int x) { return MoveCounting(x * 2, &moves); });
  EXPECT_EQ(poll_next_once(c).value(), std::optional<int>(10));
  EXPECT_EQ(poll_next_once(c).value(), std::optional<int>(12));
  EXPECT_EQ(moves, 0);  // no in-flight future was moved into its adaptor
}

TEST(CollectTest, IntoVectorsAndSets) {
  auto v = stream::collect<std::vector<int>>(stream::iter(iter::range(0, 3)));
  EXPECT_EQ(poll_once(v).value(), (std::vector<int>{0, 1, 2}));
  std::vector<int> src = {3, 1, 3};
  auto s = stream::iter(iter::from(src)) | stream::collect<std::set>();
  EXPECT_EQ(poll_once(s).value(), (std::set<int>{1, 3}));
}

TEST(CollectTest, ResumesAfterPendingWithoutLosingItems) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  Feed<int> feed;
  auto c = stream::collect<std::vector>(FeedStream<int>(&feed));
  feed.push(1);
  EXPECT_TRUE(poll_once(c, w).is_pending());
  feed.push(2);
  feed.close();
  EXPECT_EQ(poll_once(c, w).value(), (std::vector<int>{1, 2}));
}

// ---------------------------------------------------------------------------
// Both spellings, wake-ups through a whole pipeline, no allocation
// ---------------------------------------------------------------------------

TEST(StreamTest, PipeAndCallFormsAgree) {
  auto a = stream::iter(iter::range(0, 20)) | stream::map(sq) | stream::filter(odd) | stream::take(3) |
           stream::zip(stream::iter(iter::range(0, 100))) |
           stream::map([](std::pair<int, int> p) { return p.first + p.second; }) |
           stream::chain(stream::iter(iter::once(-1))) | stream::merge(stream::iter(iter::empty<int>())) |
           stream::fuse() | stream::then([](int x) { return ready(x * 2); }) | stream::fold(0, std::plus<>());
  auto b = stream::fold(
      stream::then(
          stream::fuse(stream::merge(
              stream::chain(stream::map(stream::zip(stream::take(stream::filter(stream::map(stream::iter(iter::range(0, 20)), sq), odd), 3),
                                                    stream::iter(iter::range(0, 100))),
                                        [](std::pair<int, int> p) { return p.first + p.second; }),
                            stream::iter(iter::once(-1))),
              stream::iter(iter::empty<int>()))),
          [](int x) { return ready(x * 2); }),
      0, std::plus<>());
  const int expect = 2 * ((1 + 0) + (9 + 1) + (25 + 2) - 1);
  EXPECT_EQ(poll_once(a).value(), expect);
  EXPECT_EQ(poll_once(b).value(), expect);
}

TEST(StreamTest, PendingOnceChildrenThroughAPipelineLoseNoWakeups) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  int polls = 0;
  auto s = PendingEach(stream::iter(iter::range(0, 5)), &polls) | stream::map(sq) | stream::filter(odd) |
           stream::then([](int x) { return PendingOnce(ready(x)); });
  int pendings = 0;
  EXPECT_EQ(drain(s, w, &pendings), (std::vector<int>{1, 9}));
  EXPECT_EQ(pendings, 6 + 2);  // each of 5 items + the end pending once; 2 futures once
  EXPECT_EQ(polls, 12);        // and nothing is polled more than that
  EXPECT_EQ(w.wakes(), pendings);
}

// Every adaptor and consumer over children that are Pending once before
// each item: same results as over ready children, every Pending came with a
// wake (checked by drain), and children are polled exactly twice per item.
TEST(StreamTest, EveryAdaptorHandlesPendingOnceChildren) {
  CountingWaker w;
  auto pe = [](int a, int b, int* polls) { return PendingEach(stream::iter(iter::range(a, b)), polls); };
  {
    int polls = 0;
    auto s = stream::take(pe(0, 10, &polls), 3);
    EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(polls, 6);  // the 4th item is never asked for
  }
  {
    int pa = 0;
    int pb = 0;
    auto s = stream::zip(pe(0, 3, &pa), pe(10, 13, &pb));
    EXPECT_EQ(drain(s, w), (std::vector<std::pair<int, int>>{{0, 10}, {1, 11}, {2, 12}}));
    EXPECT_EQ(pa, 8);  // 3 items + the end, twice each
    EXPECT_EQ(pb, 8);  // both sides are polled together while neither has an item
  }
  {
    int pa = 0;
    int pb = 0;
    auto s = stream::chain(pe(0, 2, &pa), pe(5, 7, &pb));
    EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1, 5, 6}));
    EXPECT_EQ(pa, 6);
    EXPECT_EQ(pb, 6);
  }
  {
    int pa = 0;
    int pb = 0;
    auto s = stream::merge(pe(0, 2, &pa), pe(5, 7, &pb));
    auto items = drain(s, w);
    std::multiset<int> got(items.begin(), items.end());
    EXPECT_EQ(got, (std::multiset<int>{0, 1, 5, 6}));
    EXPECT_EQ(pa, 6);
    EXPECT_EQ(pb, 6);
  }
  {
    int polls = 0;
    auto s = stream::fuse(pe(0, 2, &polls));
    EXPECT_EQ(drain(s, w), (std::vector<int>{0, 1}));
    EXPECT_TRUE(s.is_terminated());
    EXPECT_EQ(polls, 6);
  }
  {
    int polls = 0;
    auto c = stream::collect<std::vector>(pe(0, 3, &polls));
    Poll<std::vector<int>> p = Pending{};
    int pendings = 0;
    while ((p = poll_once(c, w)).is_pending()) ++pendings;
    EXPECT_EQ(p.value(), (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(pendings, 4);
    EXPECT_EQ(polls, 8);
  }
  {
    int polls = 0;
    int sum = 0;
    auto f = stream::for_each(pe(0, 3, &polls), [&sum](int x) { sum += x; });
    int pendings = 0;
    while (poll_once(f, w).is_pending()) ++pendings;
    EXPECT_EQ(sum, 3);
    EXPECT_EQ(pendings, 4);
    EXPECT_EQ(polls, 8);
  }
}

// Every adaptor and consumer dropped while Pending on a child that stored the
// task's waker: the child is destroyed and no waker is left behind.
TEST(StreamTest, EveryAdaptorDroppedWhilePendingLeavesNoWaker) {
  auto check = [](auto make, int feeds_used) {
    CountingWaker w;
    Feed<int> a;
    Feed<int> b;
    {
      auto s = make(FeedStream<int>(&a), FeedStream<int>(&b));
      Context cx(w.borrowed());
      if constexpr (Stream<decltype(s)>) {
        EXPECT_TRUE(s.poll_next(cx).is_pending());
      } else {
        EXPECT_TRUE(s.poll(cx).is_pending());
      }
      EXPECT_GE(w.outstanding(), 1);
    }
    EXPECT_EQ(a.streams_dropped + b.streams_dropped, feeds_used);
    EXPECT_EQ(w.outstanding(), 0);
  };
  using F = FeedStream<int>;
  check([](F a, F) { return stream::map(std::move(a), sq); }, 2);
  check([](F a, F) { return stream::filter(std::move(a), odd); }, 2);
  check([](F a, F) { return stream::then(std::move(a), [](int x) { return ready(x); }); }, 2);
  check([](F a, F) { return stream::take(std::move(a), 3); }, 2);
  check([](F a, F b) { return stream::zip(std::move(a), std::move(b)); }, 2);
  check([](F a, F b) { return stream::chain(std::move(a), std::move(b)); }, 2);
  check([](F a, F b) { return stream::merge(std::move(a), std::move(b)); }, 2);
  check([](F a, F) { return stream::fuse(std::move(a)); }, 2);
  check([](F a, F) { return stream::fold(std::move(a), 0, std::plus<>()); }, 2);
  check([](F a, F) { return stream::for_each(std::move(a), [](int) {}); }, 2);
  check([](F a, F) { return stream::collect<std::vector>(std::move(a)); }, 2);
}

TEST(StreamTest, FreestandingAdaptorsDoNotAllocate) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  testing::ScopedNoAlloc no_alloc;
  auto s = stream::iter(iter::range(0, 100)) | stream::map(sq) | stream::filter(odd) |
           stream::then([](int x) { return PendingOnce(ready(x)); }) | stream::take(30) |
           stream::zip(stream::iter(iter::repeat(1))) |
           stream::map([](std::pair<int, int> p) { return p.first * p.second; }) |
           stream::chain(stream::iter(iter::once(5))) | stream::merge(stream::iter(iter::range(0, 3))) |
           stream::fuse();
  auto sum = stream::fold(std::move(s), 0L, [](long a, int x) { return a + x; });
  Poll<long> p = Pending{};
  for (int i = 0; i < 1000 && p.is_pending(); ++i) p = poll_once(sum, w);
  ASSERT_TRUE(p.is_ready());
  long expect = 0;
  for (int i = 1; i < 60; i += 2) expect += i * i;
  EXPECT_EQ(p.value(), expect + 5 + 0 + 1 + 2);
  int count = 0;
  auto fe = stream::for_each(stream::iter(iter::range(0, 10)), [&count](int) { ++count; });
  EXPECT_TRUE(poll_once(fe).is_ready());
  auto src = stream::iter(iter::range(0, 2));
  auto n = stream::next(src);
  EXPECT_EQ(poll_once(n).value(), std::optional<int>(0));
  EXPECT_EQ(no_alloc.allocations(), 0u);
}

// ---------------------------------------------------------------------------
// Contract violations
// ---------------------------------------------------------------------------

TEST(StreamDeathTest, PollingAfterTheEndIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  auto z = stream::zip(stream::iter(iter::empty<int>()), stream::iter(iter::range(0, 3)));
  EXPECT_EQ(poll_next_once(z).value(), std::nullopt);
  EXPECT_DEATH((void)poll_next_once(z), "stream::Zip must not be polled after it returned the end");
  auto m = stream::merge(stream::iter(iter::empty<int>()), stream::iter(iter::empty<int>()));
  EXPECT_EQ(poll_next_once(m).value(), std::nullopt);
  EXPECT_DEATH((void)poll_next_once(m), "stream::Merge must not be polled after it returned the end");
  auto f = stream::fold(stream::iter(iter::empty<int>()), 0, std::plus<>());
  EXPECT_TRUE(poll_once(f).is_ready());
  EXPECT_DEATH((void)poll_once(f), "stream::Fold must not be polled after it returned ready");
  auto s = stream::iter(iter::range(0, 1));
  auto n = stream::next(s);
  EXPECT_TRUE(poll_once(n).is_ready());
  EXPECT_DEATH((void)poll_once(n), "stream::Next must not be polled after it returned ready");
}

TEST(StreamDeathTest, MovingANonUnpinStreamAfterItsFirstPollIsCaught) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  auto s = stream::map(NotUnpinStream{}, sq);
  EXPECT_TRUE(poll_next_once(s).is_pending());
  EXPECT_DEATH(
      {
        auto moved = std::move(s);
        (void)poll_next_once(moved);
      },
      "stream::Map was moved after its first poll");
}

}  // namespace
}  // namespace weft
