#include "iter/iterator.h"

#include <iterator>
#include <optional>
#include <ranges>
#include <string>
#include <type_traits>

#include "gtest/gtest.h"
#include "iter/iter.h"

namespace weft::iter {
namespace {

// A user-defined iterator that does not derive from Ext.
struct Countdown {
  using Item = int;
  int n;
  Option<int> next() { return n > 0 ? Option<int>(n--) : std::nullopt; }
};

struct NotAnIterator {
  int next() { return 0; }
};

struct WrongOption {
  using Item = int;
  std::optional<long> next() { return 1; }
};

struct Refs {
  using Item = int&;
  int* p;
  int* end;
  Option<int&> next() { return p == end ? Option<int&>() : Option<int&>(*p++); }
};

static_assert(Iterator<Countdown>);
static_assert(Iterator<Refs>);
static_assert(!Iterator<NotAnIterator>);
static_assert(!Iterator<WrongOption>);
static_assert(!Iterator<int>);
static_assert(!DoubleEndedIterator<Countdown>);
static_assert(DoubleEndedIterator<Range<int>>);
static_assert(std::is_same_v<Option<int>, std::optional<int>>);
static_assert(std::is_same_v<Option<int&>, OptRef<int>>);
static_assert(std::is_same_v<Option<const int&>, OptRef<const int>>);
static_assert(sizeof(OptRef<int>) == sizeof(int*));
static_assert(std::is_same_v<OptionValueOf<std::optional<std::string>>, std::string>);
static_assert(std::is_same_v<OptionValueOf<OptRef<int>>, int&>);
// OptRef must not bind to a temporary.
static_assert(!std::is_constructible_v<OptRef<const int>, int&&>);

// Every weft iterator is a std::ranges::input_range, also after adapting.
using Mapped = decltype(range(0, 3).map([](int x) { return x; }));
static_assert(std::ranges::input_range<Range<int>>);
static_assert(std::ranges::input_range<Mapped>);
static_assert(std::input_iterator<RangeIter<Range<int>>>);
static_assert(std::ranges::input_range<Generator<int>>);
static_assert(std::ranges::input_range<From<std::string&>>);

TEST(OptRefTest, BehavesLikeOptionalOfReference) {
  int x = 5;
  OptRef<int> r(x);
  ASSERT_TRUE(r.has_value());
  *r = 7;
  EXPECT_EQ(x, 7);
  EXPECT_EQ(r.operator->(), &x);
  r.reset();
  EXPECT_FALSE(r);
  EXPECT_TRUE(r == std::nullopt);
  OptRef<const int> c = OptRef<int>(x);
  EXPECT_EQ(*c, 7);
}

TEST(IteratorTest, UserIteratorWorksWithPipeForm) {
  EXPECT_EQ(Countdown{4} | sum(), 10);
  EXPECT_EQ((Countdown{4} | map([](int x) { return x * 2; }) | count()), 4u);
  // Method form after the first pipe.
  EXPECT_EQ((Countdown{3} | map([](int x) { return x + 1; })).sum(), 9);
}

TEST(IteratorTest, SizeHintDefaultsToUnbounded) {
  EXPECT_EQ(size_hint(Countdown{3}), (SizeHint{0, std::nullopt}));
  EXPECT_EQ(size_hint(range(2, 7)), (SizeHint{5, 5}));
}

TEST(IteratorTest, RangeForOverWeftIterator) {
  int out[4] = {};
  int i = 0;
  for (int x : range(0, 4).map([](int v) { return v * v; })) out[i++] = x;
  EXPECT_EQ(i, 4);
  EXPECT_EQ(out[3], 9);
}

TEST(IteratorTest, RangeForOverReferenceItemsWritesThrough) {
  int a[3] = {1, 2, 3};
  Refs r{a, a + 3};
  for (int& x : ByRef<Refs>(r)) x *= 2;
  EXPECT_EQ(a[0], 2);
  EXPECT_EQ(a[2], 6);
}

TEST(IteratorTest, StdRangesAlgorithmsAcceptWeftIterators) {
  auto r = range(1, 6);
  auto it = std::ranges::find(r, 3);
  ASSERT_NE(it, std::ranges::end(r));
  EXPECT_EQ(*it, 3);
}

}  // namespace
}  // namespace weft::iter
