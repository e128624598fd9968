// -----------------------------------------------------------------------------
// File: executor/deterministic_executor.h
// -----------------------------------------------------------------------------
//
// `DeterministicExecutor(seed)`: a `LocalExecutor` for tests whose choice of
// the next ready task is made by a generator seeded with `seed` instead of
// FIFO order. The same program with the same seed runs its tasks in the same
// interleaving; a failing interleaving found by looping over seeds reproduces
// from its seed alone. Rust: tokio's `RngSeed` for `select!`/LocalSet,
// loom's and madsim's seeded schedulers.
//
// Costs: as LocalExecutor, plus a vector for the ready set (swap-remove from
// a random index: O(1)) and a splitmix64 step per task poll.
// Contract: everything of LocalExecutor. Determinism holds for what runs on
// its thread: wakes arriving from other threads land in the ready set in
// arrival order, which the OS decides; time-dependent futures are as
// deterministic as their clock.
//
// Example:
//
//   std::string trace;
//   weft::DeterministicExecutor ex(/*seed=*/42);
//   for (char c : std::string("abc"))
//     ex.spawn_detached(weft::lazy([&trace, c] { trace += c; }));
//   ex.run_until_stalled();   // trace is a fixed permutation of "abc" for seed 42
//
#ifndef WEFT_EXECUTOR_DETERMINISTIC_EXECUTOR_H_
#define WEFT_EXECUTOR_DETERMINISTIC_EXECUTOR_H_

#include <cstdint>

#include "executor/local_executor.h"

namespace weft {

// DeterministicExecutor
class DeterministicExecutor : public LocalExecutor {
 public:
  explicit DeterministicExecutor(std::uint64_t seed) : seed_(seed) { set_seed(seed); }

  std::uint64_t seed() const noexcept { return seed_; }

 private:
  std::uint64_t seed_;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_DETERMINISTIC_EXECUTOR_H_
