#include "executor/static_executor.h"

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <type_traits>
#include <utility>

#include "executor/error.h"
#include "future/frame_allocator.h"
#include "future/join.h"
#include "future/ready.h"
#include "future/select.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

// ----------------------------------------------------------------------------
// The header example, verbatim except for `main`, which a test cannot have:
// HeaderExample below runs its body with an executor whose Idle policy
// "sleeps until the next SysTick" by calling the handler (the header's
// `StaticExecutor<4>` sleeps in `wfi`, which exists only on Cortex-M).
// ----------------------------------------------------------------------------
namespace header_example {

struct Signal {                         // a flag and the task waiting for it
  bool raised = false;
  weft::Waker waiter;
  void raise() noexcept {               // from a task or an interrupt handler
    weft::CriticalSection cs;
    raised = true;
    waiter.wake_by_ref();               // StaticExecutor: sets a ready bit
  }
  auto wait() noexcept {                // a future: Ready once raised
    return weft::poll_fn([this](weft::Context& cx) -> weft::Poll<weft::Unit> {
      weft::CriticalSection cs;
      if (std::exchange(raised, false)) return weft::Unit{};
      weft::register_waker(waiter, cx.waker());
      return weft::Pending{};
    });
  }
};

struct ArenaTag;
using Job = weft::Task<int, weft::TaskArena<1024, ArenaTag>>;  // frames in .bss
constinit Signal tick, full, empty{.raised = true, .waiter = {}};
int mailbox = 0;

Job producer() {                        // one value per tick
  for (int i = 1; i <= 3; ++i) {
    co_await tick.wait();
    co_await empty.wait();
    mailbox = i;
    full.raise();
  }
  co_return 0;
}
Job consumer() {                        // sums what the producer sends
  int sum = 0;
  for (int i = 0; i < 3; ++i) {
    co_await full.wait();
    sum += mailbox;
    empty.raise();
  }
  co_return sum;
}

int ticks = 0;
extern "C" void SysTick_Handler() { tick.raise(); }  // an interrupt

// The test's stand-in for `wfi`: the next "interrupt" is a SysTick.
struct SimulatedSysTick {
  template <class HasWork>
  void wait(HasWork&& has_work) noexcept {
    if (!has_work()) {
      ticks += 1;
      SysTick_Handler();
    }
  }
  void notify() noexcept {}
};

constinit weft::TaskStorage<Job> producer_task, consumer_task;
constinit weft::StaticExecutor<4, weft::DefaultLockPolicy, SimulatedSysTick> executor;

int example_main() {
  auto p = executor.spawn(producer_task, [] { return producer(); });
  auto c = executor.spawn(consumer_task, [] { return consumer(); });
  if (!p || !c) return 1;                            // kBusy or kNoMemory
  executor.run_until([&] { return c->is_finished(); });  // wfi while idle
  return *c->take_output() == 6 ? 0 : 1;
}

}  // namespace header_example

namespace weft {
namespace {

using testing::ScopedNoAlloc;

TEST(SpawnErrorTest, HeaderExample) {
  weft::SpawnResult<int> r = weft::SpawnError::kBusy;
  EXPECT_FALSE(r);
  EXPECT_EQ(r.error(), weft::SpawnError::kBusy);
  EXPECT_STREQ(weft::describe(r.error()), "busy: no free task slot");

  SpawnResult<int> ok = 3;
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(*ok, 3);
  EXPECT_STREQ(describe(SpawnError::kNoMemory),
               "no memory: the task's frame could not be allocated");
}

TEST(StaticExecutorTest, HeaderExample) {
  EXPECT_EQ(header_example::example_main(), 0);
  EXPECT_EQ(header_example::ticks, 3);  // slept once per value, woken by SysTick
  // The producer finished too (its last step ran before the consumer's).
  EXPECT_EQ(header_example::producer_task.state(), StaticTaskState::kFinished);
  EXPECT_EQ(header_example::executor.live(), 0u);
  // The signals still hold wakers of finished tasks: raising them is harmless.
  header_example::SysTick_Handler();
  EXPECT_EQ(header_example::executor.run_until_idle(), 0u);
}

// ----------------------------------------------------------------------------
// Test futures
// ----------------------------------------------------------------------------

// Gate: opened from outside; `WaitGate` futures wait for it.
struct Gate {
  bool open = false;
  Waker waiter;
  int polls = 0;
  void release() {
    open = true;
    waiter.wake_by_ref();
  }
};

class WaitGate {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;

  WaitGate(Gate* gate, int value, int* dropped = nullptr)
      : gate_(gate), value_(value), dropped_(dropped) {}
  WaitGate(WaitGate&& o) noexcept
      : gate_(o.gate_), value_(o.value_), dropped_(std::exchange(o.dropped_, nullptr)) {}
  ~WaitGate() {
    if (dropped_ != nullptr) *dropped_ += 1;
  }

  Poll<int> poll(Context& cx) {
    gate_->polls += 1;
    if (gate_->open) return value_;
    register_waker(gate_->waiter, cx.waker());
    return Pending{};
  }

 private:
  Gate* gate_;
  int value_;
  int* dropped_;
};

// Pending (after waking itself) `n` times, then Ready(n). Counts its polls.
class YieldTimes {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  YieldTimes(int n, int* polls) : left_(n), n_(n), polls_(polls) {}

  Poll<int> poll(Context& cx) {
    *polls_ += 1;
    if (left_ == 0) return n_;
    left_ -= 1;
    cx.waker().wake_by_ref();
    return Pending{};
  }

 private:
  int left_;
  int n_;
  int* polls_;
};

// Wakes itself on every poll until `*stop`; logs its id into `log`.
struct Log {
  int ids[64] = {};
  int size = 0;
  void add(int id) {
    if (size < 64) ids[size++] = id;
  }
};
class Spinner {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;

  Spinner(int id, Log* log, const bool* stop, int* dropped)
      : id_(id), log_(log), stop_(stop), dropped_(dropped) {}
  Spinner(Spinner&& o) noexcept
      : id_(o.id_), log_(o.log_), stop_(o.stop_), dropped_(std::exchange(o.dropped_, nullptr)) {}
  ~Spinner() {
    if (dropped_ != nullptr) *dropped_ += 1;
  }

  Poll<Unit> poll(Context& cx) {
    log_->add(id_);
    if (*stop_) return Unit{};
    cx.waker().wake_by_ref();
    return Pending{};
  }

 private:
  int id_;
  Log* log_;
  const bool* stop_;
  int* dropped_;
};

// A leaf that does `total` units of work, one `poll_proceed` each.
class Hog {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  Hog(int total, int* done) : total_(total), done_(done) {}

  Poll<int> poll(Context& cx) {
    while (*done_ < total_) {
      if (!cx.poll_proceed()) return Pending{};
      *done_ += 1;
    }
    return *done_;
  }

 private:
  int total_;
  int* done_;
};

// Neither copyable nor movable: only guaranteed elision can place it.
class Immovable {
 public:
  using Output = int;
  static constexpr bool kUnpin = false;

  explicit Immovable(int v) : v_(v) {}
  Immovable(const Immovable&) = delete;
  Immovable(Immovable&&) = delete;

  Poll<int> poll(Context&) {
    if (self_ == nullptr) self_ = this;
    EXPECT_EQ(self_, this);
    return v_;
  }

 private:
  int v_;
  const Immovable* self_ = nullptr;
};

// A future that calls a function on its poll (for tests that act from inside
// a task), then is Pending (without waking) or Ready.
template <class Fn>
class Inside {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  Inside(Fn fn, bool ready, int* dropped) : fn_(std::move(fn)), ready_(ready), dropped_(dropped) {}
  Inside(Inside&& o) noexcept
      : fn_(std::move(o.fn_)), ready_(o.ready_), dropped_(std::exchange(o.dropped_, nullptr)) {}
  ~Inside() {
    if (dropped_ != nullptr) *dropped_ += 1;
  }

  Poll<int> poll(Context&) {
    fn_();
    if (ready_) return 7;
    return Pending{};
  }

 private:
  Fn fn_;
  bool ready_;
  int* dropped_;
};

// ----------------------------------------------------------------------------
// Spawn, run, complete
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, SpawnAndRunToCompletion) {
  TaskStorage<Ready<int>> storage;
  StaticExecutor<4> ex;
  auto h = ex.spawn(storage, [] { return ready(42); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->slot(), 0u);
  EXPECT_EQ(storage.state(), StaticTaskState::kRunning);
  EXPECT_FALSE(h->is_finished());
  EXPECT_EQ(ex.live(), 1u);

  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_TRUE(h->is_finished());
  EXPECT_FALSE(h->is_cancelled());
  EXPECT_EQ(ex.live(), 0u);
  EXPECT_TRUE(ex.is_free(0));
  EXPECT_EQ(storage.state(), StaticTaskState::kFinished);
  EXPECT_EQ(h->take_output(), std::optional<int>(42));
  EXPECT_EQ(h->take_output(), std::nullopt);  // once
  EXPECT_EQ(storage.state(), StaticTaskState::kVacant);
}

TEST(StaticExecutorTest, OnlyWokenTasksArePolled) {
  Gate gates[3];
  TaskStorage<WaitGate> storages[3];
  StaticExecutor<8> ex;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ex.spawn(storages[i], [&, i] { return WaitGate(&gates[i], i); }).ok());
  }
  EXPECT_EQ(ex.poll_once(), 3u);  // each polled once: its first poll
  EXPECT_EQ(ex.poll_once(), 0u);  // nothing woken: nothing polled
  EXPECT_FALSE(ex.has_ready());
  for (const Gate& g : gates) EXPECT_EQ(g.polls, 1);

  gates[1].waiter.wake_by_ref();  // a wake without progress: a spurious poll
  EXPECT_TRUE(ex.has_ready());
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(gates[0].polls, 1);
  EXPECT_EQ(gates[1].polls, 2);
  EXPECT_EQ(gates[2].polls, 1);

  gates[2].release();
  gates[2].waiter.wake_by_ref();  // two wakes before a pass: one poll
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(gates[2].polls, 2);
  EXPECT_EQ(storages[2].state(), StaticTaskState::kFinished);
  EXPECT_EQ(ex.live(), 2u);

  gates[0].release();
  gates[1].release();
  EXPECT_EQ(ex.run_until_idle(), 2u);
  EXPECT_EQ(ex.live(), 0u);
}

TEST(StaticExecutorTest, WakeBySlotAndWakerCopies) {
  Gate gate;
  TaskStorage<WaitGate> storage;
  StaticExecutor<4> ex;
  auto h = ex.spawn(storage, [&] { return WaitGate(&gate, 5); });
  ASSERT_TRUE(h.ok());
  ex.run_until_idle();
  ASSERT_EQ(gate.polls, 1);

  // The stored waker is the slot's waker; copies wake the same slot.
  EXPECT_TRUE(gate.waiter.will_wake(ex.waker(h->slot())));
  EXPECT_FALSE(gate.waiter.will_wake(ex.waker(h->slot() + 1)));
  Waker copy = gate.waiter;
  Waker moved = std::move(copy);
  std::move(moved).wake();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(gate.polls, 2);

  // An interrupt handler that knows the slot needs no waker.
  gate.open = true;
  ex.wake(h->slot());
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(h->take_output(), std::optional<int>(5));
}

// ----------------------------------------------------------------------------
// Capacity: kBusy, never a crash
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, FullTableIsBusyAndExecutorKeepsWorking) {
  Gate gates[3];
  TaskStorage<WaitGate> storages[3];
  StaticExecutor<2> ex;
  ASSERT_TRUE(ex.spawn(storages[0], [&] { return WaitGate(&gates[0], 0); }).ok());
  ASSERT_TRUE(ex.spawn(storages[1], [&] { return WaitGate(&gates[1], 1); }).ok());

  bool called = false;
  auto full = ex.spawn(storages[2], [&] {
    called = true;
    return WaitGate(&gates[2], 2);
  });
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error(), SpawnError::kBusy);
  EXPECT_STREQ(describe(full.error()), "busy: no free task slot");
  EXPECT_FALSE(called);  // the factory only runs when there is room
  EXPECT_EQ(storages[2].state(), StaticTaskState::kVacant);

  EXPECT_EQ(ex.run_until_idle(), 2u);
  gates[1].release();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(ex.live(), 1u);

  // The freed slot takes the next spawn.
  auto h = ex.spawn(storages[2], [&] { return WaitGate(&gates[2], 2); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->slot(), 1u);
  gates[0].release();
  gates[2].release();
  EXPECT_EQ(ex.run_until_idle(), 2u);
  EXPECT_EQ(h->take_output(), std::optional<int>(2));
}

TEST(StaticExecutorTest, RunningStorageIsBusy) {
  Gate gate;
  TaskStorage<WaitGate> storage;
  StaticExecutor<4> ex;
  ASSERT_TRUE(ex.spawn(storage, [&] { return WaitGate(&gate, 1); }).ok());
  auto again = ex.spawn(storage, [&] { return WaitGate(&gate, 2); });
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error(), SpawnError::kBusy);
  EXPECT_EQ(ex.live(), 1u);
  gate.release();
  ex.run_until_idle();
}

TEST(StaticExecutorTest, TaskPoolSpawnsIntoFreeStorage) {
  Gate gates[4];
  TaskPool<WaitGate, 3> pool;
  StaticExecutor<8> ex;
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(ex.spawn(pool, [&, i] { return WaitGate(&gates[i], i); }).ok());
  }
  EXPECT_EQ(pool.running(), 3u);
  auto busy = ex.spawn(pool, [&] { return WaitGate(&gates[3], 3); });
  ASSERT_FALSE(busy.ok());  // the pool is full, not the table
  EXPECT_EQ(busy.error(), SpawnError::kBusy);

  ex.run_until_idle();
  gates[1].release();
  ex.run_until_idle();
  EXPECT_EQ(pool.running(), 2u);
  auto h = ex.spawn(pool, [&] { return WaitGate(&gates[3], 3); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(&h->storage(), &pool[1]);  // the storage that finished
  for (Gate& g : gates) g.release();
  ex.run_until_idle();
  EXPECT_EQ(pool.running(), 0u);
  EXPECT_EQ(h->take_output(), std::optional<int>(3));
}

TEST(StaticExecutorTest, MultiWordTable) {
  constexpr std::size_t kN = 40;
  Gate gates[kN];
  TaskStorage<WaitGate> storages[kN + 1];
  StaticExecutor<kN> ex;
  for (std::size_t i = 0; i < kN; ++i) {
    auto h = ex.spawn(storages[i], [&, i] { return WaitGate(&gates[i], static_cast<int>(i)); });
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->slot(), i);
  }
  auto busy = ex.spawn(storages[kN], [&] { return WaitGate(&gates[0], -1); });
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(ex.run_until_idle(), kN);

  // Wakes in both words reach exactly their tasks.
  gates[3].release();
  gates[35].release();
  gates[39].waiter.wake_by_ref();
  EXPECT_EQ(ex.run_until_idle(), 3u);
  EXPECT_EQ(gates[3].polls, 2);
  EXPECT_EQ(gates[35].polls, 2);
  EXPECT_EQ(gates[39].polls, 2);
  EXPECT_EQ(gates[4].polls, 1);
  EXPECT_EQ(storages[35].state(), StaticTaskState::kFinished);
  EXPECT_EQ(ex.live(), kN - 2);

  auto h = ex.spawn(storages[kN], [&] { return WaitGate(&gates[0], -1); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(h->slot(), 3u);  // the lowest free slot
  for (Gate& g : gates) g.release();
  ex.run_until_idle();
  EXPECT_EQ(ex.live(), 0u);
}

TEST(StaticExecutorTest, LargestTableDecodesEveryWaker) {
  static StaticExecutor<256> ex;  // 256-byte aligned: the waker carries slot 255
  static_assert(alignof(StaticExecutor<256>) == 256);
  for (std::size_t slot : {std::size_t{0}, std::size_t{1}, std::size_t{31}, std::size_t{32},
                           std::size_t{200}, std::size_t{255}}) {
    ex.waker(slot).wake_by_ref();
    EXPECT_TRUE(ex.has_ready()) << slot;
    EXPECT_EQ(ex.poll_once(), 0u);  // free slots: the stale bits are skipped
    EXPECT_FALSE(ex.has_ready()) << slot;
  }
  Gate gate;
  TaskStorage<WaitGate> storages[256];
  for (auto& s : storages) ASSERT_TRUE(ex.spawn(s, [&] { return WaitGate(&gate, 0); }).ok());
  EXPECT_EQ(ex.run_until_idle(), 256u);
  ex.wake(255);
  EXPECT_EQ(ex.run_until_idle(), 1u);
  gate.open = true;
  for (std::size_t i = 0; i < 256; ++i) ex.wake(i);
  EXPECT_EQ(ex.run_until_idle(), 256u);
  EXPECT_EQ(ex.live(), 0u);
}

// ----------------------------------------------------------------------------
// Slot reuse and stale wakers / handles
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, SlotAndStorageReuseAfterCompletion) {
  TaskStorage<Ready<int>> storage;
  StaticExecutor<1> ex;
  auto first = ex.spawn(storage, [] { return ready(1); });
  ASSERT_TRUE(first.ok());
  ex.run_until_idle();
  ASSERT_TRUE(first->is_finished());

  // Respawning drops the untaken output of the previous run.
  auto second = ex.spawn(storage, [] { return ready(2); });
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->slot(), 0u);
  EXPECT_TRUE(first->is_finished());  // its run is over, whatever the storage does now
  EXPECT_FALSE(second->is_finished());
  ex.run_until_idle();
  EXPECT_EQ(first->take_output(), std::nullopt);  // stale handle: not its output
  EXPECT_EQ(second->take_output(), std::optional<int>(2));
  EXPECT_FALSE(ex.abort(*first));
  EXPECT_FALSE(ex.abort(*second));  // finished
}

TEST(StaticExecutorTest, StaleWakerOfFinishedSlotIsHarmless) {
  Gate old_gate, new_gate;
  TaskStorage<WaitGate> a, b;
  StaticExecutor<1> ex;
  ASSERT_TRUE(ex.spawn(a, [&] { return WaitGate(&old_gate, 1); }).ok());
  ex.run_until_idle();
  old_gate.release();
  ex.run_until_idle();
  ASSERT_EQ(a.state(), StaticTaskState::kFinished);
  ASSERT_FALSE(old_gate.waiter.is_noop());  // still holds the finished task's waker

  // 1. The slot is free: the stale wake sets a bit that the pass skips.
  old_gate.waiter.wake_by_ref();
  EXPECT_TRUE(ex.has_ready());
  EXPECT_EQ(ex.run_until_idle(), 0u);

  // 2. A new task took the slot: the stale wake is one spurious poll of it.
  auto h = ex.spawn(b, [&] { return WaitGate(&new_gate, 2); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(new_gate.polls, 1);
  old_gate.waiter.wake_by_ref();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(new_gate.polls, 2);
  EXPECT_FALSE(h->is_finished());  // still pending: nothing went wrong
  new_gate.release();
  ex.run_until_idle();
  EXPECT_EQ(h->take_output(), std::optional<int>(2));
}

// ----------------------------------------------------------------------------
// Fairness: round robin + budget
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, SelfWakingTaskCannotStarveOthers) {
  Log log;
  bool stop = false;
  int dropped = 0;
  int polls = 0;
  TaskStorage<Spinner> spinner;
  TaskStorage<YieldTimes> yielder;
  StaticExecutor<4> ex;
  auto s = ex.spawn(spinner, [&] { return Spinner(0, &log, &stop, &dropped); });
  auto y = ex.spawn(yielder, [&] { return YieldTimes(5, &polls); });
  ASSERT_TRUE(s.ok() && y.ok());

  // Every pass polls each ready task exactly once: the yielder finishes after
  // its 6 polls although the spinner is always ready.
  for (int pass = 1; pass <= 6; ++pass) {
    EXPECT_EQ(ex.poll_once(), 2u) << pass;
    EXPECT_EQ(log.size, pass);
    EXPECT_EQ(polls, pass);
  }
  EXPECT_TRUE(y->is_finished());
  EXPECT_EQ(y->take_output(), std::optional<int>(5));
  EXPECT_EQ(ex.poll_once(), 1u);  // the spinner alone

  // Aborting the spinner cancels it: its destructor runs, its slot is freed.
  EXPECT_TRUE(ex.abort(*s));
  EXPECT_EQ(dropped, 1);
  EXPECT_TRUE(s->is_finished());
  EXPECT_TRUE(s->is_cancelled());
  EXPECT_EQ(spinner.state(), StaticTaskState::kCancelled);
  EXPECT_EQ(ex.live(), 0u);
  EXPECT_EQ(ex.run_until_idle(), 0u);  // its pending self-wake is stale now
  EXPECT_FALSE(ex.abort(*s));
}

// Logs its id at every poll; never wakes itself; Ready once `*stop`.
class Sleeper {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;

  Sleeper(int id, Log* log, const bool* stop) : id_(id), log_(log), stop_(stop) {}

  Poll<Unit> poll(Context&) {
    log_->add(id_);
    if (*stop_) return Unit{};
    return Pending{};
  }

 private:
  int id_;
  Log* log_;
  const bool* stop_;
};

TEST(StaticExecutorTest, RoundRobinStartsAfterTheLastPolledTask) {
  Log log;
  bool stop = false;
  TaskStorage<Sleeper> sleepers[4];
  StaticExecutor<4> ex;
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(ex.spawn(sleepers[i], [&, i] { return Sleeper(i, &log, &stop); }).ok());
  }
  EXPECT_EQ(ex.poll_once(), 4u);  // 0 1 2 3; the next pass starts at 0
  ex.wake(0);
  ex.wake(1);
  EXPECT_EQ(ex.poll_once(), 2u);  // 0 1; the next pass starts at 2
  for (int i = 0; i < 4; ++i) ex.wake(i);
  EXPECT_EQ(ex.poll_once(), 4u);  // 2 3 0 1; next starts at 2
  ex.wake(1);
  ex.wake(3);
  EXPECT_EQ(ex.poll_once(), 2u);  // 3 1
  const int expected[] = {0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 3, 1};
  ASSERT_EQ(log.size, 12);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(log.ids[i], expected[i]) << i;

  stop = true;
  for (int i = 0; i < 4; ++i) ex.wake(i);
  EXPECT_EQ(ex.run_until_idle(), 4u);
  EXPECT_EQ(ex.live(), 0u);
}

TEST(StaticExecutorTest, BudgetBoundsOnePoll) {
  int done = 0;
  int polls = 0;
  TaskStorage<Hog> hog;
  TaskStorage<YieldTimes> other;
  StaticExecutor<4> ex;
  auto h = ex.spawn(hog, [&] { return Hog(1000, &done); });
  ASSERT_TRUE(h.ok());
  ASSERT_TRUE(ex.spawn(other, [&] { return YieldTimes(100, &polls); }).ok());
  EXPECT_EQ(ex.poll_once(), 2u);
  EXPECT_EQ(done, static_cast<int>(Budget::kDefault));  // then it yielded (and woke itself)
  EXPECT_EQ(polls, 1);
  EXPECT_EQ(ex.poll_once(), 2u);
  EXPECT_EQ(done, 2 * static_cast<int>(Budget::kDefault));
  ex.run_until_idle();
  EXPECT_EQ(h->take_output(), std::optional<int>(1000));
}

// ----------------------------------------------------------------------------
// Abort and destruction
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, AbortFromAnotherTask) {
  StaticExecutor<4> ex;
  std::optional<StaticTaskHandle<WaitGate>> victim_handle;
  auto kill = [&] { EXPECT_TRUE(ex.abort(*victim_handle)); };
  int dropped_killer = 0;
  TaskStorage<Inside<decltype(kill)>> killer;
  ASSERT_TRUE(ex.spawn(killer, [&] { return Inside(kill, true, &dropped_killer); }).ok());

  int dropped_victim = 0;
  Gate gate;
  TaskStorage<WaitGate> victim;
  auto v = ex.spawn(victim, [&] { return WaitGate(&gate, 1, &dropped_victim); });
  ASSERT_TRUE(v.ok());
  victim_handle = *v;

  // Both are ready; the killer (slot 0) runs first and aborts the victim
  // (slot 1), which this pass then skips: it is never polled.
  EXPECT_EQ(ex.poll_once(), 1u);
  EXPECT_EQ(gate.polls, 0);
  EXPECT_EQ(dropped_victim, 1);
  EXPECT_EQ(dropped_killer, 1);  // finished: its future was destroyed too
  EXPECT_TRUE(victim_handle->is_cancelled());
  EXPECT_EQ(victim.state(), StaticTaskState::kCancelled);
  EXPECT_EQ(ex.live(), 0u);
  EXPECT_FALSE(ex.abort(*victim_handle));  // already cancelled
}

// Self-abort: the task names its own handle through a global (the handle is
// known only after spawn returns).
std::optional<StaticTaskHandle<Inside<void (*)()>>> g_self;
StaticExecutor<2>* g_self_ex = nullptr;
void abort_self() { EXPECT_TRUE(g_self_ex->abort(*g_self)); }

TEST(StaticExecutorTest, TaskAbortingItselfIsCancelledAfterItsPoll) {
  StaticExecutor<2> ex;
  g_self_ex = &ex;
  int dropped = 0;
  TaskStorage<Inside<void (*)()>> storage;
  auto h = ex.spawn(storage, [&] { return Inside<void (*)()>(&abort_self, false, &dropped); });
  ASSERT_TRUE(h.ok());
  g_self = *h;
  EXPECT_EQ(ex.poll_once(), 1u);
  EXPECT_EQ(dropped, 1);  // destroyed right after its poll returned Pending
  EXPECT_TRUE(h->is_cancelled());
  EXPECT_EQ(ex.live(), 0u);

  // If the poll that aborts completes the task, its output is kept.
  auto h2 = ex.spawn(storage, [&] { return Inside<void (*)()>(&abort_self, true, &dropped); });
  ASSERT_TRUE(h2.ok());
  g_self = *h2;
  EXPECT_EQ(ex.poll_once(), 1u);
  EXPECT_FALSE(h2->is_cancelled());
  EXPECT_EQ(h2->take_output(), std::optional<int>(7));
  g_self.reset();
}

TEST(StaticExecutorTest, DestroyingTheExecutorCancelsRunningTasks) {
  int dropped = 0;
  Gate gates[3];
  TaskStorage<WaitGate> storages[3];
  {
    StaticExecutor<4> ex;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(ex.spawn(storages[i], [&, i] { return WaitGate(&gates[i], i, &dropped); }).ok());
    }
    ex.run_until_idle();
    gates[0].release();
    ex.run_until_idle();  // task 0 finished (destroyed once), 1 and 2 pending
    EXPECT_EQ(dropped, 1);
  }
  EXPECT_EQ(dropped, 3);
  EXPECT_EQ(storages[0].state(), StaticTaskState::kFinished);
  EXPECT_EQ(storages[1].state(), StaticTaskState::kCancelled);
  EXPECT_EQ(storages[2].state(), StaticTaskState::kCancelled);
}

TEST(StaticExecutorDeathTest, DestroyingARunningStorageIsAHardeningAssert) {
  EXPECT_DEATH(
      {
        Gate gate;
        std::optional<TaskStorage<WaitGate>> storage;
        storage.emplace();
        StaticExecutor<2> ex;
        (void)ex.spawn(*storage, [&] { return WaitGate(&gate, 0); });
        storage.reset();
      },
      "TaskStorage destroyed while its task runs");
}

TEST(StaticExecutorDeathTest, PollingFromInsideATaskIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "contract checks are debug-only";
#else
  EXPECT_DEATH(
      {
        StaticExecutor<2> ex;
        auto nested = [&] { (void)ex.poll_once(); };
        TaskStorage<Inside<decltype(nested)>> storage;
        (void)ex.spawn(storage, [&] { return Inside(nested, true, nullptr); });
        ex.poll_once();
      },
      "must not be called from inside one of its tasks");
#endif
}

// ----------------------------------------------------------------------------
// Futures of every kind: Task + arena, join/select, immovable
// ----------------------------------------------------------------------------

struct TaskArenaTag;
using Arena = TaskArena<4096, TaskArenaTag>;

Task<int, Arena> add_after_yield(int a, int b) {
  co_await yield_now();
  co_return a + b;
}
Task<int, Arena> sum_after(Gate& gate, int n) {
  int sum = 0;
  for (int i = 1; i <= n; ++i) sum += co_await add_after_yield(i, 0);
  sum += co_await WaitGate(&gate, 100);
  co_return sum;
}

TEST(StaticExecutorTest, RunsTasksWithArenaFrames) {
  Gate gate;
  TaskStorage<Task<int, Arena>> storage;
  StaticExecutor<4> ex;
  auto h = ex.spawn(storage, [&] { return sum_after(gate, 4); });
  ASSERT_TRUE(h.ok());
  EXPECT_EQ(ex.run_until_idle(), 5u);  // first poll + one per yield
  EXPECT_FALSE(h->is_finished());
  EXPECT_GT(Arena::live(), 0u);
  gate.release();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(h->take_output(), std::optional<int>(110));
  EXPECT_EQ(Arena::live(), 0u);  // the frame went back when the task finished
}

struct TinyArenaTag;
using TinyArena = TaskArena<32, TinyArenaTag>;
Task<int, TinyArena> too_big() {
  int big[64] = {};
  co_await yield_now();
  co_return big[3];
}

TEST(StaticExecutorTest, FullArenaIsNoMemoryAndFreesTheSlot) {
  TaskStorage<Task<int, TinyArena>> storage;
  StaticExecutor<1> ex;
  auto h = ex.spawn(storage, [] { return too_big(); });
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error(), SpawnError::kNoMemory);
  EXPECT_EQ(storage.state(), StaticTaskState::kVacant);
  EXPECT_EQ(ex.live(), 0u);
  EXPECT_FALSE(ex.has_ready());
  TaskStorage<Ready<int>> other;
  auto ok = ex.spawn(other, [] { return ready(3); });
  ASSERT_TRUE(ok.ok());
  ex.run_until_idle();
  EXPECT_EQ(ok->take_output(), std::optional<int>(3));
}

TEST(StaticExecutorTest, RunsJoinAndSelect) {
  Gate gate;
  auto make_join = [&] { return join(WaitGate(&gate, 1), yield_now(), ready(2)); };
  auto make_select = [&] { return select_biased(WaitGate(&gate, 5), pending<int>()); };
  TaskStorage<decltype(make_join())> j;
  TaskStorage<decltype(make_select())> s;
  StaticExecutor<4> ex;
  auto jh = ex.spawn(j, make_join);
  auto sh = ex.spawn(s, make_select);
  ASSERT_TRUE(jh.ok() && sh.ok());
  ex.run_until_idle();
  EXPECT_FALSE(jh->is_finished());
  gate.release();  // the gate keeps one waker (the last task that waited): wake both
  ex.wake(jh->slot());
  ex.wake(sh->slot());
  ex.run_until_idle();
  auto joined = jh->take_output();
  ASSERT_TRUE(joined.has_value());
  EXPECT_EQ(std::get<0>(*joined), 1);
  EXPECT_EQ(std::get<2>(*joined), 2);
  auto selected = sh->take_output();
  ASSERT_TRUE(selected.has_value());
  EXPECT_EQ(selected->index(), 0u);
  EXPECT_EQ(std::get<0>(*selected), 5);
}

TEST(StaticExecutorTest, ImmovableFutureIsBuiltInPlace) {
  static_assert(!std::is_move_constructible_v<Immovable>);
  TaskStorage<Immovable> storage;
  StaticExecutor<1> ex;
  auto h = ex.spawn(storage, [] { return Immovable(9); });
  ASSERT_TRUE(h.ok());
  ex.run_until_idle();
  EXPECT_EQ(h->take_output(), std::optional<int>(9));
}

TEST(StaticExecutorTest, NothingAllocates) {
  Gate gate;
  int polls = 0;
  TaskStorage<Task<int, Arena>> task;
  TaskStorage<YieldTimes> yielder;
  TaskPool<Ready<int>, 2> pool;
  StaticExecutor<8> ex;
  {
    ScopedNoAlloc no_alloc;
    auto t = ex.spawn(task, [&] { return sum_after(gate, 3); });
    auto y = ex.spawn(yielder, [&] { return YieldTimes(10, &polls); });
    auto p = ex.spawn(pool, [] { return ready(1); });
    ASSERT_TRUE(t.ok() && y.ok() && p.ok());
    ex.run_until_idle();
    gate.release();
    ex.run_until_idle();
    EXPECT_EQ(t->take_output(), std::optional<int>(106));
    EXPECT_EQ(y->take_output(), std::optional<int>(10));
    EXPECT_EQ(p->take_output(), std::optional<int>(1));
    Waker w = ex.waker(0);
    Waker copy = w;
    copy.wake_by_ref();
    ex.run_until_idle();
  }
}

// ----------------------------------------------------------------------------
// Lock policies
// ----------------------------------------------------------------------------

TEST(StaticExecutorTest, CriticalSectionPolicyRunsTheSameWay) {
  Gate gates[2];
  TaskStorage<WaitGate> storages[2];
  StaticExecutor<2, CriticalSectionPolicy> ex;
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(ex.spawn(storages[i], [&, i] { return WaitGate(&gates[i], i); }).ok());
  }
  EXPECT_EQ(ex.run_until_idle(), 2u);
  gates[1].release();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(storages[1].state(), StaticTaskState::kFinished);
  gates[0].release();
  EXPECT_EQ(ex.run_until_idle(), 1u);
  EXPECT_EQ(ex.live(), 0u);
  {
    CriticalSection outer;
    CriticalSection inner;  // critical sections nest
  }
}

static_assert(std::is_same_v<DefaultLockPolicy, AtomicPolicy>,
              "hosted targets have lock-free int atomics");

// ----------------------------------------------------------------------------
// Static storage: constinit, .bss, sizes
// ----------------------------------------------------------------------------

constinit StaticExecutor<8> g_executor;  // constinit: fails to compile unless constant-initialised
constinit TaskStorage<Task<int, Arena>> g_task;
constinit TaskPool<YieldTimes, 4> g_pool;
constinit StaticExecutor<8> g_untouched;
constinit TaskStorage<WaitGate> g_untouched_storage;

template <class T>
bool all_zero_bytes(const T& object) {
  unsigned char bytes[sizeof(T)];
  std::memcpy(bytes, static_cast<const void*>(&object), sizeof(T));
  for (unsigned char b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

TEST(StaticExecutorTest, ConstinitGlobalsStartAsZeroBytes) {
  // All zero: the compiler puts them in .bss, no start-up code touches them.
  EXPECT_TRUE(all_zero_bytes(g_untouched));
  EXPECT_TRUE(all_zero_bytes(g_untouched_storage));

  Gate gate;
  int polls = 0;
  auto t = g_executor.spawn(g_task, [&] { return sum_after(gate, 2); });
  auto p = g_executor.spawn(g_pool, [&] { return YieldTimes(2, &polls); });
  ASSERT_TRUE(t.ok() && p.ok());
  g_executor.run_until_idle();
  gate.release();
  g_executor.run_until_idle();
  EXPECT_EQ(t->take_output(), std::optional<int>(103));
  EXPECT_EQ(p->take_output(), std::optional<int>(2));
  EXPECT_EQ(g_executor.live(), 0u);
}

TEST(StaticExecutorTest, SizeofFacts) {
  using executor_internal::StaticTaskHeader;
  // Per task: a header of a vtable pointer + state word + slot index...
  static_assert(sizeof(StaticTaskHeader) == sizeof(void*) + 8 || sizeof(StaticTaskHeader) == 12);
  // ...then the future and its output sharing one cell.
  static_assert(sizeof(TaskStorage<Ready<int>>) == sizeof(StaticTaskHeader) + sizeof(Ready<int>));
  static_assert(sizeof(TaskStorage<Task<int, Arena>>) ==
                sizeof(StaticTaskHeader) + sizeof(Task<int, Arena>));
  static_assert(sizeof(TaskPool<Ready<int>, 4>) == 4 * sizeof(TaskStorage<Ready<int>>));
  // A handle is a storage pointer, a generation and a slot index.
  static_assert(sizeof(StaticTaskHandle<Ready<int>>) == 2 * sizeof(void*));
  // The executor: a pointer per slot + a ready word and an occupancy word per
  // 32 slots + 8 bytes, aligned to bit_ceil(N) (at least a pointer).
  static_assert(alignof(StaticExecutor<1>) == alignof(void*));
  static_assert(alignof(StaticExecutor<32>) == 32);
  static_assert(alignof(StaticExecutor<33>) == 64);
  if constexpr (sizeof(void*) == 8) {
    static_assert(sizeof(StaticExecutor<1>) == 24);
    static_assert(sizeof(StaticExecutor<8>) == 80);
    static_assert(sizeof(StaticExecutor<32>) == 288);
    static_assert(sizeof(StaticExecutor<64>) == 576);
  }
  // Per parked task beyond its future: header + slot pointer (+ 1 bit).
  const std::size_t per_task = sizeof(StaticTaskHeader) + sizeof(void*);
  EXPECT_LE(per_task, 24u);
  static_assert(sizeof(SpawnResult<StaticTaskHandle<Ready<int>>>) <= 4 * sizeof(void*));
}

// The test futures' declared traits (also keeps clang's unused-constant
// warning quiet).
static_assert(Unpin<WaitGate> && CancelSafe<WaitGate>);
static_assert(Unpin<YieldTimes> && Unpin<Spinner> && Unpin<Hog> && Unpin<Sleeper>);
static_assert(!Unpin<Immovable>);
static_assert(Unpin<Inside<void (*)()>>);

static_assert(!std::is_copy_constructible_v<StaticExecutor<4>>);
static_assert(!std::is_move_constructible_v<StaticExecutor<4>>);
static_assert(!std::is_move_constructible_v<TaskStorage<Ready<int>>>);
static_assert(std::is_trivially_copyable_v<StaticTaskHandle<Ready<int>>>);

}  // namespace
}  // namespace weft
