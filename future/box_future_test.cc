#include "future/box_future.h"

#include <vector>

#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(Future<BoxFuture<int>>);
static_assert(Unpin<BoxFuture<int>>);
static_assert(!CancelSafe<BoxFuture<int>>);
static_assert(sizeof(BoxFuture<int>) == 2 * sizeof(void*));

TEST(BoxFutureTest, HeaderExample) {
  std::vector<BoxFuture<int>> fs;
  fs.push_back(box(ready(1)));
  fs.push_back(box(map(ready(2), [](int x) { return x * 10; })));
  EXPECT_EQ(testing::poll_once(fs[1]).value(), 20);
}

struct Parked {
  using Output = int;
  Waker stored;
  int* drops;
  explicit Parked(int* d) : drops(d) {}
  Parked(Parked&& o) noexcept : stored(std::move(o.stored)), drops(std::exchange(o.drops, nullptr)) {}
  ~Parked() {
    if (drops) ++*drops;
  }
  Poll<int> poll(Context& cx) {
    register_waker(stored, cx.waker());
    return Pending{};
  }
};

TEST(BoxFutureTest, OneAllocationThenPollsThroughTheVtable) {
  testing::AllocCounter c;
  auto b = box(map(ready(20), [](int x) { return x + 1; }));
  EXPECT_EQ(c.allocations(), 1u);
  BoxFuture<int> moved = std::move(b);  // moves the pointer, not the future
  EXPECT_FALSE(static_cast<bool>(b));   // NOLINT: moved-from is empty
  EXPECT_EQ(poll_once(moved).value(), 21);
  EXPECT_EQ(c.allocations(), 1u);
}

TEST(BoxFutureTest, DestroyingCancelsTheFuture) {
  int drops = 0;
  CountingWaker w;
  {
    BoxFuture<int> b = box(Parked(&drops));
    EXPECT_TRUE(poll_once(b, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
  }
  EXPECT_EQ(drops, 1);
  EXPECT_EQ(w.outstanding(), 0);
}

BoxFuture<int> countdown(int n) {
  if (n == 0) return box(ready(0));
  // Recursion needs erasure: the type would otherwise be infinite.
  return box(map(countdown(n - 1), [](int x) { return x + 1; }));
}

TEST(BoxFutureTest, RecursiveTypes) {
  auto f = countdown(10);
  EXPECT_EQ(poll_once(f).value(), 10);
}

TEST(BoxFutureDeathTest, PollingAnEmptyBoxIsCaught) {
  BoxFuture<int> empty;
  EXPECT_DEATH((void)poll_once(empty), "BoxFuture polled while empty");
}

}  // namespace
}  // namespace weft
