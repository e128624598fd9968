#include "iter/adaptors.h"

#include <array>
#include <set>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "iter/sources.h"
#include "tools/testing/alloc_counter.h"

namespace weft::iter {
namespace {

using V = std::vector<int>;

template <class I>
V to_vec(I&& it) {
  V out;
  while (auto x = it.next()) out.push_back(*x);
  return out;
}

auto sq = [](int x) { return x * x; };
auto even = [](int x) { return x % 2 == 0; };

// ---- compile-time facts: sizes are the sum of the parts ----
using R = Range<int>;
static_assert(sizeof(Map<R, decltype(sq)>) == sizeof(R));
static_assert(sizeof(Filter<Map<R, decltype(sq)>, decltype(even)>) == sizeof(R));
static_assert(sizeof(Take<R>) == sizeof(R) + sizeof(std::size_t));
static_assert(sizeof(Zip<R, R>) == 2 * sizeof(R));
static_assert(sizeof(Rev<R>) == sizeof(R));
static_assert(sizeof(ByRef<R>) == sizeof(void*));
static_assert(sizeof(Enumerate<R>) == sizeof(R) + sizeof(std::size_t));
static_assert(sizeof(decltype(range(0, 1) | map(sq) | filter(even) | rev() | take(3))) ==
                  sizeof(R) + sizeof(std::size_t),
              "");
// A capturing lambda costs exactly its captures.
inline int k = 3;
using AddK = decltype([p = &k](int x) { return x + *p; });
static_assert(sizeof(Map<R, AddK>) == sizeof(R) + sizeof(int*));
static_assert(DoubleEndedIterator<Map<R, decltype(sq)>>);
static_assert(!DoubleEndedIterator<Take<R>>);
template <class T>
concept HasRev = requires(T t) { std::move(t).rev(); };
static_assert(HasRev<R>);
static_assert(!HasRev<Take<R>>);

TEST(AdaptorsTest, HeaderExample) {
  std::vector<int> v = {1, 2, 3, 4};
  auto evens = iter::from(v).filter([](int x) { return x % 2 == 0; })
                   .map([](int x) { return x * 10; })
                   .collect<std::vector>();  // {20, 40}
  EXPECT_EQ(evens, (V{20, 40}));
}

TEST(AdaptorsTest, MethodAndPipeFormsAgree) {
  auto odd = [](int x) { return x % 2 == 1; };
  int a = range(0, 10).map(sq).filter(odd).sum();
  int b = range(0, 10) | map(sq) | filter(odd) | sum();
  EXPECT_EQ(a, 165);
  EXPECT_EQ(a, b);
}

TEST(MapTest, MapsAndIsDoubleEnded) {
  auto m = range(1, 4).map(sq);
  EXPECT_EQ(*m.next_back(), 9);
  EXPECT_EQ(to_vec(m), (V{1, 4}));
  EXPECT_EQ(size_hint(range(0, 7).map(sq)), (SizeHint{7, 7}));
}

TEST(MapTest, ReferenceResultsWriteThrough) {
  std::array<std::pair<int, int>, 2> a = {{{1, 2}, {3, 4}}};
  for (int& second : from(a).map([](auto& p) -> int& { return p.second; })) second = 0;
  EXPECT_EQ(a[0].second, 0);
  EXPECT_EQ(a[1].second, 0);
  EXPECT_EQ(a[1].first, 3);
}

TEST(FilterTest, KeepsMatchingFromBothEnds) {
  auto f = range(0, 10).filter(even);
  EXPECT_EQ(*f.next_back(), 8);
  EXPECT_EQ(to_vec(f), (V{0, 2, 4, 6}));
  EXPECT_EQ(size_hint(range(0, 10).filter(even)), (SizeHint{0, 10}));
}

TEST(FilterMapTest, KeepsEngagedResults) {
  auto half = [](int x) -> std::optional<int> {
    if (x % 2 != 0) return std::nullopt;
    return x / 2;
  };
  EXPECT_EQ(to_vec(range(0, 7).filter_map(half)), (V{0, 1, 2, 3}));
  EXPECT_EQ(to_vec(range(0, 7) | filter_map(half)), (V{0, 1, 2, 3}));
}

TEST(EnumerateTest, PairsIndexWithItem) {
  std::vector<std::string> v = {"a", "b", "c"};
  std::string joined;
  for (auto [i, s] : from(v).enumerate()) joined += std::to_string(i) + s;
  EXPECT_EQ(joined, "0a1b2c");
}

TEST(EnumerateTest, ReassigningCurrentItemDoesNotWriteThroughReferences) {
  // RangeIter re-seats its cached pair; assigning would write v[0] = v[1].
  std::vector<int> v = {1, 2, 3};
  int n = 0;
  for (auto [i, x] : from(v).enumerate()) n += x * static_cast<int>(i + 1);
  EXPECT_EQ(v, (V{1, 2, 3}));
  EXPECT_EQ(n, 1 + 4 + 9);
}

TEST(ZipTest, StopsAtShorterAndHintsTheMinimum) {
  auto z = zip(range(0, 3), range(10, 20));
  EXPECT_EQ(size_hint(z), (SizeHint{3, 3}));
  std::vector<std::pair<int, int>> out = z.collect<std::vector>();
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2], std::make_pair(2, 12));
  EXPECT_EQ((range(0, 5) | zip(repeat(1)) | count()), 5u);
  EXPECT_EQ(range(0, 5).zip(range(0, 2)).count(), 2u);
}

TEST(ChainTest, FirstThenSecondBothDirections) {
  EXPECT_EQ(to_vec(range(0, 2).chain(range(5, 7))), (V{0, 1, 5, 6}));
  EXPECT_EQ(to_vec(chain(range(0, 2), range(5, 7)).rev()), (V{6, 5, 1, 0}));
  EXPECT_EQ(size_hint(range(0, 2).chain(range(5, 7))), (SizeHint{4, 4}));
  EXPECT_EQ(size_hint(range(0, 2).chain(repeat(1))).upper, std::nullopt);
}

TEST(TakeSkipTest, TakeWithAnIntLvalueIsTheAdaptor) {
  // A const int lvalue once picked a protected helper named `take`.
  constexpr int kN = 3;
  EXPECT_EQ(range(0, 10).take(kN).count(), 3u);
  auto r = range(0, 10);
  EXPECT_EQ(r.take(kN).sum(), 3);
}

TEST(TakeSkipTest, Bounds) {
  EXPECT_EQ(to_vec(range(0, 10).take(3)), (V{0, 1, 2}));
  EXPECT_EQ(to_vec(range(0, 2).take(5)), (V{0, 1}));
  EXPECT_EQ(to_vec(range(0, 5).skip(3)), (V{3, 4}));
  EXPECT_EQ(range(0, 5).skip(10).count(), 0u);
  EXPECT_EQ(size_hint(repeat(1).take(4)), (SizeHint{4, 4}));
  EXPECT_EQ(size_hint(range(0, 10).skip(4)), (SizeHint{6, 6}));
  EXPECT_EQ(range(0, 10).take(0).count(), 0u);
}

TEST(TakeWhileSkipWhileTest, StopAndStart) {
  auto small = [](int x) { return x < 3; };
  EXPECT_EQ(to_vec(range(0, 10).take_while(small)), (V{0, 1, 2}));
  EXPECT_EQ(to_vec(range(0, 6).skip_while(small)), (V{3, 4, 5}));
  // take_while stays done even if later items would match.
  auto tw = std::vector<int>{1, 5, 1};
  EXPECT_EQ(to_vec(from(tw).take_while(small)), (V{1}));
  // skip_while only skips a prefix.
  EXPECT_EQ(to_vec(from(tw).skip_while(small)), (V{5, 1}));
}

TEST(StepByTest, FirstThenEveryNth) {
  EXPECT_EQ(to_vec(range(0, 10).step_by(3)), (V{0, 3, 6, 9}));
  EXPECT_EQ(size_hint(range(0, 10).step_by(3)), (SizeHint{4, 4}));
  EXPECT_EQ(to_vec(range(0, 10) | step_by(4)), (V{0, 4, 8}));
  EXPECT_EQ(to_vec(range(0, 1).step_by(5)), (V{0}));
}

TEST(StepByDeathTest, ZeroStepIsAContractViolation) {
  EXPECT_DEATH((void)range(0, 3).step_by(0), "step_by: the step must not be 0");
}

TEST(FlatMapFlattenTest, ConcatenatesInnerIterators) {
  EXPECT_EQ(to_vec(range(0, 4).flat_map([](int n) { return range(0, n); })), (V{0, 0, 1, 0, 1, 2}));
  std::vector<V> vv = {{1}, {}, {2, 3}};
  EXPECT_EQ(to_vec(from(vv).map([](V& in) { return from(in); }).flatten()), (V{1, 2, 3}));
  EXPECT_EQ((from(vv) | flat_map([](V& in) { return from(in); }) | sum()), 6);
}

TEST(PeekableTest, PeekDoesNotConsume) {
  auto p = range(0, 3).peekable();
  ASSERT_NE(p.peek(), nullptr);
  EXPECT_EQ(*p.peek(), 0);
  EXPECT_EQ(size_hint(p), (SizeHint{3, 3}));
  EXPECT_EQ(*p.next(), 0);
  EXPECT_FALSE(p.next_if([](int x) { return x > 5; }));
  EXPECT_EQ(*p.next_if([](int x) { return x == 1; }), 1);
  EXPECT_EQ(*p.next(), 2);
  EXPECT_EQ(p.peek(), nullptr);
  EXPECT_FALSE(p.next());
}

TEST(InspectTest, SeesEveryItemOnce) {
  int seen = 0;
  int s = range(0, 5).inspect([&](const int& x) { seen += x; }).filter(even).sum();
  EXPECT_EQ(seen, 10);
  EXPECT_EQ(s, 6);
}

TEST(ScanTest, CarriesStateAndStopsOnEmpty) {
  auto running = range(1, 10).scan(0, [](int& acc, int x) -> std::optional<int> {
    acc += x;
    if (acc > 10) return std::nullopt;
    return acc;
  });
  EXPECT_EQ(to_vec(running), (V{1, 3, 6, 10}));
}

TEST(FuseTest, StaysDone) {
  int n = 0;
  auto flaky = from_fn([&]() -> std::optional<int> {
    ++n;
    if (n % 2 == 0) return std::nullopt;
    return n;
  });
  EXPECT_TRUE(flaky.next());
  EXPECT_FALSE(flaky.next());
  EXPECT_TRUE(flaky.next());  // an unfused iterator may resume
  auto f = std::move(flaky).fuse();
  EXPECT_FALSE(f.next());
  EXPECT_FALSE(f.next());
  EXPECT_EQ(n, 4);  // the fused one never called again
}

TEST(RevTest, Reverses) {
  EXPECT_EQ(to_vec(range(0, 4).rev()), (V{3, 2, 1, 0}));
  EXPECT_EQ(to_vec(range(0, 4) | rev() | rev()), (V{0, 1, 2, 3}));
}

TEST(ByRefTest, AdaptsInPlace) {
  auto r = range(0, 10);
  EXPECT_EQ(r.by_ref().take(3).sum(), 3);
  EXPECT_EQ(*r.next(), 3);  // the original advanced
}

TEST(AdaptorsTest, LvalueMethodFormCopies) {
  auto r = range(0, 3);
  EXPECT_EQ(r.map(sq).sum(), 5);
  EXPECT_EQ(r.count(), 3u);  // r itself untouched by the copy
}

TEST(ChunksWindowsTest, OverContiguousSources) {
  std::array<int, 5> a = {1, 2, 3, 4, 5};
  auto sizes = chunks(a, 2).map([](std::span<int> s) { return static_cast<int>(s.size()); });
  EXPECT_EQ(to_vec(sizes), (V{2, 2, 1}));
  auto back = chunks(a, 2);
  EXPECT_EQ(back.next_back()->size(), 1u);  // the short chunk is the last
  EXPECT_EQ(size_hint(chunks(a, 2)), (SizeHint{3, 3}));
  auto sums = windows(a, 3).map([](std::span<int> s) { return s[0] + s[1] + s[2]; });
  EXPECT_EQ(to_vec(sums), (V{6, 9, 12}));
  EXPECT_EQ(windows(a, 6).count(), 0u);
  EXPECT_EQ(windows(a, 2).rev().next()->front(), 4);
  std::string s = "abcd";
  EXPECT_EQ(chunks(s, 3).count(), 2u);
}

TEST(ChunksWindowsDeathTest, ZeroSizeIsAContractViolation) {
  std::array<int, 2> a = {1, 2};
  EXPECT_DEATH((void)chunks(a, 0), "chunks: the chunk size must not be 0");
  EXPECT_DEATH((void)windows(a, 0), "windows: the window size must not be 0");
}

// ---- consumers ----

TEST(ConsumersTest, FoldCountSum) {
  EXPECT_EQ(range(1, 5).fold(1, [](int a, int b) { return a * b; }), 24);
  EXPECT_EQ((range(1, 5) | fold(0, [](int a, int b) { return a - b; })), -10);
  EXPECT_EQ(range(0, 7).count(), 7u);
  EXPECT_EQ((range(0, 4) | map([](int x) { return x * 0.5; }) | sum()), 3.0);
}

TEST(ConsumersTest, MinMaxPickFirstMinAndLastMax) {
  std::vector<std::pair<int, char>> v = {{2, 'a'}, {1, 'b'}, {2, 'c'}, {1, 'd'}};
  auto key = [](const std::pair<int, char>& p) { return p.first; };
  EXPECT_EQ(from(v).min_by_key(key)->second, 'b');
  EXPECT_EQ(from(v).max_by_key(key)->second, 'c');
  EXPECT_EQ(*range(3, 9).min(), 3);
  EXPECT_EQ(*(range(3, 9) | max()), 8);
  EXPECT_FALSE(empty<int>().min());
  EXPECT_EQ(*range(0, 5).max_by([](int a, int b) { return a > b; }), 0);
  EXPECT_EQ(*(range(0, 5) | min_by([](int a, int b) { return a > b; })), 4);
}

TEST(ConsumersTest, AnyAllFindPositionNthLast) {
  EXPECT_TRUE(range(0, 5).any([](int x) { return x == 4; }));
  EXPECT_FALSE((range(0, 5) | any([](int x) { return x == 9; })));
  EXPECT_TRUE(range(0, 5).all([](int x) { return x < 5; }));
  EXPECT_FALSE(empty<int>().any([](int) { return true; }));
  EXPECT_TRUE(empty<int>().all([](int) { return false; }));
  EXPECT_EQ(*range(0, 10).find([](int x) { return x * x > 20; }), 5);
  EXPECT_EQ(*(range(0, 10) | position([](int x) { return x == 7; })), 7u);
  EXPECT_FALSE(range(0, 3).position([](int x) { return x == 7; }));
  EXPECT_EQ(*range(0, 10).nth(4), 4);
  EXPECT_FALSE(range(0, 3).nth(3));
  EXPECT_EQ(*range(0, 10).last(), 9);
  EXPECT_EQ(*(range(0, 10) | nth(2)), 2);
}

TEST(ConsumersTest, FindReturnsReferenceIntoContainer) {
  std::vector<int> v = {1, 2, 3};
  auto x = from(v).find([](int y) { return y == 2; });
  ASSERT_TRUE(x);
  *x = 20;
  EXPECT_EQ(v[1], 20);
}

TEST(ConsumersTest, ForEachAndPipeConsumersAdvanceLvalues) {
  int s = 0;
  range(0, 4).for_each([&](int x) { s += x; });
  EXPECT_EQ(s, 6);
  auto r = range(0, 10);
  EXPECT_EQ(*(r | find([](int x) { return x == 3; })), 3);
  EXPECT_EQ(*r.next(), 4);  // the pipe consumer advanced r in place
}

TEST(ConsumersTest, CollectAndPartition) {
  EXPECT_EQ(range(0, 3).collect<std::vector<int>>(), (V{0, 1, 2}));
  EXPECT_EQ((range(0, 3) | rev() | collect<std::vector>()), (V{2, 1, 0}));
  std::set<int> s = range(0, 4).map([](int x) { return x % 2; }).collect<std::set>();
  EXPECT_EQ(s, (std::set<int>{0, 1}));
  std::vector<int> src = {1, 2, 3};
  // Reference items collect as values.
  V copy = from(src).collect<std::vector>();
  copy[0] = 9;
  EXPECT_EQ(src[0], 1);
  auto [evens, odds] = range(0, 7).partition<std::vector>(even);
  EXPECT_EQ(evens, (V{0, 2, 4, 6}));
  EXPECT_EQ(odds, (V{1, 3, 5}));
  auto [e2, o2] = range(0, 3) | partition<std::vector<int>>(even);
  EXPECT_EQ(e2.size() + o2.size(), 3u);
}

TEST(AdaptorsTest, ChainsDoNotAllocate) {
  std::array<int, 16> a{};
  for (int i = 0; i < 16; ++i) a[i] = i;
  weft::testing::ScopedNoAlloc no_alloc;
  int s = from(a)
              .map([](int x) { return x * 3; })
              .filter(even)
              .enumerate()
              .map([](auto p) { return static_cast<int>(p.first) + p.second; })
              .zip(repeat(2))
              .map([](auto p) { return p.first * p.second; })
              .chain(once(1))
              .skip(1)
              .take(100)
              .step_by(1)
              .peekable()
              .fuse()
              .sum();
  int s2 = range(0, 5).flat_map([](int n) { return range(0, n); }).sum() +
           windows(a, 2).map([](std::span<int> w) { return w[1] - w[0]; }).sum() +
           range(1, 5).scan(1, [](int& st, int x) -> std::optional<int> { return st *= x; }).sum();
  // The same computation as a hand-written loop.
  int expect = 0;
  for (int i = 0, idx = 0; i < 16; ++i) {
    int x = a[i] * 3;
    if (x % 2 != 0) continue;
    if (idx > 0) expect += (idx + x) * 2;  // skip(1) drops the first
    ++idx;
  }
  expect += 1;
  EXPECT_EQ(s, expect);
  EXPECT_EQ(s2, (0 + 0 + 1 + 0 + 1 + 2 + 0 + 1 + 2 + 3) + 15 + (1 + 2 + 6 + 24));
}

}  // namespace
}  // namespace weft::iter
