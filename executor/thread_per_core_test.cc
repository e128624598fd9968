#include "executor/thread_per_core.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using namespace std::chrono_literals;

TEST(ThreadPerCoreTest, HeaderExample) {
  weft::ThreadPerCore cores(2);
  auto h = cores.spawn_on(1, weft::lazy([&] { return *cores.current_core(); }));
  EXPECT_EQ(cores.block_on(std::move(h)).value(), 1u);
}

TEST(ThreadPerCoreTest, TasksStayOnTheirCore) {
  ThreadPerCore cores(3);
  EXPECT_EQ(cores.num_cores(), 3u);
  EXPECT_FALSE(cores.current_core().has_value());
  for (std::size_t c = 0; c < 3; ++c) {
    // A task that yields many times must be polled on one thread only.
    auto h = cores.spawn_on(c, poll_fn([&, polls = 0, first = std::thread::id()](Context& cx) mutable -> Poll<bool> {
      if (polls == 0) first = std::this_thread::get_id();
      if (first != std::this_thread::get_id() || cores.current_core() != c) return false;
      if (++polls == 100) return true;
      cx.waker().wake_by_ref();
      return Pending{};
    }));
    EXPECT_TRUE(cores.block_on(std::move(h)).value()) << "core " << c;
  }
  EXPECT_EQ(cores.counters().stolen, 0u);
}

Task<std::size_t> hop(ThreadPerCore* cores, int hops) {
  // Each hop sends work to the next core and awaits it there.
  std::size_t visited = 0;
  for (int i = 0; i < hops; ++i) {
    const std::size_t next = (*cores->current_core() + 1) % cores->num_cores();
    auto h = cores->spawn_on(next, lazy([cores] { return *cores->current_core(); }));
    visited += ((co_await std::move(h)).value() == next) ? 1 : 0;
  }
  co_return visited;
}

TEST(ThreadPerCoreTest, SpawnOnAnotherCoreFromACore) {
  ThreadPerCore cores(2);
  EXPECT_EQ(cores.block_on(cores.spawn_on(0, hop(&cores, 200))).value(), 200u);
  EXPECT_EQ(cores.counters(0).spawned + cores.counters(1).spawned, 201u);
}

TEST(ThreadPerCoreTest, SpawnLocalStaysOnCallingCore) {
  ThreadPerCore cores(2);
  auto outer = [](ThreadPerCore* cs) -> Task<bool> {
    const std::size_t me = *cs->current_core();
    auto h = cs->spawn_local(lazy([cs] { return *cs->current_core(); }));
    co_return (co_await std::move(h)).value() == me;
  };
  EXPECT_TRUE(cores.block_on(cores.spawn_on(1, outer(&cores))).value());
}

TEST(ThreadPerCoreTest, PinningIsAttemptedAndFailuresAreCounted) {
  ThreadPerCore cores(2);
  // Wait until both threads ran their start-up (one task per core).
  for (std::size_t c = 0; c < 2; ++c) (void)cores.block_on(cores.spawn_on(c, ready(0)));
  EXPECT_LE(cores.pin_failures(), 2u);
  ThreadPerCoreOptions no_pin;
  no_pin.cores = 2;
  no_pin.pin = false;
  ThreadPerCore unpinned(no_pin);
  for (std::size_t c = 0; c < 2; ++c) (void)unpinned.block_on(unpinned.spawn_on(c, ready(0)));
  EXPECT_EQ(unpinned.pin_failures(), 0u);
}

#if defined(__linux__)
TEST(ThreadPerCoreTest, PinnedCoreRunsOnOneCpu) {
  ThreadPerCore cores(2);
  auto h = cores.spawn_on(0, lazy([] {
    cpu_set_t set;
    CPU_ZERO(&set);
    pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
    return CPU_COUNT(&set);
  }));
  const int cpus = cores.block_on(std::move(h)).value();
  if (cores.pin_failures() == 0) {
    EXPECT_EQ(cpus, 1);
  }
}
#endif

class Forever {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  explicit Forever(std::atomic<int>* destroyed) : destroyed_(destroyed) {}
  Forever(Forever&& o) noexcept : destroyed_(std::exchange(o.destroyed_, nullptr)) {}
  ~Forever() {
    if (destroyed_ != nullptr) destroyed_->fetch_add(1);
  }
  Poll<Unit> poll(Context&) { return Pending{}; }

 private:
  std::atomic<int>* destroyed_;
};

TEST(ThreadPerCoreTest, ShutdownCancelsTasksOnEveryCore) {
  std::atomic<int> destroyed{0};
  std::vector<JoinHandle<Unit>> hs;
  {
    ThreadPerCore cores(2);
    for (int i = 0; i < 20; ++i) hs.push_back(cores.spawn_on(i % 2, Forever(&destroyed)));
    cores.spawn_on_detached(0, Forever(&destroyed));
    EXPECT_EQ(cores.dump().size(), 21u);
    EXPECT_FALSE(cores.shutdown(1ms));
    EXPECT_EQ(cores.live_tasks(), 0u);
    auto late = cores.spawn_on(1, Forever(&destroyed));
    EXPECT_TRUE(block_on(std::move(late)).is_cancelled());
  }
  EXPECT_EQ(destroyed.load(), 22);
  for (auto& h : hs) EXPECT_TRUE(block_on(std::move(h)).is_cancelled());
}

TEST(ThreadPerCoreTest, ManyCrossCoreSpawns) {
  ThreadPerCore cores(2);
  // From outside, alternating cores.
  std::vector<JoinHandle<int>> hs;
  for (int i = 0; i < 20000; ++i) hs.push_back(cores.spawn_on(i % 2, ready(1)));
  int sum = 0;
  for (auto& h : hs) sum += cores.block_on(std::move(h)).value();
  EXPECT_EQ(sum, 20000);
  EXPECT_TRUE(cores.shutdown(5s));
}

}  // namespace
}  // namespace weft
