#include "executor/internal/inject_queue.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

struct Node {
  int id = 0;
};

TEST(InjectQueueTest, PushPopIsFifo) {
  InjectQueue<Node> q;
  Node n[4];
  for (int i = 0; i < 4; ++i) n[i].id = i;
  EXPECT_TRUE(q.is_empty());
  EXPECT_EQ(q.pop(), nullptr);
  for (auto& x : n) EXPECT_TRUE(q.push(&x));
  EXPECT_EQ(q.len(), 4u);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(q.pop()->id, i);
  EXPECT_EQ(q.pop(), nullptr);
  EXPECT_TRUE(q.is_empty());
}

TEST(InjectQueueTest, BatchKeepsOrderAndPopNTakesAtMostMax) {
  InjectQueue<Node> q;
  Node n[6];
  for (int i = 0; i < 6; ++i) n[i].id = i;
  EXPECT_TRUE(q.push(&n[0]));
  Node* batch[4] = {&n[1], &n[2], &n[3], &n[4]};
  EXPECT_TRUE(q.push_batch(batch, 4));
  EXPECT_TRUE(q.push(&n[5]));
  std::vector<int> got;
  EXPECT_EQ(q.pop_n(4, [&](Node* x) { got.push_back(x->id); }), 4u);
  EXPECT_EQ(got, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(q.len(), 2u);
  EXPECT_EQ(q.pop_n(10, [&](Node* x) { got.push_back(x->id); }), 2u);
  EXPECT_EQ(got.back(), 5);
  EXPECT_EQ(q.pop_n(10, [&](Node*) {}), 0u);
}

TEST(InjectQueueTest, ClosedQueueRefusesPushesButDrains) {
  InjectQueue<Node> q;
  Node a, b, c;
  EXPECT_TRUE(q.push(&a));
  q.close();
  EXPECT_TRUE(q.is_closed());
  EXPECT_FALSE(q.push(&b));
  Node* batch[1] = {&c};
  EXPECT_FALSE(q.push_batch(batch, 1));
  EXPECT_EQ(q.pop(), &a);
  EXPECT_EQ(q.pop(), nullptr);
}

// Thousands of items span many blocks: order, counts, the batch walk and
// for_each_if cross block boundaries, and a queue emptied and refilled
// reuses its blocks (checked under ASan for leaks and stale slots).
TEST(InjectQueueTest, ManyBlocksKeepFifoOrderAndAreReused) {
  InjectQueue<Node> q;
  constexpr int kN = 3 * static_cast<int>(InjectQueue<Node>::kBlockSize) + 17;
  std::vector<Node> n(kN);
  for (int i = 0; i < kN; ++i) n[i].id = i;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kN; ++i) ASSERT_TRUE(q.push(&n[i], /*counted=*/i % 2 == 0));
    EXPECT_EQ(q.len(), static_cast<std::size_t>(kN));
    int expect = 0;
    EXPECT_TRUE(q.for_each_if([] { return true; }, [&](const Node& x) { EXPECT_EQ(x.id, expect++); }));
    EXPECT_EQ(expect, kN);
    std::vector<int> got;
    while (got.size() < static_cast<std::size_t>(kN)) {
      // Batches of 100 end inside blocks and cross their ends.
      ASSERT_GT(q.pop_n(100, [&](Node* x) { got.push_back(x->id); }), 0u);
    }
    for (int i = 0; i < kN; ++i) ASSERT_EQ(got[i], i);
    EXPECT_TRUE(q.is_empty());
    EXPECT_EQ(q.pop(), nullptr);
  }
  EXPECT_EQ(q.counted_pushes(), 3u * ((kN + 1) / 2));
}

// A dump after some pops lists what is left, from the middle of a block on.
TEST(InjectQueueTest, ForEachAfterPopsStartsAtTheHead) {
  InjectQueue<Node> q;
  constexpr int kN = 2 * static_cast<int>(InjectQueue<Node>::kBlockSize) + 5;
  std::vector<Node> n(kN);
  for (int i = 0; i < kN; ++i) {
    n[i].id = i;
    ASSERT_TRUE(q.push(&n[i]));
  }
  for (int popped : {100, 200}) {  // a head inside the first block, then inside the second
    while (q.len() > static_cast<std::size_t>(kN - popped)) ASSERT_NE(q.pop(), nullptr);
    int expect = popped;
    EXPECT_TRUE(q.for_each_if([] { return true; }, [&](const Node& x) { EXPECT_EQ(x.id, expect++); }));
    EXPECT_EQ(expect, kN);
  }
  while (q.pop() != nullptr) {
  }
}

// One block filled exactly, emptied while it is both head and tail, and
// refilled: its slots are reused from the start, in order.
TEST(InjectQueueTest, AFullSingleBlockDrainsAndIsReused) {
  InjectQueue<Node> q;
  constexpr int kB = static_cast<int>(InjectQueue<Node>::kBlockSize);
  std::vector<Node> n(2 * kB + 1);
  for (int i = 0; i < 2 * kB + 1; ++i) n[i].id = i;
  for (int i = 0; i < kB; ++i) ASSERT_TRUE(q.push(&n[i]));
  std::vector<int> got;
  EXPECT_EQ(q.pop_n(kB - 1, [&](Node* x) { got.push_back(x->id); }), static_cast<std::size_t>(kB - 1));
  ASSERT_TRUE(q.push(&n[kB]));  // the block is full: this one starts the next
  EXPECT_EQ(q.pop_n(10, [&](Node* x) { got.push_back(x->id); }), 2u);
  for (int i = 0; i <= kB; ++i) ASSERT_EQ(got[i], i);
  EXPECT_TRUE(q.is_empty());
  // Exactly one block's worth, taken in one batch, then again.
  for (int round = 0; round < 2; ++round) {
    got.clear();
    for (int i = 0; i < kB; ++i) ASSERT_TRUE(q.push(&n[kB + 1 + (i % kB)]));
    EXPECT_EQ(q.pop_n(kB, [&](Node* x) { got.push_back(x->id); }), static_cast<std::size_t>(kB));
    for (int i = 0; i < kB; ++i) ASSERT_EQ(got[i], kB + 1 + i);
    EXPECT_EQ(q.pop(), nullptr);
  }
}

// Two pops per three pushes: the queue grows by a third of the pushes, so
// single pops cross block ends while pushes fill new blocks.
TEST(InjectQueueTest, AlternatingPushAndPopStayFifo) {
  InjectQueue<Node> q;
  std::vector<Node> n(2000);
  for (int i = 0; i < 2000; ++i) n[i].id = i;
  int next_pop = 0;
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(q.push(&n[i]));
    if (i % 3 != 2) {
      Node* x = q.pop();
      ASSERT_NE(x, nullptr);
      ASSERT_EQ(x->id, next_pop++);
    }
  }
  while (Node* x = q.pop()) ASSERT_EQ(x->id, next_pop++);
  EXPECT_EQ(next_pop, 2000);
}

TEST(InjectQueueTest, ConcurrentProducersAndConsumersTakeEachOnce) {
  constexpr int kProducers = 3;
  constexpr int kEach = 20000;
  InjectQueue<Node> q;
  std::vector<Node> nodes(kProducers * kEach);
  for (int i = 0; i < kProducers * kEach; ++i) nodes[i].id = i;
  std::vector<std::atomic<int>> seen(kProducers * kEach);
  std::atomic<int> consumed{0};
  std::vector<std::thread> ts;
  for (int p = 0; p < kProducers; ++p) {
    ts.emplace_back([&, p] {
      for (int i = 0; i < kEach; ++i) q.push(&nodes[p * kEach + i]);
    });
  }
  for (int c = 0; c < 2; ++c) {
    ts.emplace_back([&] {
      while (consumed.load() < kProducers * kEach) {
        q.pop_n(7, [&](Node* n) {
          seen[n->id].fetch_add(1);
          consumed.fetch_add(1);
        });
      }
    });
  }
  for (auto& t : ts) t.join();
  for (auto& s : seen) EXPECT_EQ(s.load(), 1);
  EXPECT_TRUE(q.is_empty());
}

}  // namespace
}  // namespace weft::executor_internal
