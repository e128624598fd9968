#include "channels/internal/waiter_list.h"

#include <vector>

#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

struct Node : ListLink<Node> {
  explicit Node(int v) : value(v) {}
  int value;
};

std::vector<int> values(IntrusiveList<Node>& l) {
  std::vector<int> out;
  l.for_each([&](Node* n) { out.push_back(n->value); });
  return out;
}

TEST(WaiterListTest, FifoOrderAndO1Removal) {
  Node a(1), b(2), c(3), d(4);
  IntrusiveList<Node> l;
  EXPECT_TRUE(l.empty());
  l.push_back(&a);
  l.push_back(&b);
  l.push_back(&c);
  l.push_front(&d);
  EXPECT_EQ(values(l), (std::vector<int>{4, 1, 2, 3}));
  EXPECT_EQ(l.size(), 4u);
  l.remove(&b);  // the middle
  EXPECT_FALSE(b.linked());
  EXPECT_EQ(values(l), (std::vector<int>{4, 1, 3}));
  l.remove(&c);  // the tail
  EXPECT_EQ(l.back(), &a);
  EXPECT_EQ(l.pop_front(), &d);  // the head
  EXPECT_EQ(l.pop_front(), &a);
  EXPECT_EQ(l.pop_front(), nullptr);
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.size(), 0u);
}

TEST(WaiterListTest, SpliceKeepsOrderAndEmptiesTheSource) {
  Node a(1), b(2), c(3);
  IntrusiveList<Node> l, m;
  l.push_back(&a);
  m.push_back(&b);
  m.push_back(&c);
  l.splice_back(m);
  EXPECT_TRUE(m.empty());
  EXPECT_EQ(values(l), (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(l.size(), 3u);
  l.for_each([&](Node* n) { l.remove(n); });  // unlinking the visited node is allowed
  EXPECT_TRUE(l.empty());
}

TEST(WaiterListTest, ACopiedNodeStartsUnlinked) {
  Node a(1);
  IntrusiveList<Node> l;
  l.push_back(&a);
  Node copy = a;
  EXPECT_TRUE(a.linked());
  EXPECT_FALSE(copy.linked());
  l.remove(&a);
}

}  // namespace
}  // namespace weft::channels_internal
