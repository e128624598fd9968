#include "future/block_on.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <utility>
#include <vector>

#include "future/internal/parker.h"
#include "future/map.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using future_internal::Parker;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

// ----------------------------------------------------------------------------
// Test futures
// ----------------------------------------------------------------------------

// Remote: completed by another thread through `complete()`.
struct Remote {
  std::mutex mu;
  bool done = false;
  int value = 0;
  Waker waker;
  std::atomic<int> polls{0};

  void complete(int v) {
    Waker w;
    {
      std::lock_guard<std::mutex> lock(mu);
      done = true;
      value = v;
      w = std::move(waker);
    }
    std::move(w).wake();
  }
};

class RemoteFuture {
 public:
  using Output = int;
  static constexpr bool kUnpin = true;
  explicit RemoteFuture(Remote* r) : r_(r) {}
  Poll<int> poll(Context& cx) {
    r_->polls.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(r_->mu);
    if (r_->done) return r_->value;
    register_waker(r_->waker, cx.waker());
    return Pending{};
  }

 private:
  Remote* r_;
};
static_assert(Future<RemoteFuture> && Unpin<RemoteFuture>);

// Counted<F>: counts polls and checks each gets a full, fresh budget.
template <class F>
class Counted {
 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = Unpin<F>;
  Counted(F f, int* polls, int* fresh_budgets) : f_(std::move(f)), polls_(polls), fresh_(fresh_budgets) {}
  Poll<Output> poll(Context& cx) {
    *polls_ += 1;
    if (cx.budget() != nullptr && cx.budget()->remaining() == Budget::kDefault) *fresh_ += 1;
    return f_.poll(cx);
  }

 private:
  F f_;
  int* polls_;
  int* fresh_;
};

// ----------------------------------------------------------------------------
// Header example
// ----------------------------------------------------------------------------

weft::Task<int> answer() { co_return co_await weft::ready(42); }

TEST(BlockOnTest, HeaderExample) {
  int v = weft::block_on(answer());
  EXPECT_EQ(v, 42);
}

// ----------------------------------------------------------------------------
// block_on
// ----------------------------------------------------------------------------

TEST(BlockOnTest, ReadyFutureByValueAndByReference) {
  EXPECT_EQ(block_on(ready(5)), 5);
  auto f = map(ready(2), [](int x) { return x * 3; });
  EXPECT_EQ(block_on(f), 6);  // an lvalue is polled in place
  auto u = std::make_unique<int>(9);
  std::unique_ptr<int> out = block_on(ready(std::move(u)));
  EXPECT_EQ(*out, 9);
}

TEST(BlockOnTest, WokenFromAnotherThreadAfterADelay) {
  Remote r;
  const auto start = Clock::now();
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(30));
    r.complete(7);
  });
  EXPECT_EQ(block_on(RemoteFuture(&r)), 7);
  const auto elapsed = Clock::now() - start;
  t.join();
  EXPECT_GE(elapsed, milliseconds(30));
  EXPECT_LT(elapsed, milliseconds(10000));
  EXPECT_EQ(r.polls.load(), 2);  // parked, not spinning: one poll per wake
}

Task<int> two_remote(Remote* a, Remote* b) {
  int x = co_await RemoteFuture(a);
  int y = co_await RemoteFuture(b);
  co_return x + y;
}

TEST(BlockOnTest, RunsATaskWokenFromOtherThreads) {
  Remote a;
  Remote b;
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(5));
    a.complete(1);
    std::this_thread::sleep_for(milliseconds(5));
    b.complete(2);
  });
  int v = block_on(two_remote(&a, &b));
  t.join();
  EXPECT_EQ(v, 3);
  EXPECT_LE(a.polls.load() + b.polls.load(), 5);
}

// Wakes itself `n` times from this thread and from another one, then is
// Pending; Ready on the next poll.
struct ManyWakes {
  using Output = int;
  static constexpr bool kUnpin = true;
  int n;
  int polls = 0;
  Poll<int> poll(Context& cx) {
    if (++polls > 1) return polls;
    for (int i = 0; i < n; ++i) cx.waker().wake_by_ref();
    Waker w = cx.waker();
    std::thread t([&w, this] {
      for (int i = 0; i < n; ++i) w.wake_by_ref();
    });
    t.join();
    return Pending{};
  }
};
static_assert(Future<ManyWakes> && Unpin<ManyWakes>);

TEST(BlockOnTest, ManyWakesBeforeTheNextPollCoalesce) {
  EXPECT_EQ(block_on(ManyWakes{1000}), 2);  // one re-poll for 2000 wakes
  // The next block_on on this thread starts without a stale token.
  int polls = 0;
  int fresh = 0;
  EXPECT_EQ(block_on(Counted(ready(1), &polls, &fresh)), 1);
  EXPECT_EQ(polls, 1);
}

// Keeps a clone of the waker beyond Ready.
struct Leaks {
  using Output = Unit;
  static constexpr bool kUnpin = true;
  Waker* out;
  Poll<Unit> poll(Context& cx) {
    *out = cx.waker();
    return Unit{};
  }
};
static_assert(Future<Leaks> && Unpin<Leaks>);

TEST(BlockOnTest, WakeAfterCompletionIsHarmless) {
  Waker kept;
  block_on(Leaks{&kept});
  kept.wake_by_ref();  // the parker is alive (refcounted); nothing is parked
  std::thread t([k = kept]() mutable { std::move(k).wake(); });
  t.join();
  // A stale wake costs at most a spurious poll of a later block_on.
  int polls = 0;
  int fresh = 0;
  EXPECT_EQ(block_on(Counted(ready(3), &polls, &fresh)), 3);
  EXPECT_EQ(polls, 1);
  kept.wake_by_ref();
}

TEST(BlockOnTest, WakeAfterTheBlockingThreadExited) {
  Waker kept;
  std::thread t([&kept] { block_on(Leaks{&kept}); });
  t.join();  // the thread's cached parker was released at thread exit
  kept.wake_by_ref();
  Waker clone = kept;
  std::move(clone).wake();
  kept = Waker();  // the last reference frees the parker
}

TEST(BlockOnTest, EachPollGetsAFreshBudget) {
  struct Local {
    static Task<> ticks(int n, int* count) {
      for (int i = 0; i < n; ++i) {
        co_await poll_fn([count](Context& cx) -> Poll<Unit> {
          if (!cx.poll_proceed()) return Pending{};
          *count += 1;
          return Unit{};
        });
      }
    }
  };
  int count = 0;
  int polls = 0;
  int fresh = 0;
  block_on(Counted(Local::ticks(1000, &count), &polls, &fresh));
  EXPECT_EQ(count, 1000);
  EXPECT_EQ(polls, 8);  // ceil(1000 / 128): the budget yields, block_on re-polls
  EXPECT_EQ(fresh, 8);
}

// First poll: registers with `outer`, then runs a nested block_on on `inner`
// (during which `outer` is completed and wakes the outer block_on).
struct Nested {
  using Output = int;
  static constexpr bool kUnpin = true;
  Remote* inner;
  RemoteFuture of;
  int inner_value = -1;
  Poll<int> poll(Context& cx) {
    Poll<int> p = of.poll(cx);
    if (p.is_ready()) return p.value() + inner_value;
    if (inner_value < 0) inner_value = block_on(RemoteFuture(inner));
    return Pending{};
  }
};
static_assert(Future<Nested> && Unpin<Nested>);

TEST(BlockOnTest, NestedBlockOnUsesItsOwnParker) {
  Remote inner;
  Remote outer;
  std::thread t([&] {
    for (;;) {  // until the outer future registered its waker
      std::lock_guard<std::mutex> lock(outer.mu);
      if (!outer.waker.is_noop()) break;
    }
    outer.complete(10);  // wakes the outer block_on while the inner one may be parked
    std::this_thread::sleep_for(milliseconds(5));
    inner.complete(1);
  });
  // Had the nested call shared the outer's parker, it could swallow the
  // outer wake and the outer block_on would sleep for ever.
  EXPECT_EQ(block_on(Nested{&inner, RemoteFuture(&outer)}), 11);
  t.join();
}

TEST(BlockOnTest, SteadyStateDoesNotAllocate) {
  block_on(ready(0));  // the thread's parker exists from now on
  testing::ScopedNoAlloc no_alloc;
  for (int i = 0; i < 10; ++i) EXPECT_EQ(block_on(ready(i)), i);
}

Task<int> throws_after_pending() {
  co_await yield_now();
  throw std::runtime_error("boom");
  co_return 0;
}

TEST(BlockOnTest, ExceptionPropagatesToTheCaller) {
  EXPECT_THROW(block_on(throws_after_pending()), std::runtime_error);
  auto throwing = poll_fn([](Context&) -> Poll<int> { throw std::logic_error("poll"); });
  EXPECT_THROW(block_on(throwing), std::logic_error);
  EXPECT_EQ(block_on(ready(1)), 1);  // the thread's parker was given back
}

// ----------------------------------------------------------------------------
// Parker
// ----------------------------------------------------------------------------

TEST(ParkerTest, UnparkBeforeParkReturnsAtOnce) {
  Parker p;
  p.unpark();
  p.unpark();  // tokens do not accumulate
  p.park();
  EXPECT_FALSE(p.park_for(milliseconds(1)));
}

TEST(ParkerTest, ParkForTimesOut) {
  Parker p;
  const auto start = Clock::now();
  EXPECT_FALSE(p.park_for(milliseconds(20)));
  EXPECT_GE(Clock::now() - start, milliseconds(20));
}

TEST(ParkerTest, UnparkFromAnotherThreadWakesAParkedThread) {
  Parker p;
  std::atomic<bool> before{false};
  std::thread t([&] {
    std::this_thread::sleep_for(milliseconds(20));
    before.store(true, std::memory_order_relaxed);
    p.unpark();
  });
  p.park();
  EXPECT_TRUE(before.load(std::memory_order_relaxed));  // release/acquire through the token
  t.join();
}

TEST(ParkerTest, WakerUnparksAndOutlivesTheParker) {
  Waker w;
  {
    Parker p;
    w = p.waker();
    Waker c = w;
    std::move(c).wake();
    EXPECT_TRUE(p.park_for(milliseconds(1000)));
    w.wake_by_ref();
    p.reset();  // drops the token
    EXPECT_FALSE(p.park_for(milliseconds(1)));
  }
  w.wake_by_ref();  // the parker is gone; its state is not
  EXPECT_FALSE(w.is_noop());
}

TEST(ParkerTest, IsMovable) {
  Parker a;
  Parker b = std::move(a);
  b.unpark();
  b.park();
  a = std::move(b);
  a.unpark();
  a.park();
}

}  // namespace
}  // namespace weft
