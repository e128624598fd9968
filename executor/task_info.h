// -----------------------------------------------------------------------------
// File: executor/task_info.h
// -----------------------------------------------------------------------------
//
// The small value types every weft executor shares for introspection:
//
//   SpawnSite         file:line of a `spawn` call, captured for free by a
//                     defaulted argument (`SpawnSite::current()`).
//   TaskId            a task's id (unique among the tasks of a process until
//                     2^32 spawns; ids are for dumps and logs).
//   TaskRunState      kRunning / kScheduled / kIdle / kComplete.
//   TaskInfo          one line of a task dump: id, spawn site, state.
//   ExecutorCounters  spawned, polled, stolen, parked (per executor).
//   format_task_dump  renders a dump, one task per line.
//
// Rust: tokio's `task::Id`, `runtime::dump` and `RuntimeMetrics`.
//
// Costs: plain values; `SpawnSite::current()` is two constants.
// Contract: `SpawnSite::file` points at a string literal (static storage).
//
// Example:
//
//   weft::LocalExecutor ex;
//   auto h = ex.spawn_local(weft::pending<int>());
//   for (const weft::TaskInfo& t : ex.dump())
//     std::printf("%s\n", weft::to_string(t).c_str());  // "task 7 idle at a.cc:12"
//
#ifndef WEFT_EXECUTOR_TASK_INFO_H_
#define WEFT_EXECUTOR_TASK_INFO_H_

#include <cstdint>
#include <string>
#include <vector>

namespace weft {

// SpawnSite
//
// Where a task was spawned. Spawn functions take `SpawnSite site =
// SpawnSite::current()` as their last parameter, so the caller's file and line
// are recorded without a macro.
struct SpawnSite {
  const char* file = "?";
  std::uint32_t line = 0;

  static constexpr SpawnSite current(const char* file = __builtin_FILE(),
                                     std::uint32_t line = __builtin_LINE()) noexcept {
    return SpawnSite{file, line};
  }
};

// TaskId
using TaskId = std::uint32_t;

// TaskRunState
//
// What a live task is doing: being polled, queued to be polled, or waiting
// for a wake-up. `kComplete` tasks have finished (their output may still sit
// in the task, waiting for the JoinHandle).
enum class TaskRunState : std::uint8_t { kRunning, kScheduled, kIdle, kComplete };

inline const char* to_string(TaskRunState s) noexcept {
  switch (s) {
    case TaskRunState::kRunning:
      return "running";
    case TaskRunState::kScheduled:
      return "scheduled";
    case TaskRunState::kIdle:
      return "idle";
    case TaskRunState::kComplete:
      return "complete";
  }
  return "?";
}

// TaskInfo
//
// One entry of a task dump.
struct TaskInfo {
  TaskId id = 0;
  SpawnSite site;
  TaskRunState state = TaskRunState::kIdle;
};

// "task 12 idle at executor/foo.cc:42"
inline std::string to_string(const TaskInfo& t) {
  std::string s = "task " + std::to_string(t.id) + " " + to_string(t.state) + " at ";
  s += t.site.file;
  s += ":" + std::to_string(t.site.line);
  return s;
}

// One line per task (see `to_string(const TaskInfo&)`).
inline std::string format_task_dump(const std::vector<TaskInfo>& dump) {
  std::string out;
  for (const TaskInfo& t : dump) {
    out += to_string(t);
    out += '\n';
  }
  return out;
}

// ExecutorCounters
//
// Monotonic counters of one executor. `polled` counts task polls (not polls
// of a `block_on` root future); `stolen` counts tasks taken from another
// worker's queue (always 0 on single-thread executors); `parked` counts the
// times a thread went to sleep waiting for work.
struct ExecutorCounters {
  std::uint64_t spawned = 0;
  std::uint64_t polled = 0;
  std::uint64_t stolen = 0;
  std::uint64_t parked = 0;
};

}  // namespace weft

#endif  // WEFT_EXECUTOR_TASK_INFO_H_
