// -----------------------------------------------------------------------------
// File: executor/internal/static_task.h
// -----------------------------------------------------------------------------
//
// `StaticTaskHeader`: the type-erased part of a `TaskStorage<F>` that a
// `StaticExecutor<N>` keeps in its slot table (embassy's `TaskHeader` /
// `TaskRef`). Not API.
//
// A `TaskStorage<F>` derives (privately) from `StaticTaskHeader` and adds one union
// cell holding nothing, the future `F`, or its output. The executor sees only
// `StaticTaskHeader*` and goes through `vtable` to poll or cancel the future.
//
// State word: `word = generation << 2 | state`, one 32-bit atomic so that a
// reader on another thread sees a consistent (generation, state) pair.
//
//          spawn (1)              Ready (2)
//   VACANT ─────────> RUNNING ───────────────> FINISHED ──take (4)──> VACANT
//     ^  ^               │                        │
//     │  │               └── abort / executor ──> CANCELLED
//     │  │                   destroyed (3)          │
//     │  └──────────── spawn (1) ───────────────────┘ (also from FINISHED:
//     └──────── kNoMemory rollback (5)                the output is dropped)
//
//   (1) `StaticExecutor::spawn`: generation + 1, RUNNING, `vtable` and
//       `slot` set, future built in the cell.
//   (2) the future's poll returned Ready: the future is destroyed, the
//       output constructed in the cell, then FINISHED is published.
//   (3) the future is destroyed in place; CANCELLED.
//   (4) `take_output`: the output is moved out and destroyed; VACANT.
//   (5) the factory built a `Task` whose frame could not be allocated: it
//       is destroyed again and the storage goes back to VACANT.
//
// Invariants and who touches what:
//   - every transition, `vtable`, `slot` and the cell are written only by
//     the executor's owner thread (the one that spawns and polls);
//   - the cell holds the future exactly in RUNNING and the output exactly in
//     FINISHED; nothing otherwise;
//   - `word` may be read from any thread (`is_finished()` on a handle).
//
// Memory ordering: the owner publishes every transition with a release store
// of `word`; readers load it with acquire, so a reader that sees FINISHED
// also sees the output's construction (it may not touch the output, which is
// the owner's, but e.g. a thread that then hands the storage back to the
// owner needs no further fence). No read-modify-write is used (only loads
// and stores), so the word works on cores without atomic RMW (Cortex-M0).
//
// `vtable` and `slot` are set lazily at spawn (not in the constructor), so
// that a `constinit` storage is all zero bytes and lands in .bss (embassy
// does the same with its `poll_fn`).
//
// Costs: sizeof(StaticTaskHeader) is a pointer + 4 + 2 bytes (16 on 64-bit, 12 on
// 32-bit targets). Freestanding.
#ifndef WEFT_EXECUTOR_INTERNAL_STATIC_TASK_H_
#define WEFT_EXECUTOR_INTERNAL_STATIC_TASK_H_

#include <cstddef>
#include <cstdint>

#include "executor/internal/sync.h"
#include "future/context.h"

namespace weft::executor_internal {

class StaticTaskHeader;

// StaticTaskVTable: one per future type, in read-only memory.
struct StaticTaskVTable {
  // Polls the future once. True when it completed: the future was destroyed
  // and its output stored (state FINISHED).
  bool (*poll)(StaticTaskHeader& task, Context& cx) noexcept;
  // Destroys the future in place (state CANCELLED).
  void (*cancel)(StaticTaskHeader& task) noexcept;
};

// StaticTaskHeader
//
// See the header comment. Constant-initialisable to all zero bytes.
class StaticTaskHeader {
 public:
  static constexpr std::uint32_t kVacant = 0;
  static constexpr std::uint32_t kRunning = 1;
  static constexpr std::uint32_t kFinished = 2;
  static constexpr std::uint32_t kCancelled = 3;

  static constexpr std::uint32_t kStateMask = 3;
  static constexpr std::uint32_t kGenerationShift = 2;
  // Generations count modulo 2^30.
  static constexpr std::uint32_t kGenerationMask = ~std::uint32_t{0} >> kGenerationShift;

  static constexpr std::uint32_t pack(std::uint32_t generation, std::uint32_t state) noexcept {
    return (generation << kGenerationShift) | state;
  }
  static constexpr std::uint32_t state_of(std::uint32_t word) noexcept { return word & kStateMask; }
  static constexpr std::uint32_t generation_of(std::uint32_t word) noexcept {
    return word >> kGenerationShift;
  }

  constexpr StaticTaskHeader() noexcept = default;
  StaticTaskHeader(const StaticTaskHeader&) = delete;
  StaticTaskHeader& operator=(const StaticTaskHeader&) = delete;

  // Any thread: the (generation, state) word, acquire.
  std::uint32_t load() const noexcept { return word_.load(sync::kAcquire); }
  // Owner thread: its own last store (no synchronisation needed).
  std::uint32_t load_owner() const noexcept { return word_.load(sync::kRelaxed); }
  // Owner thread: publishes a transition (release).
  void publish(std::uint32_t generation, std::uint32_t state) noexcept {
    word_.store(pack(generation, state), sync::kRelease);
  }

  const StaticTaskVTable* vtable = nullptr;  // owner only; set at spawn
  std::uint16_t slot = 0;                    // owner only; executor slot while RUNNING

 private:
  sync::Atomic<std::uint32_t> word_{0};
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_STATIC_TASK_H_
