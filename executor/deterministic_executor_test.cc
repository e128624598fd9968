#include "executor/deterministic_executor.h"

#include <set>
#include <string>
#include <utility>

#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

TEST(DeterministicExecutorTest, HeaderExample) {
  std::string trace;
  weft::DeterministicExecutor ex(/*seed=*/42);
  for (char c : std::string("abc")) ex.spawn_detached(weft::lazy([&trace, c] { trace += c; }));
  ex.run_until_stalled();
  EXPECT_EQ(trace.size(), 3u);
}

// Eight tasks that each yield three times and log every step: the log is the
// interleaving.
std::string interleaving(std::uint64_t seed) {
  std::string trace;
  DeterministicExecutor ex(seed);
  auto worker = [&trace](char name) -> Task<> {
    for (int step = 0; step < 3; ++step) {
      trace += name;
      co_await yield_now();
    }
  };
  for (char c = 'a'; c < 'a' + 8; ++c) ex.spawn_detached(worker(c));
  ex.run_until_stalled();
  EXPECT_EQ(ex.live_tasks(), 0u);
  return trace;
}

TEST(DeterministicExecutorTest, SameSeedSameInterleaving) {
  for (std::uint64_t seed : {1ull, 7ull, 12345ull}) {
    EXPECT_EQ(interleaving(seed), interleaving(seed)) << "seed " << seed;
  }
}

TEST(DeterministicExecutorTest, DifferentSeedsExploreDifferentInterleavings) {
  std::set<std::string> traces;
  for (std::uint64_t seed = 0; seed < 16; ++seed) traces.insert(interleaving(seed));
  EXPECT_GE(traces.size(), 15u);  // 24!/(3!^8) orders: collisions are negligible
  EXPECT_EQ(traces.count("abcdefghabcdefghabcdefgh"), 0u);  // not just FIFO
}

TEST(DeterministicExecutorTest, BlockOnAndJoinHandlesWork) {
  DeterministicExecutor ex(3);
  auto h = ex.spawn_local(ready(5));
  EXPECT_EQ(ex.block_on(std::move(h)).value(), 5);
  EXPECT_EQ(ex.seed(), 3u);
}

}  // namespace
}  // namespace weft
