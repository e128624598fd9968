#include "iter/sources.h"

#include <array>
#include <list>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tools/testing/alloc_counter.h"

namespace weft::iter {
namespace {

TEST(SourcesTest, HeaderExample) {
  std::vector<std::string> names = {"ada", "bob"};
  for (auto [i, name] : iter::from(names).enumerate()) name += std::to_string(i);
  EXPECT_EQ(names[0], "ada0");
  EXPECT_EQ(names[1], "bob1");
  int s = iter::range(1, 4).sum();
  EXPECT_EQ(s, 6);
}

TEST(FromTest, BorrowsContainerItemsAsReferences) {
  std::vector<int> v = {1, 2, 3};
  auto it = from(v);
  static_assert(std::is_same_v<decltype(it)::Item, int&>);
  auto x = it.next();
  ASSERT_TRUE(x);
  *x = 10;
  EXPECT_EQ(v[0], 10);
  EXPECT_EQ(size_hint(it), (SizeHint{2, 2}));
  const std::vector<int>& cv = v;
  static_assert(std::is_same_v<decltype(from(cv))::Item, const int&>);
}

TEST(FromTest, DoubleEndedOverBidirectionalRange) {
  std::list<int> l = {1, 2, 3, 4};
  auto it = from(l);
  EXPECT_EQ(*it.next_back(), 4);
  EXPECT_EQ(*it.next(), 1);
  EXPECT_EQ(*it.next_back(), 3);
  EXPECT_EQ(*it.next(), 2);
  EXPECT_FALSE(it.next());
  EXPECT_FALSE(it.next_back());
}

template <class T>
concept CanBorrow = requires(T&& t) { from(std::forward<T>(t)); };

TEST(FromTest, RejectsTemporaryContainersButAcceptsBorrowedRanges) {
  static_assert(!CanBorrow<std::vector<int>>);  // would dangle
  static_assert(CanBorrow<std::vector<int>&>);
  static_assert(CanBorrow<std::span<int>>);
  int a[3] = {1, 2, 3};
  EXPECT_EQ(from(std::span<int>(a)).sum(), 6);
}

TEST(FromTest, MapEntries) {
  std::map<std::string, int> m = {{"a", 1}, {"b", 2}};
  int total = from(m).map([](const auto& kv) { return kv.second; }).sum();
  EXPECT_EQ(total, 3);
}

TEST(RangeTest, ForwardBackwardAndEmpty) {
  auto r = range(0, 5);
  EXPECT_EQ(*r.next(), 0);
  EXPECT_EQ(*r.next_back(), 4);
  EXPECT_EQ(size_hint(r), (SizeHint{3, 3}));
  EXPECT_EQ(r.count(), 3u);
  EXPECT_EQ(range(5, 2).count(), 0u);  // b < a is empty, not a crash
  EXPECT_EQ(range<long>(-3, 3).sum(), -3);
}

TEST(RepeatOnceEmptyTest, Basics) {
  EXPECT_EQ(repeat(std::string("ab")).take(3).fold(std::string(), [](std::string a, std::string b) {
    return a + b;
  }),
            "ababab");
  auto o = once(7);
  EXPECT_EQ(size_hint(o), (SizeHint{1, 1}));
  EXPECT_EQ(*o.next(), 7);
  EXPECT_FALSE(o.next());
  EXPECT_EQ(size_hint(o), (SizeHint{0, 0}));
  EXPECT_FALSE(empty<int>().next());
  EXPECT_EQ(empty<int>().count(), 0u);
}

TEST(FromFnTest, CallsUntilEmpty) {
  int calls = 0;
  auto it = from_fn([&]() -> std::optional<int> {
    ++calls;
    if (calls <= 3) return calls;
    return std::nullopt;
  });
  EXPECT_EQ(it.sum(), 6);
  EXPECT_EQ(calls, 4);
}

TEST(SuccessorsTest, StopsAtFirstEmpty) {
  auto powers = successors(1, [](int x) -> std::optional<int> {
    if (x >= 64) return std::nullopt;
    return x * 2;
  });
  EXPECT_EQ(powers.collect<std::vector>(), (std::vector<int>{1, 2, 4, 8, 16, 32, 64}));
  EXPECT_EQ(successors(std::optional<int>(), [](int x) -> std::optional<int> { return x; }).count(), 0u);
}

TEST(SourcesTest, NoAllocation) {
  std::array<int, 8> a = {1, 2, 3, 4, 5, 6, 7, 8};
  weft::testing::ScopedNoAlloc no_alloc;
  int s = from(a).sum() + range(0, 10).sum() + repeat(1).take(5).sum() + once(3).sum();
  EXPECT_EQ(s, 36 + 45 + 5 + 3);
}

}  // namespace
}  // namespace weft::iter
