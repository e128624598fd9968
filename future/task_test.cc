#include "future/task.h"

#include <memory>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__cpp_exceptions)
#include <stdexcept>
#endif

#include "future/frame_allocator.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

// Hosted: the default pool. Freestanding (`_nx`): there is no default, so
// every task of these tests names an arena.
#if WEFT_TASK_HOSTED
using Alloc = DefaultTaskAllocator;
#else
struct TestArenaTag;
using Alloc = TaskArena<256 * 1024, TestArenaTag>;
#endif
template <class T = Unit>
using T_ = Task<T, Alloc>;

// ----------------------------------------------------------------------------
// Test futures
// ----------------------------------------------------------------------------

// Manual: Pending until the test puts a value in its Slot; stores the waker
// and drops it when destroyed; records its destruction.
struct Slot {
  std::optional<int> value;
  Waker waker;
  int polls = 0;
};

class Manual {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;

  explicit Manual(Slot* s, std::vector<int>* log = nullptr, int id = 0) : s_(s), log_(log), id_(id) {}
  Manual(Manual&& o) noexcept : s_(std::exchange(o.s_, nullptr)), log_(o.log_), id_(o.id_) {}
  ~Manual() {
    if (s_ == nullptr) return;
    s_->waker = Waker();
    if (log_ != nullptr) log_->push_back(id_);
  }

  Poll<int> poll(Context& cx) {
    s_->polls += 1;
    if (s_->value) {
      int v = *s_->value;
      s_->value.reset();
      return v;
    }
    register_waker(s_->waker, cx.waker());
    return Pending{};
  }

 private:
  Slot* s_;
  std::vector<int>* log_;
  int id_;
};
static_assert(Future<Manual> && Unpin<Manual>);

// Tick: a leaf that does one unit of work per poll (it honours the Budget).
struct Tick {
  using Output = Unit;
  static constexpr bool kUnpin = true;
  int* count;
  Poll<Unit> poll(Context& cx) {
    if (!cx.poll_proceed()) return Pending{};
    *count += 1;
    return Unit{};
  }
};
static_assert(Future<Tick> && Unpin<Tick>);

// Recorder: a local whose destructor records its id.
struct Recorder {
  std::vector<int>* log;
  int id;
  ~Recorder() { log->push_back(id); }
};

// Drives `t` to completion with `w`, counting polls.
template <class F>
OutputOf<F> drive(F& f, CountingWaker& w, int* polls = nullptr) {
  for (int i = 1;; ++i) {
    Poll<OutputOf<F>> p = poll_once(f, w);
    if (p.is_ready()) {
      if (polls != nullptr) *polls = i;
      return std::move(p).value();
    }
  }
}

// ----------------------------------------------------------------------------
// Types
// ----------------------------------------------------------------------------

static_assert(Future<T_<int>>);
static_assert(Future<T_<>>);
static_assert(Future<Task<void, Alloc>>);
static_assert(std::is_same_v<T_<int>::Output, int>);
static_assert(std::is_same_v<T_<>::Output, Unit>);
static_assert(std::is_same_v<Task<void, Alloc>::Output, Unit>);
static_assert(T_<int>::kUnpin && Unpin<T_<int>>);
static_assert(!CancelSafe<T_<int>>);
static_assert(!std::is_copy_constructible_v<T_<int>>);
static_assert(!std::is_copy_assignable_v<T_<int>>);
static_assert(std::is_nothrow_move_constructible_v<T_<int>>);
static_assert(std::is_nothrow_move_assignable_v<T_<int>>);
static_assert(sizeof(T_<int>) == 2 * sizeof(void*), "a handle and a flag");
#if WEFT_TASK_HOSTED
static_assert(std::is_same_v<Task<int>, Task<int, PoolFrameAllocator>>);
#endif

// ----------------------------------------------------------------------------
// Header example
// ----------------------------------------------------------------------------

#if WEFT_TASK_HOSTED
weft::Task<int> add_one(int x) { co_return x + 1; }
weft::Task<int> twice(int x) {
  int y = co_await add_one(x);             // a Task is a Future
  co_return y + co_await weft::ready(y);   // and so is anything else
}

TEST(TaskTest, HeaderExample) {
  auto t = twice(1);                         // lazy: nothing ran yet
  EXPECT_EQ(weft::testing::poll_once(t).value(), 4);
}
#endif

// ----------------------------------------------------------------------------
// Results
// ----------------------------------------------------------------------------

T_<int> count_start(int* started, int v) {
  *started += 1;
  co_return v;
}

TEST(TaskTest, IsLazyAndReturnsItsValue) {
  int started = 0;
  auto t = count_start(&started, 7);
  EXPECT_EQ(started, 0);
  EXPECT_EQ(poll_once(t).value(), 7);
  EXPECT_EQ(started, 1);
}

T_<> unit_explicit(int* n) {
  *n += 1;
  co_return;
}
T_<> unit_falls_off(int* n) {
  *n += 10;
  co_await ready();
}
Task<void, Alloc> void_task(int* n) {
  co_await unit_explicit(n);
  co_await unit_falls_off(n);
}

TEST(TaskTest, UnitTasksCoReturnNothing) {
  int n = 0;
  auto t = void_task(&n);
  EXPECT_EQ(poll_once(t).value(), Unit{});
  EXPECT_EQ(n, 11);
}

T_<std::unique_ptr<int>> move_only(int v) { co_return std::make_unique<int>(v); }
T_<long> converts() { co_return 5; }  // int -> long

TEST(TaskTest, MoveOnlyAndConvertedResults) {
  auto t = move_only(3);
  std::unique_ptr<int> p = poll_once(t).value();
  EXPECT_EQ(*p, 3);
  auto c = converts();
  EXPECT_EQ(poll_once(c).value(), 5L);
}

T_<int> lvalue_and_rvalue() {
  auto lv = ready(20);
  int a = co_await lv;                                               // borrowed
  int b = co_await map(ready(1), [](int x) { return x + 1; });       // moved into the frame
  Slot none;
  none.value = 20;
  Manual m(&none);
  int c = co_await m;                                                // a non-trivial lvalue
  co_return a + b + c;
}

TEST(TaskTest, AwaitsLvalueAndRvalueFutures) {
  auto t = lvalue_and_rvalue();
  EXPECT_EQ(poll_once(t).value(), 42);
}

// A future whose output is a std::optional, Pending `pending` times first
// (so both the await_ready path and the re-poll path hand the value out).
template <class T>
struct OptionalAfter {
  using Output = std::optional<T>;
  static constexpr bool kUnpin = true;
  std::optional<T> v;
  int pending;
  Poll<std::optional<T>> poll(Context& cx) {
    if (pending-- > 0) {
      cx.waker().wake_by_ref();
      return Pending{};
    }
    return std::move(v);
  }
};

// std::optional outputs are handed out member by member (await.h): engaged
// and empty, move-only and non-trivial payloads, ready at once or later.
T_<int> optional_outputs() {
  int sum = 0;
  for (int pending = 0; pending < 2; ++pending) {
    // Named futures: GCC 12 destroys some temporaries with non-trivial
    // members twice when they are aggregate-initialised inside a co_await.
    OptionalAfter<long> af{40L, pending};
    OptionalAfter<long> nf{std::nullopt, pending};
    OptionalAfter<std::unique_ptr<int>> pf{std::make_unique<int>(1), pending};
    OptionalAfter<std::vector<int>> vf{std::vector<int>(3, 7), pending};
    std::optional<long> a = co_await af;
    std::optional<long> none = co_await nf;
    std::optional<std::unique_ptr<int>> p = co_await pf;
    std::optional<std::vector<int>> vec = co_await vf;
    if (!a.has_value() || none.has_value() || !p.has_value() || *p == nullptr || !vec.has_value()) co_return -1;
    sum += static_cast<int>(*a) + **p + static_cast<int>(vec->size());
  }
  co_return sum;
}

TEST(TaskTest, AwaitsStdOptionalOutputs) {
  auto t = optional_outputs();
  CountingWaker w;
  EXPECT_EQ(drive(t, w), 2 * (40 + 1 + 3));
}

T_<int> child(int v) { co_return v * 2; }
T_<int> parent_of_children() {
  int a = co_await child(1);   // rvalue task
  auto c = child(10);
  int b = co_await c;          // lvalue task, borrowed
  co_return a + b;
}

TEST(TaskTest, AwaitsTasksInsideTasks) {
  auto t = parent_of_children();
  EXPECT_EQ(poll_once(t).value(), 22);
}

T_<int> fib(int n) {
  if (n < 2) co_return n;
  int a = co_await fib(n - 1);
  int b = co_await fib(n - 2);
  co_return a + b;
}

TEST(TaskTest, RecursionComputesFib15) {
  auto t = fib(15);
  EXPECT_EQ(poll_once(t).value(), 610);
}

// Every leaf is Pending once: the re-poll travels down the chain of awaited
// tasks to the leaf, and the body resumes only once it is ready.
T_<int> fib_pending(int n) {
  if (n < 2) co_return co_await testing::PendingOnce(ready(n));
  int a = co_await fib_pending(n - 1);
  int b = co_await fib_pending(n - 2);
  co_return a + b;
}

TEST(TaskTest, RecursionWithPendingLeaves) {
  CountingWaker w;
  auto t = fib_pending(10);
  int polls = 0;
  EXPECT_EQ(drive(t, w, &polls), 55);
  constexpr int kLeaves = 89;  // fib(11): calls with n < 2 in fib(10)
  EXPECT_EQ(w.wakes(), kLeaves);
  EXPECT_EQ(polls, kLeaves + 1);  // one poll per wake, no needless one
  EXPECT_EQ(w.outstanding(), 0);
}

// ----------------------------------------------------------------------------
// Wake-ups
// ----------------------------------------------------------------------------

T_<int> await_manual(Slot* s, int* resumed) {
  int v = co_await Manual(s);
  *resumed += 1;
  co_return v + 1;
}

TEST(TaskTest, PendingStoresWakerAndResumesOnlyWhenReady) {
  CountingWaker w;
  Slot s;
  int resumed = 0;
  auto t = await_manual(&s, &resumed);
  EXPECT_TRUE(poll_once(t, w).is_pending());
  EXPECT_EQ(s.polls, 1);
  EXPECT_EQ(w.outstanding(), 1);  // the leaf holds a clone
  // A spurious poll re-polls the leaf only; the body stays suspended.
  EXPECT_TRUE(poll_once(t, w).is_pending());
  EXPECT_EQ(s.polls, 2);
  EXPECT_EQ(resumed, 0);
  // The leaf becomes ready and wakes the task.
  s.value = 41;
  s.waker.wake_by_ref();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(t, w).value(), 42);
  EXPECT_EQ(s.polls, 3);
  EXPECT_EQ(resumed, 1);
  EXPECT_EQ(w.outstanding(), 0);  // the leaf was destroyed with the frame
}

T_<int> nested_manual(Slot* s, int* resumed) {
  int v = co_await await_manual(s, resumed);
  co_return v * 10;
}

TEST(TaskTest, NestedTaskPassesTheWakerDown) {
  CountingWaker w;
  Slot s;
  int resumed = 0;
  auto t = nested_manual(&s, &resumed);
  EXPECT_TRUE(poll_once(t, w).is_pending());
  EXPECT_EQ(s.waker.data(), w.borrowed().data());  // a clone of the outer poll's waker
  s.value = 1;
  std::move(s.waker).wake();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(poll_once(t, w).value(), 20);
  EXPECT_EQ(s.polls, 2);
}

T_<> ticks(int n, int* count) {
  for (int i = 0; i < n; ++i) co_await Tick{count};
}

TEST(TaskTest, PassesTheBudgetDown) {
  CountingWaker w;
  int count = 0;
  auto t = ticks(1000, &count);
  Budget budget(10);
  EXPECT_TRUE(poll_once(t, w, &budget).is_pending());
  EXPECT_EQ(count, 10);
  EXPECT_TRUE(budget.exhausted());
  EXPECT_EQ(w.wakes(), 1);  // the leaf woke the task before yielding
  int polls = 1;
  for (;;) {
    budget.refill(10);
    ++polls;
    if (poll_once(t, w, &budget).is_ready()) break;
  }
  EXPECT_EQ(count, 1000);
  EXPECT_EQ(polls, 100);  // 10 ticks per poll
  EXPECT_EQ(w.wakes(), 99);
}

TEST(TaskTest, UnconstrainedContextRunsToCompletion) {
  int count = 0;
  auto t = ticks(1000, &count);
  EXPECT_TRUE(poll_once(t).is_ready());
  EXPECT_EQ(count, 1000);
}

TEST(TaskTest, MayMoveBetweenPolls) {
  Slot s;
  int resumed = 0;
  auto t = await_manual(&s, &resumed);
  EXPECT_TRUE(poll_once(t).is_pending());
  auto moved = std::move(t);  // Unpin: only the handle moves
  s.value = 1;
  EXPECT_EQ(poll_once(moved).value(), 2);
}

// ----------------------------------------------------------------------------
// Cancellation
// ----------------------------------------------------------------------------

T_<int> inner_cancel(Slot* s, std::vector<int>* log) {
  Recorder b{log, 2};
  Recorder c{log, 3};
  int v = co_await Manual(s, log, 4);
  co_return v;
}
T_<int> outer_cancel(Slot* s, std::vector<int>* log) {
  Recorder a{log, 1};
  int v = co_await inner_cancel(s, log);
  log->push_back(99);  // never reached
  co_return v;
}

TEST(TaskTest, DestroyingCancelsAwaitedFuturesInReverseOrder) {
  CountingWaker w;
  Slot s;
  std::vector<int> log;
  {
    auto t = outer_cancel(&s, &log);
    EXPECT_TRUE(poll_once(t, w).is_pending());
    EXPECT_EQ(w.outstanding(), 1);
    EXPECT_TRUE(log.empty());
  }
  // The innermost awaited future, then the inner task's locals (reverse
  // order), then the outer task's.
  EXPECT_EQ(log, (std::vector<int>{4, 3, 2, 1}));
  EXPECT_EQ(w.outstanding(), 0);
}

T_<> holds(Recorder r) {
  (void)r;
  co_return;
}

TEST(TaskTest, DestroyingBeforeTheFirstPollRunsNoBody) {
  std::vector<int> log;
  {
    auto t = holds(Recorder{&log, 7});  // the parameter copy lives in the frame
    log.clear();                        // (the temporary argument's destructor ran)
  }
  EXPECT_EQ(log, (std::vector<int>{7}));
}

// The frame is freed when the task completes, not when it is destroyed.
struct EagerTag;
using EagerArena = TaskArena<4096, EagerTag>;
Task<int, EagerArena> in_eager_arena(int v) { co_return v; }

TEST(TaskTest, FrameIsFreedAtCompletion) {
  auto t = in_eager_arena(3);
  EXPECT_EQ(EagerArena::live(), 1u);
  EXPECT_EQ(poll_once(t).value(), 3);
  EXPECT_EQ(EagerArena::live(), 0u);
}

// ----------------------------------------------------------------------------
// Allocation
// ----------------------------------------------------------------------------

struct NoAllocTag;
using NoAllocArena = TaskArena<16 * 1024, NoAllocTag>;
Task<int, NoAllocArena> arena_leaf(int v) { co_return v; }
Task<int, NoAllocArena> arena_parent(Slot* s) {
  int a = co_await arena_leaf(1);
  int b = co_await Manual(s);
  co_return a + b + co_await arena_leaf(2);
}

TEST(TaskAllocTest, ArenaTasksNeverTouchTheHeap) {
  Slot s;
  CountingWaker w;
  {
    testing::ScopedNoAlloc no_alloc;
    auto t = arena_parent(&s);
    EXPECT_FALSE(t.allocation_failed());
    EXPECT_TRUE(poll_once(t, w).is_pending());
    EXPECT_EQ(NoAllocArena::live(), 1u);  // the child finished and was freed
    s.value = 10;
    EXPECT_EQ(poll_once(t, w).value(), 13);
    auto cancelled = arena_parent(&s);
    EXPECT_TRUE(poll_once(cancelled, w).is_pending());
  }
  EXPECT_EQ(NoAllocArena::live(), 0u);
  EXPECT_EQ(NoAllocArena::used(), 0u);
}

struct TinyTag;
Task<int, TaskArena<64, TinyTag>> too_big() {
  volatile int big[64] = {};
  co_await ready();
  co_return big[3];
}

TEST(TaskAllocTest, ArenaExhaustionIsReportedNotThrown) {
  auto t = too_big();
  EXPECT_TRUE(t.allocation_failed());
  auto moved = std::move(t);
  EXPECT_TRUE(moved.allocation_failed());
}

struct OneTag;
using OneFrame = TaskArena<1024, OneTag>;
Task<int, OneFrame> one(int v) {
  int pad[150] = {};
  pad[0] = v;
  co_await ready();
  co_return pad[0];
}

TEST(TaskAllocTest, ArenaSpaceIsReusedAfterAFailure) {
  auto a = one(1);
  ASSERT_FALSE(a.allocation_failed());
  auto b = one(2);
  EXPECT_TRUE(b.allocation_failed());  // only one frame fits
  EXPECT_EQ(poll_once(a).value(), 1);  // completes and frees its frame
  auto c = one(3);
  ASSERT_FALSE(c.allocation_failed());
  EXPECT_EQ(poll_once(c).value(), 3);
}

TEST(TaskDeathTest, PollingAFailedAllocationIsAHardeningAssert) {
  EXPECT_DEATH(
      {
        auto t = too_big();
        (void)poll_once(t);
      },
      "Task was polled although its frame could not be allocated");
}

TEST(TaskDeathTest, PollingAfterReadyIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "WEFT_ASSERT is a no-op under NDEBUG";
#else
  EXPECT_DEATH(
      {
        auto t = child(1);
        (void)poll_once(t);
        (void)poll_once(t);
      },
      "Task must not be polled after it returned ready");
#endif
}

#if WEFT_TASK_HOSTED
Task<int> pooled(int v) { co_return v; }
Task<int> pooled_parent() {
  int a = co_await pooled(1);
  int b = co_await pooled(2);
  co_return a + b;
}

TEST(TaskAllocTest, PoolMakesOneAllocationColdAndNoneWarm) {
  ASSERT_TRUE(testing::counting_active());
  PoolFrameAllocator::trim();
  {
    testing::AllocCounter c;
    auto t = pooled(5);
    EXPECT_EQ(c.allocations(), 1u);  // the frame, and nothing else
    EXPECT_EQ(poll_once(t).value(), 5);
    EXPECT_EQ(c.allocations(), 1u);
  }
  EXPECT_EQ(PoolFrameAllocator::cached(), 1u);
  {
    testing::ScopedNoAlloc no_alloc;
    auto t = pooled(6);
    EXPECT_EQ(poll_once(t).value(), 6);
  }
  PoolFrameAllocator::trim();
  {
    testing::AllocCounter c;
    auto t = pooled_parent();
    EXPECT_EQ(poll_once(t).value(), 3);
    // The parent's frame and the first child's; the second child reuses the
    // first child's frame, freed when it completed.
    EXPECT_EQ(c.allocations(), 2u);
  }
  {
    testing::ScopedNoAlloc no_alloc;
    auto t = pooled_parent();
    EXPECT_EQ(poll_once(t).value(), 3);
  }
}

TEST(TaskAllocTest, HeapAllocatorAllocatesEveryFrame) {
  struct Local {
    static Task<int, HeapFrameAllocator> leaf() { co_return 1; }
  };
  testing::AllocCounter c;
  for (int i = 0; i < 3; ++i) {
    auto t = Local::leaf();
    EXPECT_EQ(poll_once(t).value(), 1);
  }
  EXPECT_EQ(c.allocations(), 3u);
}
#endif  // WEFT_TASK_HOSTED

// ----------------------------------------------------------------------------
// Exceptions (hosted)
// ----------------------------------------------------------------------------

#if defined(__cpp_exceptions)
T_<int> throws_now() {
  throw std::runtime_error("now");
  co_return 0;
}
T_<int> throws_later() {
  co_await testing::PendingOnce(ready());
  throw std::runtime_error("later");
  co_return 0;
}
T_<int> catches(bool later, std::vector<int>* log) {
  Recorder r{log, 1};
  try {
    if (later) {
      co_return co_await throws_later();
    } else {
      co_return co_await throws_now();
    }
  } catch (const std::runtime_error&) {
    log->push_back(later ? 2 : 3);
  }
  co_return -1;
}
T_<int> rethrows() { co_return co_await throws_later(); }
T_<int> rethrows_twice() { co_return co_await rethrows(); }

TEST(TaskTest, ExceptionPropagatesOutOfPoll) {
  auto t = throws_now();
  EXPECT_THROW((void)poll_once(t), std::runtime_error);
  auto u = rethrows_twice();
  EXPECT_TRUE(poll_once(u).is_pending());
  EXPECT_THROW((void)poll_once(u), std::runtime_error);
}

TEST(TaskTest, ExceptionIsCaughtByTheAwaitingTask) {
  std::vector<int> log;
  auto now = catches(false, &log);
  EXPECT_EQ(poll_once(now).value(), -1);
  EXPECT_EQ(log, (std::vector<int>{3, 1}));

  log.clear();
  auto later = catches(true, &log);  // thrown on a re-poll, outside the body
  EXPECT_TRUE(poll_once(later).is_pending());
  EXPECT_EQ(poll_once(later).value(), -1);
  EXPECT_EQ(log, (std::vector<int>{2, 1}));
}

// A future that throws from poll on its second poll (not a Task).
struct ThrowsOnRepoll {
  using Output = int;
  static constexpr bool kUnpin = true;
  int polls = 0;
  Poll<int> poll(Context& cx) {
    if (++polls == 1) {
      cx.waker().wake_by_ref();
      return Pending{};
    }
    throw std::logic_error("repoll");
  }
};
static_assert(Future<ThrowsOnRepoll> && Unpin<ThrowsOnRepoll>);
T_<int> catches_leaf() {
  try {
    co_return co_await ThrowsOnRepoll{};
  } catch (const std::logic_error&) {
    co_return 7;
  }
}

TEST(TaskTest, ExceptionFromAnAwaitedLeafOnRepollIsCaughtInTheBody) {
  auto t = catches_leaf();
  EXPECT_TRUE(poll_once(t).is_pending());
  EXPECT_EQ(poll_once(t).value(), 7);
}
#endif  // __cpp_exceptions

}  // namespace
}  // namespace weft
