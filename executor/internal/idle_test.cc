#include "executor/internal/idle.h"

#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

TEST(IdleTest, StartsWithEveryWorkerUnparkedAndNoneSearching) {
  Idle idle(4);
  EXPECT_EQ(idle.num_unparked(), 4u);
  EXPECT_EQ(idle.num_searching(), 0u);
  // Nobody sleeps: nobody to wake.
  EXPECT_FALSE(idle.worker_to_notify().has_value());
}

TEST(IdleTest, NotifyWakesOneSleeperAndCountsItSearching) {
  Idle idle(4);
  for (std::size_t id = 0; id < 3; ++id) EXPECT_FALSE(idle.transition_worker_to_parked(id, false));
  EXPECT_EQ(idle.num_unparked(), 1u);
  auto first = idle.worker_to_notify();
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(idle.is_parked(*first));
  EXPECT_EQ(idle.num_searching(), 1u);
  EXPECT_EQ(idle.num_unparked(), 2u);
  // A burst of more work wakes nobody else while that worker searches.
  EXPECT_FALSE(idle.worker_to_notify().has_value());
  EXPECT_FALSE(idle.worker_to_notify().has_value());
  // It finds work: as the last searcher it must wake one more.
  EXPECT_TRUE(idle.transition_worker_from_searching());
  auto second = idle.worker_to_notify();
  ASSERT_TRUE(second.has_value());
  EXPECT_NE(*first, *second);
}

TEST(IdleTest, AtMostHalfTheWorkersSearch) {
  Idle idle(4);
  EXPECT_TRUE(idle.transition_worker_to_searching());
  EXPECT_TRUE(idle.transition_worker_to_searching());
  EXPECT_FALSE(idle.transition_worker_to_searching());
  EXPECT_EQ(idle.num_searching(), 2u);
  EXPECT_FALSE(idle.transition_worker_from_searching());
  EXPECT_TRUE(idle.transition_worker_from_searching());
}

TEST(IdleTest, OneWorkerMaySearch) {
  Idle idle(1);
  EXPECT_TRUE(idle.transition_worker_to_searching());
  EXPECT_FALSE(idle.transition_worker_to_searching());
}

TEST(IdleTest, LastSearcherParkingIsReported) {
  Idle idle(2);
  ASSERT_TRUE(idle.transition_worker_to_searching());
  EXPECT_TRUE(idle.transition_worker_to_parked(0, /*is_searching=*/true));
  EXPECT_TRUE(idle.is_parked(0));
  EXPECT_EQ(idle.num_searching(), 0u);
  EXPECT_EQ(idle.num_unparked(), 1u);
  // A non-searching worker parking is never "the last searcher".
  EXPECT_FALSE(idle.transition_worker_to_parked(1, false));
  EXPECT_EQ(idle.num_unparked(), 0u);
}

TEST(IdleTest, UnparkByIdRemovesSleeperWithoutSearching) {
  Idle idle(3);
  idle.transition_worker_to_parked(2, false);
  EXPECT_TRUE(idle.unpark_worker_by_id(2));
  EXPECT_FALSE(idle.is_parked(2));
  EXPECT_FALSE(idle.unpark_worker_by_id(2));
  EXPECT_EQ(idle.num_unparked(), 3u);
  EXPECT_EQ(idle.num_searching(), 0u);
}

}  // namespace
}  // namespace weft::executor_internal
