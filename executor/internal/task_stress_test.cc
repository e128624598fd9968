// The task core under a minimal multi-threaded scheduler (a locked FIFO and
// two worker threads), with wakes, aborts and JoinHandle drops coming from
// other threads. Checks: a task is never polled by two threads at once (no
// double poll), a wake that arrives while the task is running or idle is
// never lost, abort racing with completion yields the value or "cancelled",
// and every output is dropped exactly once (ASan) without races (TSan).
// Bounded in count and time.
#include "executor/internal/task.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include "executor/join_handle.h"
#include "future/block_on.h"
#include "future/map.h"
#include "future/poll.h"
#include "future/ready.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft::executor_internal {
namespace {

constexpr auto kBudget = std::chrono::seconds(20);

class PoolScheduler final : public Scheduler {
 public:
  static PoolScheduler* make(int workers) {
    auto* s = new PoolScheduler;
    for (int i = 0; i < workers; ++i) s->threads_.emplace_back([s] { s->work(); });
    return s;
  }
  void schedule(TaskHeader* t, ScheduleHint) noexcept override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        queue_.push_back(t);
        cv_.notify_one();
        return;
      }
    }
    t->drop_ref();
  }
  bool unbind(TaskHeader* t) noexcept override {
    std::lock_guard<std::mutex> lock(owned_mu_);
    return owned_.remove(t);
  }
  template <class F>
  JoinHandle<OutputOf<F>> spawn(F f) {
    TaskHeader* t = new_task(std::move(f), this, SpawnSite::current());
    {
      std::lock_guard<std::mutex> lock(owned_mu_);
      owned_.push_back(t);
    }
    schedule(t, ScheduleHint::kWake);
    return JoinHandle<OutputOf<F>>::from_raw(t);
  }
  // Stops the workers, cancels what is left, drops the executor's count.
  void close() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
    for (;;) {
      TaskHeader* t;
      {
        std::lock_guard<std::mutex> lock(owned_mu_);
        t = owned_.pop_front();
      }
      if (t == nullptr) break;
      t->shutdown();
    }
    std::deque<TaskHeader*> rest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      rest.swap(queue_);
    }
    for (TaskHeader* t : rest) t->drop_ref();
    release();
  }

 private:
  void work() {
    for (;;) {
      TaskHeader* t;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return closed_ || !queue_.empty(); });
        if (closed_) return;
        t = queue_.front();
        queue_.pop_front();
      }
      t->run();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<TaskHeader*> queue_;
  bool closed_ = false;
  std::mutex owned_mu_;
  OwnedTaskList owned_;
  std::vector<std::thread> threads_;
};

// A future that completes once it has observed `target` bumps of `gen`, and
// fails the test if two threads poll it at once.
struct Observer {
  using Output = std::uint64_t;
  static constexpr bool kUnpin = true;
  struct Shared {
    std::atomic<std::uint64_t> gen{0};
    std::mutex mu;
    Waker waker;
    std::atomic<int> in_poll{0};
    std::atomic<int> double_polls{0};
    void bump() {
      Waker w;
      {
        std::lock_guard<std::mutex> lock(mu);
        gen.fetch_add(1);
        w = waker;
      }
      w.wake_by_ref();
    }
  };
  std::shared_ptr<Shared> s;
  std::uint64_t target;
  Poll<std::uint64_t> poll(Context& cx) {
    if (s->in_poll.fetch_add(1) != 0) s->double_polls.fetch_add(1);
    std::this_thread::yield();  // widen the window for a concurrent poll
    Poll<std::uint64_t> out = Pending{};
    {
      std::lock_guard<std::mutex> lock(s->mu);
      if (s->gen.load() >= target) {
        out = s->gen.load();
      } else {
        register_waker(s->waker, cx.waker());
      }
    }
    s->in_poll.fetch_sub(1);
    return out;
  }
};

TEST(TaskStressTest, NoLostWakeupsNoDoublePolls) {
  const auto start = std::chrono::steady_clock::now();
  PoolScheduler* sched = PoolScheduler::make(2);
  for (int round = 0; round < 50 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    auto shared = std::make_shared<Observer::Shared>();
    constexpr std::uint64_t kBumps = 3 * 500;
    JoinHandle<std::uint64_t> h = sched->spawn(Observer{shared, kBumps});
    std::vector<std::thread> wakers;
    for (int w = 0; w < 3; ++w) {
      wakers.emplace_back([shared] {
        for (int i = 0; i < 500; ++i) shared->bump();
      });
    }
    JoinResult<std::uint64_t> r = block_on(std::move(h));
    for (auto& t : wakers) t.join();
    ASSERT_TRUE(r.is_ok());
    EXPECT_GE(r.value(), kBumps);
    EXPECT_EQ(shared->double_polls.load(), 0);
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->waker = Waker();
  }
  sched->close();
}

TEST(TaskStressTest, AbortAndHandleDropRaceWithCompletion) {
  const auto start = std::chrono::steady_clock::now();
  PoolScheduler* sched = PoolScheduler::make(2);
  int ok = 0, cancelled = 0;
  for (int round = 0; round < 2000 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    auto payload = std::make_shared<int>(round);
    auto shared = std::make_shared<Observer::Shared>();
    auto shared2 = std::make_shared<Observer::Shared>();
    JoinHandle<std::uint64_t> joined = sched->spawn(Observer{shared, 1});
    JoinHandle<std::shared_ptr<int>> dropped =
        sched->spawn(map(Observer{shared2, 1}, [payload](std::uint64_t) { return payload; }));
    std::thread t([&, ah = joined.abort_handle()] {
      if (round % 2 == 0) ah.abort();
      shared->bump();
      shared2->bump();
      dropped = JoinHandle<std::shared_ptr<int>>();  // races with completion
      if (round % 2 == 1) ah.abort();
    });
    JoinResult<std::uint64_t> r = block_on(std::move(joined));
    t.join();
    if (r.is_ok()) {
      ok += 1;
    } else {
      ASSERT_TRUE(r.is_cancelled());
      cancelled += 1;
    }
    // The detached task finishes on a worker; its output is dropped once.
    while (payload.use_count() != 1 && std::chrono::steady_clock::now() - start < kBudget) {
      std::this_thread::yield();
    }
    EXPECT_EQ(payload.use_count(), 1);
    for (auto* sh : {shared.get(), shared2.get()}) {
      std::lock_guard<std::mutex> lock(sh->mu);
      sh->waker = Waker();
    }
  }
  EXPECT_GT(ok + cancelled, 0);
  sched->close();
}

// The handle side of completion: a JoinHandle polled from this thread with
// two alternating wakers (each poll may replace the registered one) while a
// worker completes the task, then dropped with or without taking the output;
// some rounds keep a clone of the task's waker alive past completion, so the
// handle's drop is sometimes the last reference (freed with no atomic step)
// and sometimes not. Checks: the result arrives exactly once, the output is
// dropped exactly once, and every join waker registered is released.
TEST(TaskStressTest, JoinPollAndHandleDropRaceWithCompletion) {
  const auto start = std::chrono::steady_clock::now();
  PoolScheduler* sched = PoolScheduler::make(2);
  testing::CountingWaker wa, wb;
  int taken = 0, dropped = 0;
  for (int round = 0; round < 3000 && std::chrono::steady_clock::now() - start < kBudget; ++round) {
    auto payload = std::make_shared<int>(round);
    auto shared = std::make_shared<Observer::Shared>();
    JoinHandle<std::shared_ptr<int>> h =
        sched->spawn(map(Observer{shared, 1}, [payload](std::uint64_t) { return payload; }));
    std::thread t([&] {
      shared->bump();
      if (round % 3 == 0) {
        std::lock_guard<std::mutex> lock(shared->mu);
        shared->waker = Waker();
      }
    });
    std::optional<JoinResult<std::shared_ptr<int>>> out;
    for (int i = 0; i < round % 5 && !out; ++i) {
      Poll<JoinResult<std::shared_ptr<int>>> p = testing::poll_once(h, (i % 2 == 0) ? wa : wb);
      if (p.is_ready()) out.emplace(std::move(p).value());
    }
    if (!out && round % 2 == 1) out.emplace(block_on(std::move(h)));
    if (!out && round % 4 == 0) {
      while (!h.is_finished() && std::chrono::steady_clock::now() - start < kBudget) {
        std::this_thread::yield();
      }
    }
    h = JoinHandle<std::shared_ptr<int>>();  // drops the output if not taken
    t.join();
    if (out) {
      ASSERT_TRUE(out->is_ok());
      EXPECT_EQ(*out->value(), round);
      taken += 1;
      out.reset();
    } else {
      dropped += 1;
    }
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->waker = Waker();
    }
    // A dropped handle leaves the output to the worker if it is still running.
    while (payload.use_count() != 1 && std::chrono::steady_clock::now() - start < kBudget) {
      std::this_thread::yield();
    }
    EXPECT_EQ(payload.use_count(), 1) << "round " << round;
  }
  EXPECT_GT(taken, 0);
  EXPECT_GT(dropped, 0);
  EXPECT_EQ(wa.outstanding(), 0);
  EXPECT_EQ(wb.outstanding(), 0);
  sched->close();
}

}  // namespace
}  // namespace weft::executor_internal
