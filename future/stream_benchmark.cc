// Streams: per-item cost of `iter(range) | map | filter | fold` driven to
// completion (with a budget, as block_on polls, and without), against the same
// pipeline over `iter` (synchronous) and with an AsyncGenerator as the source
// (plus the raw cost of draining an AsyncGenerator vs an iter::Generator); and
// FuturesUnordered's cost per poll when one child of n is woken (it should not
// grow with n), against polling all n children.
//
//   ./bazelw run --config=opt //future:stream_benchmark
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "benchmark/benchmark.h"
#include "future/async_generator.h"
#include "future/futures_unordered.h"
#include "future/ready.h"
#include "future/stream.h"
#include "iter/iter.h"

namespace weft {
namespace {

constexpr int kItems = 1 << 16;

auto triple = [](int x) { return x * 3; };
auto even = [](int x) { return x % 2 == 0; };
auto add = [](std::int64_t a, int x) { return a + x; };

// Polls `f` to completion as block_on would (a fresh budget per poll; the
// budget makes an always-ready source yield every 128 items).
template <class F>
OutputOf<F> run(F& f) {
  Budget budget;
  for (;;) {
    budget.refill();
    Context cx(noop_waker(), &budget);
    Poll<OutputOf<F>> p = f.poll(cx);
    if (p.is_ready()) return std::move(p).value();
  }
}

void BM_IterPipeline(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::int64_t s = iter::range(0, n) | iter::map(triple) | iter::filter(even) | iter::fold(std::int64_t{0}, add);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_IterPipeline)->Arg(kItems);

void BM_StreamPipeline(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = stream::iter(iter::range(0, n)) | stream::map(triple) | stream::filter(even) |
             stream::fold(std::int64_t{0}, add);
    std::int64_t s = run(f);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_StreamPipeline)->Arg(kItems);

// The same, unconstrained (no budget: one poll runs the whole stream).
void BM_StreamPipelineNoBudget(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = stream::iter(iter::range(0, n)) | stream::map(triple) | stream::filter(even) |
             stream::fold(std::int64_t{0}, add);
    Context cx(noop_waker());
    std::int64_t s = f.poll(cx).value();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_StreamPipelineNoBudget)->Arg(kItems);

AsyncGenerator<int> gen_range(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

// An AsyncGenerator as the source of the same pipeline.
void BM_AsyncGeneratorPipeline(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = gen_range(n) | stream::map(triple) | stream::filter(even) | stream::fold(std::int64_t{0}, add);
    std::int64_t s = run(f);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AsyncGeneratorPipeline)->Arg(kItems);

// An AsyncGenerator that does the whole pipeline in its body, awaiting a
// (ready) future per item, consumed by fold.
AsyncGenerator<int> gen_pipeline(int n) {
  for (int i = 0; i < n; ++i) {
    int x = co_await ready(i * 3);
    if (x % 2 == 0) co_yield x;
  }
}
void BM_AsyncGeneratorAwaitingBody(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = stream::fold(gen_pipeline(n), std::int64_t{0}, add);
    std::int64_t s = run(f);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AsyncGeneratorAwaitingBody)->Arg(kItems);

// The raw cost of a coroutine source: an AsyncGenerator polled item by item
// against an iter::Generator pulled item by item (no adaptors).
void BM_AsyncGeneratorDrain(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto g = gen_range(n);
    std::int64_t s = 0;
    Budget budget;
    for (;;) {
      budget.refill();
      Context cx(noop_waker(), &budget);
      auto p = g.poll_next(cx);
      if (p.is_pending()) continue;
      if (!p.value()) break;
      s += *p.value();
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_AsyncGeneratorDrain)->Arg(kItems);

iter::Generator<int> sync_gen_range(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}
void BM_SyncGeneratorDrain(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto g = sync_gen_range(n);
    std::int64_t s = 0;
    while (auto x = g.next()) s += *x;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_SyncGeneratorDrain)->Arg(kItems);

// ---------------------------------------------------------------------------
// FuturesUnordered: n pending children; each iteration wakes one (round
// robin) and polls the set once, which polls exactly that child.
// ---------------------------------------------------------------------------

struct Parked {
  using Output = int;
  static constexpr bool kUnpin = true;
  Waker* slot;
  Poll<int> poll(Context& cx) {
    register_waker(*slot, cx.waker());
    return Pending{};
  }
};

void BM_FuturesUnorderedWakeOne(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<Waker> slots(n);
  FuturesUnordered<Parked> set;
  for (std::size_t i = 0; i < n; ++i) set.push(Parked{&slots[i]});
  Context cx(noop_waker());
  (void)set.poll_next(cx);  // first poll of every child: each stores its waker
  std::size_t i = 0;
  for (auto _ : state) {
    slots[i].wake_by_ref();
    auto p = set.poll_next(cx);
    benchmark::DoNotOptimize(p);
    if (++i == n) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["children"] = static_cast<double>(n);
}
BENCHMARK(BM_FuturesUnorderedWakeOne)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

// Reference: what a set without per-child wakers must do (poll every child).
void BM_PollAllChildren(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<Waker> slots(n);
  std::vector<Parked> children;
  for (std::size_t i = 0; i < n; ++i) children.push_back(Parked{&slots[i]});
  Context cx(noop_waker());
  for (auto _ : state) {
    for (Parked& c : children) {
      auto p = c.poll(cx);
      benchmark::DoNotOptimize(p);
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["children"] = static_cast<double>(n);
}
BENCHMARK(BM_PollAllChildren)->Arg(10)->Arg(100)->Arg(1000)->Arg(10000);

}  // namespace
}  // namespace weft
