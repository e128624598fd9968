// Benchmarks for Task<T> and block_on.
//
//   BM_TaskCreateRunDestroy<Alloc>  one leaf task: frame allocation, one poll,
//                                   frame free. Counter `allocs/task` is the
//                                   number of global operator new calls per
//                                   task (pool: 0 once warm; heap: 1).
//   BM_CoAwaitDepth<Alloc>/d        a chain of d nested tasks, run to
//                                   completion (d frames, d co_awaits).
//   BM_RepollDepth/d                a chain of d tasks suspended on a leaf
//                                   that is Pending 64 times: ns per poll
//                                   (each poll walks the d levels).
//   BM_BlockOnReady                 block_on of a ready future (the fixed cost).
//   BM_BlockOnCrossThreadWake/spin  ping-pong: block_on parks, a spinning
//                                   helper thread completes the future and
//                                   wakes it; round trip per iteration.
//   BM_BlockOnCrossThreadWake/park  the same with the helper parked too (two
//                                   futex wake-ups per round trip).
//
// Run: ./bazelw run --config=opt //future:task_benchmark
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <new>
#include <thread>
#include <utility>

#include "benchmark/benchmark.h"
#include "future/block_on.h"
#include "future/context.h"
#include "future/frame_allocator.h"
#include "future/internal/parker.h"
#include "future/ready.h"
#include "future/task.h"

// Counts global allocations of this thread (benchmark binaries only).
namespace {
thread_local std::uint64_t tl_news = 0;
}  // namespace
// noinline (all four): otherwise gcc sees through the replacements, pairs
// `malloc` with `operator delete` after inlining and warns
// (-Wmismatched-new-delete).
[[gnu::noinline]] void* operator new(std::size_t n) {
  tl_news += 1;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
[[gnu::noinline]] void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  tl_news += 1;
  return std::malloc(n == 0 ? 1 : n);
}
[[gnu::noinline]] void operator delete(void* p) noexcept { std::free(p); }
[[gnu::noinline]] void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace weft {
namespace {

struct BenchArenaTag;
using BenchArena = TaskArena<64 * 1024, BenchArenaTag>;

template <class A>
Task<int, A> leaf(int v) {
  co_return v + 1;
}

template <class A>
void BM_TaskCreateRunDestroy(benchmark::State& state) {
  Context cx(noop_waker());
  int v = 0;
  // Warm the pool (and the benchmark's own allocations) before counting.
  { auto t = leaf<A>(v); benchmark::DoNotOptimize(t.poll(cx)); }
  const std::uint64_t before = tl_news;
  for (auto _ : state) {
    auto t = leaf<A>(v);
    Poll<int> p = t.poll(cx);
    v = p.value() & 0xff;
    benchmark::DoNotOptimize(v);
  }
  state.counters["allocs/task"] =
      benchmark::Counter(static_cast<double>(tl_news - before) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_TaskCreateRunDestroy<PoolFrameAllocator>);
BENCHMARK(BM_TaskCreateRunDestroy<HeapFrameAllocator>);
BENCHMARK(BM_TaskCreateRunDestroy<BenchArena>);

template <class A>
Task<int, A> chain(int depth, int v) {
  if (depth <= 1) co_return co_await ready(v);
  co_return 1 + co_await chain<A>(depth - 1, v);
}

template <class A>
void BM_CoAwaitDepth(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  Context cx(noop_waker());
  { auto t = chain<A>(depth, 0); benchmark::DoNotOptimize(t.poll(cx)); }
  const std::uint64_t before = tl_news;
  for (auto _ : state) {
    auto t = chain<A>(depth, 1);
    benchmark::DoNotOptimize(t.poll(cx).value());
  }
  state.counters["allocs/iter"] =
      benchmark::Counter(static_cast<double>(tl_news - before) / static_cast<double>(state.iterations()));
  state.counters["frames"] = depth;
}
BENCHMARK(BM_CoAwaitDepth<PoolFrameAllocator>)->Arg(1)->Arg(4)->Arg(16);
BENCHMARK(BM_CoAwaitDepth<HeapFrameAllocator>)->Arg(1)->Arg(4)->Arg(16);

// Pending `n` times (waking itself), then Ready.
struct PendingN {
  using Output = int;
  static constexpr bool kUnpin = true;
  int n;
  Poll<int> poll(Context&) {
    if (n == 0) return 0;
    n -= 1;
    return Pending{};
  }
};
static_assert(Future<PendingN> && Unpin<PendingN>);

Task<int> suspended_chain(int depth) {
  if (depth <= 1) co_return co_await PendingN{64};
  co_return co_await suspended_chain(depth - 1);
}

void BM_RepollDepth(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  Context cx(noop_waker());
  std::int64_t polls = 0;
  for (auto _ : state) {
    auto t = suspended_chain(depth);
    for (;;) {
      polls += 1;
      if (t.poll(cx).is_ready()) break;
    }
  }
  state.counters["ns/poll"] = benchmark::Counter(
      static_cast<double>(polls), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RepollDepth)->Arg(1)->Arg(4)->Arg(16);

void BM_BlockOnReady(benchmark::State& state) {
  int v = 0;
  for (auto _ : state) {
    v = block_on(ready(v + 1));
    benchmark::DoNotOptimize(v);
  }
}
BENCHMARK(BM_BlockOnReady);

// A one-shot slot completed by the helper thread.
struct Slot {
  std::atomic<bool> done{false};
  std::mutex mu;
  Waker waker;
};

class SlotFuture {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  SlotFuture(Slot* s, std::int64_t* polls) : s_(s), polls_(polls) {}
  Poll<Unit> poll(Context& cx) {
    *polls_ += 1;
    if (s_->done.load(std::memory_order_acquire)) return Unit{};
    std::lock_guard<std::mutex> lock(s_->mu);
    if (s_->done.load(std::memory_order_acquire)) return Unit{};
    register_waker(s_->waker, cx.waker());
    return Pending{};
  }

 private:
  Slot* s_;
  std::int64_t* polls_;
};
static_assert(Future<SlotFuture> && Unpin<SlotFuture>);

void complete(Slot* s) {
  Waker w;
  {
    std::lock_guard<std::mutex> lock(s->mu);
    s->done.store(true, std::memory_order_release);
    w = std::move(s->waker);
  }
  std::move(w).wake();
}

// range(0): 0 = the helper spins, 1 = the helper parks between requests.
void BM_BlockOnCrossThreadWake(benchmark::State& state) {
  const bool helper_parks = state.range(0) == 1;
  std::atomic<Slot*> published{nullptr};
  std::atomic<bool> stop{false};
  future_internal::Parker helper_parker;
  std::thread helper([&] {
    for (;;) {
      Slot* s = published.exchange(nullptr, std::memory_order_acq_rel);
      if (s != nullptr) {
        complete(s);
        continue;
      }
      if (stop.load(std::memory_order_acquire)) return;
      if (helper_parks) helper_parker.park_for(std::chrono::milliseconds(10));
    }
  });
  std::int64_t polls = 0;
  for (auto _ : state) {
    Slot s;
    published.store(&s, std::memory_order_release);
    if (helper_parks) helper_parker.unpark();
    block_on(SlotFuture(&s, &polls));
    std::lock_guard<std::mutex> lock(s.mu);  // the helper is done with `s`
  }
  stop.store(true, std::memory_order_release);
  helper_parker.unpark();
  helper.join();
  // 2 = block_on was Pending once and woken by the helper; 1 = the helper
  // completed it before the first poll.
  state.counters["polls/iter"] =
      benchmark::Counter(static_cast<double>(polls) / static_cast<double>(state.iterations()));
}
BENCHMARK(BM_BlockOnCrossThreadWake)->Arg(0)->Arg(1)->UseRealTime();

}  // namespace
}  // namespace weft
