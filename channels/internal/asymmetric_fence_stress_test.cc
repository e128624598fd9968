#include "channels/internal/asymmetric_fence.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

// The store-buffer litmus test (Dekker): each side stores its flag, fences,
// then loads the other's. With the fences, at least one side must see the
// other's store in every round. (Without them x86 shows r1 == r2 == 0 within
// a few thousand rounds: the stores wait in the store buffers.)
TEST(AsymmetricFenceTest, StoreThenLoadIsOrderedOnBothSides) {
  if (!asymmetric_fence::available()) GTEST_SKIP() << "membarrier(PRIVATE_EXPEDITED) not available here";
  constexpr int kRounds = 20000;
  std::atomic<int> x{0}, y{0};
  std::atomic<int> go{0};    // round number the hot side may start
  std::atomic<int> done{0};  // rounds the hot side finished
  std::atomic<int> r1{0};
  int both_zero = 0;
  std::thread hot([&] {
    for (int round = 1; round <= kRounds; ++round) {
      while (go.load(std::memory_order_acquire) != round) {
      }
      x.store(1, std::memory_order_relaxed);
      asymmetric_fence::light_fence();
      r1.store(y.load(std::memory_order_relaxed), std::memory_order_relaxed);
      done.store(round, std::memory_order_release);
    }
  });
  for (int round = 1; round <= kRounds; ++round) {
    x.store(0, std::memory_order_relaxed);
    y.store(0, std::memory_order_relaxed);
    go.store(round, std::memory_order_release);
    y.store(1, std::memory_order_relaxed);
    asymmetric_fence::heavy_fence();
    const int r2 = x.load(std::memory_order_relaxed);
    while (done.load(std::memory_order_acquire) != round) {
    }
    if (r2 == 0 && r1.load(std::memory_order_relaxed) == 0) both_zero += 1;
  }
  hot.join();
  EXPECT_EQ(both_zero, 0);
}

TEST(AsymmetricFenceTest, AvailabilityIsStable) {
  EXPECT_EQ(asymmetric_fence::available(), asymmetric_fence::available());
}

}  // namespace
}  // namespace weft::channels_internal
