#include "executor/internal/inject_queue.h"

#include <atomic>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

struct Node {
  int id = 0;
  Node* next = nullptr;
};

// A custom link (as a task header would use).
struct Other {
  int id = 0;
  Other* link = nullptr;
};
struct OtherLink {
  static Other* get(const Other* o) noexcept { return o->link; }
  static void set(Other* o, Other* n) noexcept { o->link = n; }
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

TEST(InjectQueueTest, CustomLink) {
  InjectQueue<Other, OtherLink> q;
  Other a{1}, b{2};
  q.push(&a);
  q.push(&b);
  EXPECT_EQ(q.pop()->id, 1);
  EXPECT_EQ(q.pop()->id, 2);
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
