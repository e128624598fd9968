#include "future/async_generator.h"

#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__cpp_exceptions)
#include <stdexcept>
#endif

#include "future/map.h"
#include "future/ready.h"
#include "future/stream.h"
#include "future/task.h"
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


// Polls to the end; every Pending must have come with a wake-up.
template <Stream S>
std::vector<StreamItemOf<S>> drain(S& s, CountingWaker& w, int* pendings = nullptr) {
  std::vector<StreamItemOf<S>> out;
  for (int guard = 0; guard < 10000; ++guard) {
    const int before = w.wakes();
    auto p = poll_next_once(s, w);
    if (p.is_pending()) {
      EXPECT_GT(w.wakes(), before) << "Pending without a wake-up";
      if (w.wakes() == before) return out;
      if (pendings != nullptr) ++*pendings;
      continue;
    }
    if (!p.value()) return out;
    out.push_back(std::move(*p.value()));
  }
  ADD_FAILURE() << "generator did not end";
  return out;
}

// A future Pending until `*gate`; registers a waker clone in `*slot`; counts
// its polls; logs its destruction (when not moved from).
struct Gate {
  using Output = int;
  static constexpr bool kUnpin = true;
  int v;
  const bool* gate;
  Waker* slot;
  int* polls;
  std::vector<char>* log = nullptr;
  Gate(int v_, const bool* g, Waker* s, int* p, std::vector<char>* l = nullptr)
      : v(v_), gate(g), slot(s), polls(p), log(l) {}
  Gate(Gate&& o) noexcept : v(o.v), gate(o.gate), slot(o.slot), polls(o.polls), log(std::exchange(o.log, nullptr)) {}
  ~Gate() {
    if (log != nullptr) log->push_back('f');
  }
  Poll<int> poll(Context& cx) {
    ++*polls;
    if (*gate) return v;
    register_waker(*slot, cx.waker());
    return Pending{};
  }
};

struct Recorder {
  char name;
  std::vector<char>* log;
  Recorder(char n, std::vector<char>* l) : name(n), log(l) {}
  Recorder(const Recorder&) = delete;
  ~Recorder() { log->push_back(name); }
};

// ---------------------------------------------------------------------------

static_assert(Stream<AsyncGenerator<int>> && Unpin<AsyncGenerator<int>>);
static_assert(std::is_same_v<StreamItemOf<AsyncGenerator<std::string>>, std::string>);
static_assert(!std::is_copy_constructible_v<AsyncGenerator<int>> && std::is_move_constructible_v<AsyncGenerator<int>>);
static_assert(sizeof(AsyncGenerator<int>) <= 2 * sizeof(void*));

weft::AsyncGenerator<int> numbers(int n) {
  for (int i = 1; i <= n; ++i) co_yield co_await weft::ready(i);
}
weft::AsyncGenerator<int> odd_squares(weft::AsyncGenerator<int> in) {
  while (auto x = co_await weft::stream::next(in)) {
    if (*x % 2 == 1) co_yield *x * *x;
  }
}

TEST(AsyncGeneratorTest, HeaderExample) {
  auto all = weft::stream::collect<std::vector>(odd_squares(numbers(5)));  // {1, 9, 25}
  EXPECT_EQ(poll_once(all).value(), (std::vector<int>{1, 9, 25}));
}

TEST(AsyncGeneratorTest, LazyYieldsInOrderThenEnds) {
  int started = 0;
  auto g = [](int* s) -> AsyncGenerator<int> {
    ++*s;
    co_yield 1;
    co_yield 2;
  }(&started);
  EXPECT_EQ(started, 0);
  EXPECT_FALSE(g.is_terminated());
  EXPECT_EQ(poll_next_once(g).value(), std::optional<int>(1));
  EXPECT_EQ(started, 1);
  EXPECT_EQ(poll_next_once(g).value(), std::optional<int>(2));
  EXPECT_EQ(poll_next_once(g).value(), std::nullopt);
  EXPECT_TRUE(g.is_terminated());
}

TEST(AsyncGeneratorTest, RvaluesAreMovedOutLvaluesAreCopied) {
  std::string after_yield;
  auto g = [](std::string* after) -> AsyncGenerator<std::string> {
    std::string s = "kept";
    co_yield s;  // copied
    *after = s;
    co_yield std::string("moved");
  }(&after_yield);
  EXPECT_EQ(poll_next_once(g).value(), std::optional<std::string>("kept"));
  EXPECT_EQ(poll_next_once(g).value(), std::optional<std::string>("moved"));
  EXPECT_EQ(after_yield, "kept");

  auto u = []() -> AsyncGenerator<std::unique_ptr<int>> { co_yield std::make_unique<int>(5); }();
  auto p = poll_next_once(u);
  ASSERT_TRUE(p.is_ready() && p.value());
  EXPECT_EQ(**p.value(), 5);
}

TEST(AsyncGeneratorTest, PendingAwaitIsRepolledWithoutResumingTheBody) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  bool gate = false;
  Waker slot;
  int polls = 0;
  int resumed = 0;
  auto g = [](const bool* gt, Waker* sl, int* pl, int* rs) -> AsyncGenerator<int> {
    int v = co_await Gate(7, gt, sl, pl);
    ++*rs;
    co_yield v;
  }(&gate, &slot, &polls, &resumed);
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  EXPECT_EQ(polls, 2);  // each poll_next re-polls the awaited future once
  EXPECT_EQ(resumed, 0);
  EXPECT_EQ(w.wakes(), 0);
  gate = true;
  std::move(slot).wake();
  EXPECT_EQ(w.wakes(), 1);  // the awaited future's wake reaches the generator's task
  EXPECT_EQ(poll_next_once(g, w).value(), std::optional<int>(7));
  EXPECT_EQ(polls, 3);
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(poll_next_once(g, w).value(), std::nullopt);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(AsyncGeneratorTest, PendingOnceAwaitsLoseNoWakeups) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto g = []() -> AsyncGenerator<int> {
    for (int i = 0; i < 3; ++i) {
      int a = co_await PendingOnce(ready(i));
      int b = co_await PendingOnce(ready(10));
      co_yield a + b;
    }
  }();
  int pendings = 0;
  EXPECT_EQ(drain(g, w, &pendings), (std::vector<int>{10, 11, 12}));
  EXPECT_EQ(pendings, 6);
}

TEST(AsyncGeneratorTest, TheBudgetReachesAwaitedFutures) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto g = []() -> AsyncGenerator<int> {
    auto s = stream::iter(iter::repeat(1));
    int total = 0;
    for (int i = 0; i < 5; ++i) total += *co_await stream::next(s);
    co_yield total;
  }();
  Budget budget(3);
  EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // 1 (resume) + 2 items: spent
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_TRUE(budget.exhausted());
  budget.refill(3);
  EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // 1 (resume) + 2 more items
  EXPECT_EQ(w.wakes(), 2);
  budget.refill(3);
  EXPECT_EQ(poll_next_once(g, w, &budget).value(), std::optional<int>(5));
}

TEST(AsyncGeneratorTest, AGeneratorThatNeverAwaitsStillYieldsToItsExecutor) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto forever = []() -> AsyncGenerator<int> {
    for (;;) co_yield 1;
  };
  int n = 0;
  auto task = stream::for_each(forever(), [&n](int x) { n += x; });
  Budget budget(128);
  EXPECT_TRUE(poll_once(task, w, &budget).is_pending());
  EXPECT_EQ(n, 128);
  EXPECT_EQ(w.wakes(), 1);
}

TEST(AsyncGeneratorTest, ASpentBudgetStopsBeforeTheAwaitedFutureIsRepolled) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  bool gate = false;
  Waker slot;
  int polls = 0;
  auto g = [](const bool* gt, Waker* sl, int* pl) -> AsyncGenerator<int> {
    co_yield co_await Gate(9, gt, sl, pl);
  }(&gate, &slot, &polls);
  Budget budget(1);
  EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // awaiting the gate
  gate = true;
  EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // no budget left: not re-polled
  EXPECT_EQ(polls, 1);
  budget.refill(1);
  EXPECT_EQ(poll_next_once(g, w, &budget).value(), std::optional<int>(9));
  EXPECT_EQ(polls, 2);
  slot = Waker();
}

// An output that counts its constructions and destructions.
struct Counted {
  static inline int alive = 0;
  int v;
  explicit Counted(int x) : v(x) { alive += 1; }
  Counted(Counted&& o) noexcept : v(o.v) { alive += 1; }
  ~Counted() { alive -= 1; }
};

TEST(AsyncGeneratorTest, DroppedAfterABudgetStopLeavesNoAwaitedOutputBehind) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  ASSERT_EQ(Counted::alive, 0);
  {
    bool gate = false;
    Waker slot;
    int polls = 0;
    auto g = [](const bool* gt, Waker* sl, int* pl) -> AsyncGenerator<int> {
      Counted c = co_await map(Gate(9, gt, sl, pl), [](int x) { return Counted(x); });
      co_yield c.v;
    }(&gate, &slot, &polls);
    Budget budget(1);
    EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // awaiting the gate
    gate = true;
    EXPECT_TRUE(poll_next_once(g, w, &budget).is_pending());  // budget spent
    slot = Waker();
  }  // dropped here, suspended at the co_await
  EXPECT_EQ(Counted::alive, 0);
}

TEST(AsyncGeneratorTest, MayMoveBetweenPolls) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto g = []() -> AsyncGenerator<int> {
    co_yield co_await PendingOnce(ready(1));
    co_yield 2;
  }();
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  AsyncGenerator<int> moved = std::move(g);
  EXPECT_EQ(poll_next_once(moved, w).value(), std::optional<int>(1));
  EXPECT_EQ(poll_next_once(moved, w).value(), std::optional<int>(2));
}

TEST(AsyncGeneratorTest, DestroyingMidwayDestroysTheAwaitedFutureThenLocalsInReverseOrder) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<char> log;
  bool gate = false;
  Waker slot;
  int polls = 0;
  {
    auto g = [](std::vector<char>* lg, const bool* gt, Waker* sl, int* pl) -> AsyncGenerator<int> {
      Recorder a('a', lg);
      co_yield 1;
      Recorder b('b', lg);
      co_yield co_await Gate(2, gt, sl, pl, lg);
      Recorder c('c', lg);  // never constructed
    }(&log, &gate, &slot, &polls);
    EXPECT_EQ(poll_next_once(g, w).value(), std::optional<int>(1));
    EXPECT_TRUE(poll_next_once(g, w).is_pending());
    EXPECT_TRUE(log.empty());
    slot = Waker();  // what the awaited future registered elsewhere
  }
  EXPECT_EQ(log, (std::vector<char>{'f', 'b', 'a'}));
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(AsyncGeneratorTest, DroppingAtAYieldDestroysLocals) {
  std::vector<char> log;
  {
    auto g = [](std::vector<char>* lg) -> AsyncGenerator<int> {
      Recorder a('a', lg);
      co_yield 1;
      co_yield 2;
    }(&log);
    EXPECT_EQ(poll_next_once(g).value(), std::optional<int>(1));
  }
  EXPECT_EQ(log, std::vector<char>{'a'});
}

struct FullArenaTag;
struct ArenaTag;

TEST(AsyncGeneratorTest, AllocationFailureIsReportedNotThrown) {
  using Small = iter::FrameArena<1024, FullArenaTag>;
  auto make = [](int n) -> AsyncGenerator<int, Small> {
    for (int i = 0; i < n; ++i) co_yield i;
  };
  std::vector<AsyncGenerator<int, Small>> live;
  for (int i = 0; i < 64; ++i) {
    live.push_back(make(3));
    if (live.back().allocation_failed()) break;
  }
  ASSERT_TRUE(live.back().allocation_failed()) << "the arena never filled up";
  ASSERT_GT(live.size(), 1u);
  EXPECT_EQ(poll_next_once(live.back()).value(), std::nullopt);  // an empty stream
  EXPECT_TRUE(live.back().is_terminated());
  EXPECT_EQ(poll_next_once(live.front()).value(), std::optional<int>(0));  // the others work
  live.clear();
  EXPECT_EQ(Small::live(), 0u);
}

TEST(AsyncGeneratorTest, ArenaFramesUseNoHeapAndAreFreedAtTheEnd) {
  using Arena = iter::FrameArena<4096, ArenaTag>;
  testing::ScopedNoAlloc no_alloc;
  {
    CountingWaker w;
    auto g = [](int n) -> AsyncGenerator<int, Arena> {
      for (int i = 0; i < n; ++i) co_yield co_await PendingOnce(ready(i));
    }(3);
    ASSERT_FALSE(g.allocation_failed());
    EXPECT_EQ(Arena::live(), 1u);
    int sum = 0;
    for (int i = 0; i < 20; ++i) {
      auto p = poll_next_once(g, w);
      if (p.is_pending()) continue;
      if (!p.value()) break;
      sum += *p.value();
    }
    EXPECT_EQ(sum, 3);
    EXPECT_EQ(Arena::live(), 0u);  // freed when the body finished, before the object goes
  }
  EXPECT_EQ(Arena::live(), 0u);
}

TEST(AsyncGeneratorTest, ATaskConsumesAGeneratorWithAWhileLoop) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto producer = []() -> AsyncGenerator<int> {
    for (int i = 1; i <= 3; ++i) co_yield co_await PendingOnce(ready(i));
  };
  auto consumer = [](AsyncGenerator<int> s) -> Task<int, iter::HeapFrameAllocator> {
    int total = 0;
    while (auto x = co_await stream::next(s)) total += *x;
    co_return total;
  };
  auto t = consumer(producer());
  Poll<int> p = Pending{};
  int pendings = 0;
  while ((p = poll_once(t, w)).is_pending()) {
    ++pendings;
    ASSERT_EQ(w.wakes(), pendings);
  }
  EXPECT_EQ(p.value(), 6);
  EXPECT_EQ(pendings, 3);
}

TEST(AsyncGeneratorDeathTest, PollAfterTheEndIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "debug checks are off";
#endif
  auto g = []() -> AsyncGenerator<int> { co_return; }();
  EXPECT_EQ(poll_next_once(g).value(), std::nullopt);
  EXPECT_DEATH((void)poll_next_once(g), "AsyncGenerator must not be polled after it returned the end");
}

#if defined(__cpp_exceptions)

TEST(AsyncGeneratorTest, AnExceptionFromTheBodyPropagatesAndEndsTheStream) {
  std::vector<char> log;
  auto g = [](std::vector<char>* lg) -> AsyncGenerator<int> {
    Recorder a('a', lg);
    co_yield 1;
    throw std::runtime_error("boom");
  }(&log);
  EXPECT_EQ(poll_next_once(g).value(), std::optional<int>(1));
  EXPECT_THROW((void)poll_next_once(g), std::runtime_error);
  EXPECT_EQ(log, std::vector<char>{'a'});
  EXPECT_TRUE(g.is_terminated());
}

struct ThrowsOnRepoll {
  using Output = int;
  int polls = 0;
  Poll<int> poll(Context& cx) {
    if (polls++ == 0) {
      cx.waker().wake_by_ref();
      return Pending{};
    }
    throw std::runtime_error("repoll");
  }
};

TEST(AsyncGeneratorTest, AnExceptionFromARepolledFutureIsCatchableInTheBody) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto g = []() -> AsyncGenerator<int> {
    bool caught = false;
    try {
      (void)co_await ThrowsOnRepoll{};
    } catch (const std::runtime_error&) {
      caught = true;
    }
    co_yield caught ? 1 : 0;
  }();
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  EXPECT_EQ(poll_next_once(g, w).value(), std::optional<int>(1));
  EXPECT_EQ(poll_next_once(g, w).value(), std::nullopt);
}

TEST(AsyncGeneratorTest, AnUncaughtExceptionFromARepolledFuturePropagates) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto g = []() -> AsyncGenerator<int> { co_yield co_await ThrowsOnRepoll{}; }();
  EXPECT_TRUE(poll_next_once(g, w).is_pending());
  EXPECT_THROW((void)poll_next_once(g, w), std::runtime_error);
  EXPECT_TRUE(g.is_terminated());
}

#endif  // __cpp_exceptions

}  // namespace
}  // namespace weft
