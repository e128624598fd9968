#include "future/futures_unordered.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/async_generator.h"
#include "future/block_on.h"
#include "future/ready.h"
#include "future/stream.h"
#include "future/task.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"
#include "iter/iter.h"

namespace weft {
namespace {

using testing::AssertUnmoved;
using testing::CountingWaker;
using testing::PendingOnce;
using testing::poll_next_once;
using testing::poll_once;


// What the test controls of one child.
struct ChildState {
  int polls = 0;
  bool ready = false;
  bool wake_self = false;  // wake itself on every Pending (a yielding child)
  int value = 0;
  int drops = 0;
  Waker waker;  // registered by the child while Pending

  void wake() {
    Waker w = std::move(waker);
    std::move(w).wake();
  }
};

// Pending (registering its waker) until `ready`; counts polls and drops.
class Child {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  explicit Child(ChildState* s) : s_(s) {}
  Child(Child&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  ~Child() {
    if (s_ != nullptr) ++s_->drops;
  }

  Poll<int> poll(Context& cx) {
    ++s_->polls;
    if (s_->ready) return s_->value;
    if (s_->wake_self) {
      cx.waker().wake_by_ref();
    } else {
      register_waker(s_->waker, cx.waker());
    }
    return Pending{};
  }

 private:
  ChildState* s_;
};

int total_polls(const std::vector<ChildState>& v) {
  int n = 0;
  for (const ChildState& s : v) n += s.polls;
  return n;
}

// ---------------------------------------------------------------------------

static_assert(Stream<FuturesUnordered<Ready<int>>>);
static_assert(Unpin<FuturesUnordered<Ready<int>>>);
static_assert(std::is_same_v<StreamItemOf<FuturesUnordered<Task<int>>>, int>);
static_assert(!std::is_copy_constructible_v<FuturesUnordered<Ready<int>>>);
static_assert(sizeof(FuturesUnordered<Ready<int>>) == 3 * sizeof(void*));
static_assert(Stream<stream::BufferUnordered<stream::Iter<iter::Once<Ready<int>>>>>);
static_assert(Unpin<stream::BufferUnordered<stream::Iter<iter::Once<Ready<int>>>>>);

weft::Task<int> fetch(int i) { co_return co_await PendingOnce(ready(i * 10)); }

TEST(FuturesUnorderedTest, HeaderExample) {
  weft::FuturesUnordered<weft::Task<int>> set;
  for (int i = 0; i < 3; ++i) set.push(fetch(i));
  int total = weft::block_on(weft::stream::fold(std::move(set), 0, std::plus<>()));
  EXPECT_EQ(total, 30);

  auto results = weft::stream::iter(weft::iter::range(0, 100))
                 | weft::stream::map(fetch)            // a stream of futures
                 | weft::stream::buffer_unordered(8)   // 8 in flight at a time
                 | weft::stream::collect<std::vector>();
  std::vector<int> all = weft::block_on(std::move(results));
  std::sort(all.begin(), all.end());
  ASSERT_EQ(all.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(all[i], i * 10);
}

TEST(FuturesUnorderedTest, EmptySetEndsAndCanBeReusedAfterwards) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  FuturesUnordered<Ready<int>> set;
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(poll_next_once(set, w).value(), std::nullopt);
  set.push(ready(1));
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(1));
  EXPECT_EQ(poll_next_once(set, w).value(), std::nullopt);
  set.push(ready(2));
  EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(2));
}

TEST(FuturesUnorderedTest, OutputsInCompletionOrder) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(4);
  FuturesUnordered<Child> set;
  for (int i = 0; i < 4; ++i) {
    st[i].value = i;
    set.push(Child(&st[i]));
  }
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(total_polls(st), 4);
  for (int i : {2, 0, 3, 1}) {
    st[i].ready = true;
    st[i].wake();
    EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(i));
    EXPECT_EQ(st[i].drops, 1);  // a completed future is destroyed at once
  }
  EXPECT_TRUE(set.empty());
  EXPECT_EQ(poll_next_once(set, w).value(), std::nullopt);
  set = FuturesUnordered<Child>();
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(FuturesUnorderedTest, PollsOnlyWokenChildren) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  constexpr int kN = 1000;
  std::vector<ChildState> st(kN);
  FuturesUnordered<Child> set;
  for (int i = 0; i < kN; ++i) set.push(Child(&st[i]));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(total_polls(st), kN);  // each new child once
  EXPECT_EQ(w.wakes(), 0);         // and no needless self-wake
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(total_polls(st), kN);  // nothing woken: nothing polled

  st[500].wake();
  EXPECT_EQ(w.wakes(), 1);  // the child's wake reaches the parent task
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(total_polls(st), kN + 1);
  EXPECT_EQ(st[500].polls, 2);

  st[7].wake();
  st[7].ready = true;
  st[7].value = 7;
  st[900].wake();
  EXPECT_EQ(w.wakes(), 2);  // coalesced: the parent's waker was taken by the first wake
  EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(7));
  EXPECT_EQ(total_polls(st), kN + 2);
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(total_polls(st), kN + 3);
  EXPECT_EQ(st[900].polls, 2);
}

TEST(FuturesUnorderedTest, AChildsStoredWakerStaysCurrentAcrossPolls) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  // The waker a child sees compares equal (`will_wake`) to the clone it kept,
  // so `register_waker` does not clone again on every poll.
  struct Probe {
    using Output = int;
    Waker* slot;
    int* same;
    Poll<int> poll(Context& cx) {
      if (slot->will_wake(cx.waker())) ++*same;
      register_waker(*slot, cx.waker());
      return Pending{};
    }
  };
  Waker slot;
  int same = 0;
  FuturesUnordered<Probe> set;
  set.push(Probe{&slot, &same});
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(poll_next_once(set, w).is_pending());
    slot.wake_by_ref();
  }
  EXPECT_EQ(same, 4);
  slot = Waker();
}

TEST(FuturesUnorderedTest, WakingAQueuedChildTwiceQueuesItOnce) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(2);
  FuturesUnordered<Child> set;
  for (auto& s : st) set.push(Child(&s));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  Waker clone = st[0].waker;
  st[0].wake();
  clone.wake_by_ref();
  std::move(clone).wake();
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_EQ(st[0].polls, 2);
  EXPECT_EQ(st[1].polls, 1);
}

TEST(FuturesUnorderedTest, ASelfWakingChildCannotStarveTheOthers) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  constexpr int kOthers = 10;
  std::vector<ChildState> st(kOthers + 1);
  st[0].wake_self = true;  // always Pending, always queued again
  FuturesUnordered<Child> set;
  for (auto& s : st) set.push(Child(&s));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  int results = 0;
  for (int i = 1; i <= kOthers; ++i) {
    st[i].ready = true;
    st[i].value = i;
    st[i].wake();
  }
  for (int call = 0; call < 4 * kOthers && results < kOthers; ++call) {
    const int before = st[0].polls;
    const int wakes = w.wakes();
    auto p = poll_next_once(set, w);
    EXPECT_LE(st[0].polls - before, 2) << "the self-waking child is polled at most twice per call";
    if (p.is_ready()) {
      ASSERT_TRUE(p.value());
      ++results;
    } else {
      EXPECT_GT(w.wakes(), wakes) << "yielded with work left but did not wake itself";
    }
  }
  EXPECT_EQ(results, kOthers);
  EXPECT_EQ(set.size(), 1u);
  // And with only the self-waker left, each call returns (bounded), waking itself.
  const int wakes = w.wakes();
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_GT(w.wakes(), wakes);
}

TEST(FuturesUnorderedTest, APollIsBoundedBySizeEvenIfEveryChildWakesItself) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  constexpr int kN = 50;
  std::vector<ChildState> st(kN);
  for (auto& s : st) s.wake_self = true;
  FuturesUnordered<Child> set;
  for (auto& s : st) set.push(Child(&s));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  EXPECT_LE(total_polls(st), kN);
  // The children's own wakes reach the parent (coalesced into one), and the
  // set wakes its task once more as it yields with work left.
  EXPECT_GE(w.wakes(), 1);
  EXPECT_LE(w.wakes(), 2);
}

TEST(FuturesUnorderedTest, AWakeBeforeTheFirstPollOrDuringAPollIsNotLost) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  ChildState a;
  FuturesUnordered<Child> set;
  set.push(Child(&a));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  // Woken while the parent is not being polled, then ready.
  a.ready = true;
  a.value = 5;
  a.wake();
  EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(5));
}

TEST(FuturesUnorderedTest, TheBudgetReachesTheChildren) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  FuturesUnordered<stream::Next<stream::Iter<iter::Repeat<int>>>> set;
  auto src = stream::iter(iter::repeat(3));
  set.push(stream::next(src));
  Budget budget(0);
  EXPECT_TRUE(poll_next_once(set, w, &budget).is_pending());  // the leaf saw no budget
  EXPECT_GE(w.wakes(), 1);
  budget.refill(1);
  EXPECT_EQ(poll_next_once(set, w, &budget).value(), std::optional<std::optional<int>>(3));
}

TEST(FuturesUnorderedTest, NonUnpinFuturesAreNeverMoved) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  FuturesUnordered<AssertUnmoved<PendingOnce<Ready<int>>>> set;
  for (int i = 0; i < 3; ++i) set.push(AssertUnmoved(PendingOnce(ready(i))));
  EXPECT_TRUE(poll_next_once(set, w).is_pending());
  FuturesUnordered moved = std::move(set);  // the set itself may move
  int sum = 0;
  for (int i = 0; i < 3; ++i) {
    auto p = poll_next_once(moved, w);
    ASSERT_TRUE(p.is_ready() && p.value());
    sum += *p.value();
  }
  EXPECT_EQ(sum, 3);
}

TEST(FuturesUnorderedTest, DroppingTheSetDestroysItsFuturesAndLeavesNoWaker) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(3);
  {
    FuturesUnordered<Child> set;
    for (auto& s : st) set.push(Child(&s));
    EXPECT_TRUE(poll_next_once(set, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);  // the parent's waker, in the set (children hold node wakers)
  }
  for (auto& s : st) EXPECT_EQ(s.drops, 1);
  for (auto& s : st) s.waker = Waker();
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(FuturesUnorderedTest, DroppingTheSetWithQueuedChildrenFreesThem) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(3);
  {
    FuturesUnordered<Child> set;
    for (auto& s : st) set.push(Child(&s));
    EXPECT_TRUE(poll_next_once(set, w).is_pending());
    st[1].wake();  // queued at the drop; the set's reference passes to the queue
    st[2].wake();
  }  // ASan: no leak of the queued nodes or of the shared queue
  for (auto& s : st) EXPECT_EQ(s.drops, 1);
  st[0].waker = Waker();
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(FuturesUnorderedTest, AChildWakerOutlivingTheSetIsSafe) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  ChildState a;
  ChildState b;
  Waker kept_a;
  Waker kept_b;
  {
    FuturesUnordered<Child> set;
    set.push(Child(&a));
    set.push(Child(&b));
    EXPECT_TRUE(poll_next_once(set, w).is_pending());
    kept_a = a.waker;  // clones
    kept_b = b.waker;
    kept_b.wake_by_ref();  // queued at the drop
    a.waker = Waker();
    b.waker = Waker();
  }
  EXPECT_EQ(w.outstanding(), 0);
  const int wakes = w.wakes();
  kept_a.wake_by_ref();  // the set is gone: nothing happens
  std::move(kept_b).wake();
  EXPECT_EQ(w.wakes(), wakes);
  kept_a = Waker();  // the last references: nodes and the shared queue are freed (ASan checks)
}

TEST(FuturesUnorderedTest, AnExceptionFromAChildPropagatesAndTheSetStaysUsable) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  struct ThrowsOnce {
    using Output = int;
    bool* thrown;
    Poll<int> poll(Context& cx) {
      if (!*thrown) {
        *thrown = true;
        cx.waker().wake_by_ref();
        throw std::runtime_error("child");
      }
      return 4;
    }
  };
  bool thrown = false;
  FuturesUnordered<ThrowsOnce> set;
  set.push(ThrowsOnce{&thrown});
  EXPECT_THROW((void)poll_next_once(set, w), std::runtime_error);
  EXPECT_EQ(set.size(), 1u);
  EXPECT_EQ(poll_next_once(set, w).value(), std::optional<int>(4));
  EXPECT_TRUE(set.empty());
}

// ---------------------------------------------------------------------------
// buffer_unordered
// ---------------------------------------------------------------------------

TEST(BufferUnorderedTest, RunsAtMostNAtOnceAndOutputsInCompletionOrder) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(6);
  for (int i = 0; i < 6; ++i) st[i].value = i;
  auto s = stream::buffer_unordered(
      stream::map(stream::iter(iter::range(0, 6)), [&st](int i) { return Child(&st[i]); }), 2);
  EXPECT_TRUE(poll_next_once(s, w).is_pending());
  EXPECT_EQ(s.in_flight(), 2u);
  EXPECT_EQ(st[0].polls, 1);
  EXPECT_EQ(st[1].polls, 1);
  EXPECT_EQ(st[2].polls, 0);
  st[1].ready = true;
  st[1].wake();
  EXPECT_EQ(poll_next_once(s, w).value(), std::optional<int>(1));
  EXPECT_TRUE(poll_next_once(s, w).is_pending());  // pulled item 2
  EXPECT_EQ(s.in_flight(), 2u);
  EXPECT_EQ(st[2].polls, 1);
  for (int i : {2, 0, 5, 3, 4}) {
    st[i].ready = true;
    st[i].wake();
  }
  std::vector<int> out;
  for (int i = 0; i < 20; ++i) {
    auto p = poll_next_once(s, w);
    if (p.is_pending()) continue;
    if (!p.value()) break;
    out.push_back(*p.value());
  }
  EXPECT_EQ(out.size(), 5u);
  std::sort(out.begin(), out.end());
  EXPECT_EQ(out, (std::vector<int>{0, 2, 3, 4, 5}));
  for (auto& c : st) EXPECT_EQ(c.drops, 1);
}

TEST(BufferUnorderedTest, APendingSourceIsWaitedOnAndEndsAfterTheLastFuture) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  auto src = []() -> AsyncGenerator<PendingOnce<Ready<int>>> {
    for (int i = 0; i < 3; ++i) {
      co_await PendingOnce(ready(0));
      co_yield PendingOnce(ready(i));
    }
  };
  auto s = src() | stream::buffer_unordered(4);
  std::vector<int> out;
  for (int i = 0; i < 50; ++i) {
    const int wakes = w.wakes();
    auto p = poll_next_once(s, w);
    if (p.is_pending()) {
      ASSERT_GT(w.wakes(), wakes) << "lost wake-up";
      continue;
    }
    if (!p.value()) break;
    out.push_back(*p.value());
  }
  EXPECT_EQ(out, (std::vector<int>{0, 1, 2}));
}

TEST(BufferUnorderedTest, CancellationDropsTheSourceAndInFlightFutures) {
  CountingWaker w;  // first: it must outlive every waker clone in the test
  std::vector<ChildState> st(3);
  {
    auto s = stream::buffer_unordered(
        stream::map(stream::iter(iter::range(0, 3)), [&st](int i) { return Child(&st[i]); }), 8);
    EXPECT_TRUE(poll_next_once(s, w).is_pending());
    EXPECT_EQ(s.in_flight(), 3u);
  }
  for (auto& c : st) EXPECT_EQ(c.drops, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

}  // namespace
}  // namespace weft
