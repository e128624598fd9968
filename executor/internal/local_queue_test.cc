#include "executor/internal/local_queue.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

// Items are distinct addresses in a table; the value is the index.
struct Item {
  int id;
};

class LocalQueueTest : public ::testing::Test {
 protected:
  LocalQueueTest() {
    items_.resize(4096);
    for (int i = 0; i < 4096; ++i) items_[i].id = i;
  }
  Item* item(int i) { return &items_[i]; }

  std::vector<Item> items_;
  std::vector<int> overflowed_;
  std::vector<std::size_t> overflow_calls_;
  auto sink() {
    return [this](Item* const* xs, std::size_t n) {
      overflow_calls_.push_back(n);
      for (std::size_t i = 0; i < n; ++i) overflowed_.push_back(xs[i]->id);
    };
  }
};

TEST_F(LocalQueueTest, OwnerPopsInFifoOrder) {
  LocalQueue<Item*, 8> q;
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  for (int i = 0; i < 5; ++i) q.push_back(item(i), sink());
  EXPECT_EQ(q.len(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(q.pop()->id, i);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(overflowed_.empty());
}

TEST_F(LocalQueueTest, FullQueueOverflowsOldestHalfPlusNewItem) {
  LocalQueue<Item*, 8> q;
  for (int i = 0; i < 8; ++i) q.push_back(item(i), sink());
  EXPECT_EQ(q.remaining_slots(), 0u);
  EXPECT_TRUE(overflowed_.empty());
  q.push_back(item(8), sink());
  ASSERT_EQ(overflow_calls_.size(), 1u);
  EXPECT_EQ(overflow_calls_[0], 5u);  // N/2 + 1
  EXPECT_EQ(overflowed_, (std::vector<int>{0, 1, 2, 3, 8}));
  EXPECT_EQ(q.len(), 4u);
  for (int i = 4; i < 8; ++i) EXPECT_EQ(q.pop()->id, i);
  EXPECT_EQ(q.pop(), nullptr);
}

TEST_F(LocalQueueTest, StealTakesTheLargerHalfAndReturnsOne) {
  LocalQueue<Item*, 16> victim;
  LocalQueue<Item*, 16> thief;
  for (int i = 0; i < 7; ++i) victim.push_back(item(i), sink());
  std::uint32_t moved = 0;
  Item* got = victim.steal_into(thief, &moved);
  ASSERT_NE(got, nullptr);
  EXPECT_EQ(moved, 4u);
  // ceil(7/2) = 4 stolen: items 0..3; the newest of them is returned.
  EXPECT_EQ(got->id, 3);
  EXPECT_EQ(thief.len(), 3u);
  EXPECT_EQ(victim.len(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(thief.pop()->id, i);
  for (int i = 4; i < 7; ++i) EXPECT_EQ(victim.pop()->id, i);
}

TEST_F(LocalQueueTest, StealOfOneItemReturnsItWithoutQueueing) {
  LocalQueue<Item*, 8> victim;
  LocalQueue<Item*, 8> thief;
  victim.push_back(item(1), sink());
  EXPECT_EQ(victim.steal_into(thief)->id, 1);
  EXPECT_TRUE(thief.is_empty());
  EXPECT_TRUE(victim.is_empty());
  EXPECT_EQ(victim.steal_into(thief), nullptr);
}

TEST_F(LocalQueueTest, StealRefusedWhenDestinationMoreThanHalfFull) {
  LocalQueue<Item*, 8> victim;
  LocalQueue<Item*, 8> thief;
  for (int i = 0; i < 4; ++i) victim.push_back(item(i), sink());
  for (int i = 10; i < 15; ++i) thief.push_back(item(i), sink());  // 5 > 8/2
  EXPECT_EQ(victim.steal_into(thief), nullptr);
  EXPECT_EQ(victim.len(), 4u);
  thief.pop();  // 4: allowed again
  EXPECT_NE(victim.steal_into(thief), nullptr);
}

TEST_F(LocalQueueTest, BatchPushUsesRemainingSlots) {
  LocalQueue<Item*, 8> q;
  q.push_back(item(0), sink());
  EXPECT_EQ(q.remaining_slots(), 7u);
  Item* batch[3] = {item(1), item(2), item(3)};
  q.push_back_batch(batch, 3);
  EXPECT_EQ(q.remaining_slots(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop()->id, i);
}

TEST_F(LocalQueueTest, IndicesWrapAroundTwoToThe32) {
  // Start just below the wrap and push/pop/steal/overflow across it.
  LocalQueue<Item*, 8> q(0xFFFFFFF0u);
  LocalQueue<Item*, 8> thief(0xFFFFFFFAu);
  int next_in = 0;
  int next_out = 0;
  std::vector<int> seen;
  for (int round = 0; round < 200; ++round) {
    for (int k = 0; k < 3; ++k) q.push_back(item(next_in++ % 4096), sink());
    if (round % 5 == 0) {
      if (Item* s = q.steal_into(thief)) seen.push_back(s->id);
      while (Item* t = thief.pop()) seen.push_back(t->id);
    }
    for (int k = 0; k < 2; ++k) {
      if (Item* t = q.pop()) seen.push_back(t->id);
    }
  }
  while (Item* t = q.pop()) seen.push_back(t->id);
  for (int id : overflowed_) seen.push_back(id);
  (void)next_out;
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(next_in));
  std::vector<int> count(4096, 0);
  for (int id : seen) count[id] += 1;
  for (int i = 0; i < next_in; ++i) EXPECT_EQ(count[i], 1) << i;
}

}  // namespace
}  // namespace weft::executor_internal
