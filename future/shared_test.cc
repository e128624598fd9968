#include "future/shared.h"

#include <string>
#include <utility>

#include "future/map.h"
#include "future/ready.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(Future<Shared<Ready<int>>>);
static_assert(CancelSafe<Shared<Ready<int>>>);
static_assert(Unpin<Shared<Ready<int>>>);

TEST(SharedTest, HeaderExample) {
  auto s = weft::shared(weft::ready(std::string("hello")));
  auto t = s;
  EXPECT_EQ(testing::poll_once(t).value(), "hello");
  EXPECT_EQ(testing::poll_once(s).value(), "hello");
}

// Completes when `open` is set; stores one waker. Counts polls and drops.
struct Gate {
  using Output = int;
  bool* open;
  Waker* stored;
  int* polls;
  int* drops;
  Gate(bool* o, Waker* s, int* p, int* d) : open(o), stored(s), polls(p), drops(d) {}
  Gate(Gate&& g) noexcept : open(g.open), stored(g.stored), polls(g.polls), drops(std::exchange(g.drops, nullptr)) {}
  ~Gate() {
    if (drops) ++*drops;
  }
  Poll<int> poll(Context& cx) {
    ++*polls;
    if (*open) return 7;
    register_waker(*stored, cx.waker());
    return Pending{};
  }
};

TEST(SharedTest, InnerPolledOnceForManyClonesAndEveryCloneIsWoken) {
  bool open = false;
  Waker inner_waker;
  int polls = 0, drops = 0;
  auto a = shared(Gate(&open, &inner_waker, &polls, &drops));
  auto b = a;
  auto c = a;
  CountingWaker wa, wb, wc;
  EXPECT_TRUE(poll_once(a, wa).is_pending());
  EXPECT_TRUE(poll_once(b, wb).is_pending());  // drives again (nobody polling now)
  EXPECT_TRUE(poll_once(c, wc).is_pending());
  EXPECT_EQ(polls, 3);
  open = true;
  std::move(inner_waker).wake();  // the inner future's waker wakes every clone
  EXPECT_EQ(wa.wakes(), 1);
  EXPECT_EQ(wb.wakes(), 1);
  EXPECT_EQ(wc.wakes(), 1);
  EXPECT_EQ(poll_once(b, wb).value(), 7);
  EXPECT_EQ(drops, 1);  // the inner future is destroyed once it is ready
  EXPECT_EQ(poll_once(a, wa).value(), 7);
  EXPECT_EQ(poll_once(c, wc).value(), 7);
  EXPECT_EQ(polls, 4);  // the output was copied, not recomputed
  EXPECT_EQ(wa.outstanding() + wb.outstanding() + wc.outstanding(), 0);
}

TEST(SharedTest, DroppingAWaitingCloneRemovesItsWaker) {
  bool open = false;
  Waker inner_waker;
  int polls = 0, drops = 0;
  auto a = shared(Gate(&open, &inner_waker, &polls, &drops));
  CountingWaker w;
  {
    auto b = a;
    EXPECT_TRUE(poll_once(b, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(drops, 0);  // a still holds the state
  open = true;
  EXPECT_EQ(poll_once(a).value(), 7);
}

TEST(SharedTest, DroppingTheLastCloneDestroysTheInnerFutureAndState) {
  bool open = false;
  int polls = 0, drops = 0;
  {
    Waker inner_waker;
    auto a = shared(Gate(&open, &inner_waker, &polls, &drops));
    (void)poll_once(a);
    // inner_waker (a clone of the broadcast waker) keeps the state alive
    // until it is dropped; it is declared first, so it is dropped last.
  }
  EXPECT_EQ(drops, 1);
}

TEST(SharedTest, MapOverShared) {
  auto s = shared(ready(20));
  auto m = map(s, [](int x) { return x + 1; });
  EXPECT_EQ(poll_once(m).value(), 21);
  EXPECT_EQ(poll_once(s).value(), 20);
}

}  // namespace
}  // namespace weft
