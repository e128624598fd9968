#include "iter/generator.h"

#include <memory>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "iter/sources.h"
#include "tools/testing/alloc_counter.h"

namespace weft::iter {
namespace {

Generator<int> fib() {
  for (int a = 0, b = 1;; std::tie(a, b) = std::pair(b, a + b)) co_yield a;
}

TEST(GeneratorTest, HeaderExample) {
  int s = fib().take(10).sum();  // every adaptor works on a generator
  EXPECT_EQ(s, 0 + 1 + 1 + 2 + 3 + 5 + 8 + 13 + 21 + 34);
}

static_assert(Iterator<Generator<int>>);
static_assert(Iterator<Generator<int&>>);
static_assert(!std::is_copy_constructible_v<Generator<int>>);
static_assert(std::is_nothrow_move_constructible_v<Generator<int>>);

Generator<int> upto(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

Generator<int> one_two(int* started) {
  ++*started;
  co_yield 1;
  co_yield 2;
}

TEST(GeneratorTest, IsLazyAndFinishes) {
  int started = 0;
  auto g = one_two(&started);
  EXPECT_EQ(started, 0);
  EXPECT_EQ(*g.next(), 1);
  EXPECT_EQ(started, 1);
  EXPECT_EQ(*g.next(), 2);
  EXPECT_FALSE(g.next());
  EXPECT_FALSE(g.next());  // stays finished
}

TEST(GeneratorTest, RangeForAndPipe) {
  int total = 0;
  for (int x : upto(5)) total += x;
  EXPECT_EQ(total, 10);
  EXPECT_EQ((upto(5) | map([](int x) { return x * 2; }) | sum()), 20);
}

Generator<std::string> strings() {
  std::string lvalue = "a";
  co_yield lvalue;             // moved out to the consumer
  co_yield std::string("b");   // temporary
  const std::string c = "c";
  co_yield c;                  // copied
  co_yield "d";                // converted
}

TEST(GeneratorTest, YieldsLvaluesRvaluesConstsAndConversions) {
  EXPECT_EQ(strings().collect<std::vector>(), (std::vector<std::string>{"a", "b", "c", "d"}));
}

Generator<int&> elements(std::vector<int>& v) {
  for (int& x : v) co_yield x;
}

TEST(GeneratorTest, ReferenceItemsWriteThrough) {
  std::vector<int> v = {1, 2, 3};
  for (int& x : elements(v)) x *= 10;
  EXPECT_EQ(v, (std::vector<int>{10, 20, 30}));
}

Generator<int> nested(int depth, int n) {
  if (depth == 0) {
    for (int i = 0; i < n; ++i) co_yield i;
    co_return;
  }
  co_yield depth * 1000;
  co_yield elements_of(nested(depth - 1, n));
  co_yield -depth;
}

TEST(GeneratorTest, ElementsOfKeepsOrderAcrossLevels) {
  EXPECT_EQ(nested(2, 2).collect<std::vector>(), (std::vector<int>{2000, 1000, 0, 1, -1, -2}));
}

// One level per recursion: a naive `for (x : child) co_yield x` would cost
// O(depth) per item and O(depth) native stack; the trampoline in `next()`
// runs this in constant stack even 100000 levels deep (also under ASan).
Generator<int> chain_of(int depth) {
  if (depth == 0) {
    co_yield 7;
    co_return;
  }
  co_yield elements_of(chain_of(depth - 1));
}

TEST(GeneratorTest, DeepNestingRunsInConstantStack) {
  auto g = chain_of(100000);
  EXPECT_EQ(*g.next(), 7);
  EXPECT_FALSE(g.next());
}

Generator<int> tree(int lo, int hi) {  // in-order over a balanced "tree" of [lo, hi)
  if (lo >= hi) co_return;
  const int mid = lo + (hi - lo) / 2;
  co_yield elements_of(tree(lo, mid));
  co_yield mid;
  co_yield elements_of(tree(mid + 1, hi));
}

TEST(GeneratorTest, RecursiveTreeWalk) {
  auto v = tree(0, 100).collect<std::vector>();
  ASSERT_EQ(v.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(v[i], i);
}

Generator<int> from_iterators() {
  co_yield elements_of(range(0, 3));
  auto r = range(10, 12);
  co_yield elements_of(r);  // an lvalue iterator is copied
  co_yield elements_of(upto(2));
  co_yield 99;
}

TEST(GeneratorTest, ElementsOfAnyIterator) {
  EXPECT_EQ(from_iterators().collect<std::vector>(), (std::vector<int>{0, 1, 2, 10, 11, 0, 1, 99}));
}

struct Tracker {
  int* live;
  explicit Tracker(int* l) : live(l) { ++*live; }
  Tracker(const Tracker&) = delete;
  ~Tracker() { --*live; }
};

Generator<int> holds(int* live, int depth) {
  Tracker t(live);
  if (depth > 0) {
    co_yield elements_of(holds(live, depth - 1));
  }
  co_yield depth;
  co_yield depth + 100;
}

TEST(GeneratorTest, DestroyingMidwayRunsDestructorsOfEveryLevel) {
  int live = 0;
  {
    auto g = holds(&live, 3);
    EXPECT_EQ(*g.next(), 0);  // innermost level yielded; four frames alive
    EXPECT_EQ(live, 4);
  }
  EXPECT_EQ(live, 0);
}

TEST(GeneratorTest, MoveTransfersOwnership) {
  auto a = upto(3);
  EXPECT_EQ(*a.next(), 0);
  Generator<int> b = std::move(a);
  EXPECT_FALSE(a.next());  // NOLINT: moved-from is empty
  EXPECT_EQ(*b.next(), 1);
  a = std::move(b);
  EXPECT_EQ(*a.next(), 2);
}

// ---- frame allocation ----

struct CountingAlloc {
  static inline int allocs = 0;
  static inline int frees = 0;
  static void* allocate(std::size_t n) noexcept {
    ++allocs;
    return HeapFrameAllocator::allocate(n);
  }
  static void deallocate(void* p, std::size_t n) noexcept {
    ++frees;
    HeapFrameAllocator::deallocate(p, n);
  }
};

Generator<int, CountingAlloc> counted(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

TEST(GeneratorAllocTest, FramesGoThroughThePluggableAllocator) {
  CountingAlloc::allocs = CountingAlloc::frees = 0;
  {
    auto g = counted(3);
    EXPECT_EQ(CountingAlloc::allocs, 1);
    EXPECT_EQ(g.sum(), 3);
  }
  EXPECT_EQ(CountingAlloc::frees, 1);
}

struct ArenaTag;
using Arena = FrameArena<2048, ArenaTag>;

Generator<int, Arena> in_arena(int depth) {
  if (depth > 0) co_yield elements_of(in_arena(depth - 1));
  co_yield depth;
}

TEST(GeneratorAllocTest, ArenaNeedsNoHeapAndIsReclaimed) {
  weft::testing::ScopedNoAlloc no_alloc;
  {
    auto g = in_arena(3);
    EXPECT_FALSE(g.allocation_failed());
    EXPECT_EQ(g.sum(), 0 + 1 + 2 + 3);
    EXPECT_GT(Arena::used(), 0u);
  }
  EXPECT_EQ(Arena::used(), 0u);
  EXPECT_EQ(Arena::live(), 0u);
}

struct TinyTag;
Generator<int, FrameArena<32, TinyTag>> too_big() {
  int big[64] = {};
  for (int x : big) co_yield x;
}

TEST(GeneratorAllocTest, AllocationFailureIsReportedNotThrown) {
  auto g = too_big();
  EXPECT_TRUE(g.allocation_failed());
  EXPECT_FALSE(g.next());
  EXPECT_EQ(g.count(), 0u);
}

#if defined(__cpp_exceptions)
Generator<int> throws_after(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
  throw std::runtime_error("boom");
}

Generator<int> outer_of_throwing() { co_yield elements_of(throws_after(1)); }

TEST(GeneratorTest, ExceptionPropagatesOutOfNextThenFinished) {
  auto g = outer_of_throwing();
  EXPECT_EQ(*g.next(), 0);
  EXPECT_THROW(g.next(), std::runtime_error);
  EXPECT_FALSE(g.next());
}
#endif

}  // namespace
}  // namespace weft::iter
