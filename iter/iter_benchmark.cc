// Benchmarks for //iter. Run: ./bazelw run --config=opt //iter:iter_benchmark
//
// Pipeline: zip(a, b) -> map(x * y) -> filter(even) -> sum over 1M int64s,
// as a hand-written loop, as std::ranges::views, and as weft in method and
// pipe form. Goal: weft within 1.1x of the hand-written loop.
//
// Generator: summing 1M ints from a Generator<int>, against a hand-written
// loop and against callback ("internal") iteration, and the cost per item of
// nested generators (elements_of) at several depths.
#include <cstdint>
#include <numeric>
#include <ranges>
#include <vector>

#include "benchmark/benchmark.h"
#include "iter/iter.h"

namespace {

using weft::iter::Generator;
namespace iter = weft::iter;

constexpr int kN = 1 << 20;

struct Data {
  std::vector<std::int64_t> a, b;
  Data() : a(kN), b(kN) {
    for (int i = 0; i < kN; ++i) {
      a[i] = (i * 7919) % 1000;
      b[i] = (i * 104729) % 997;
    }
  }
};
const Data& data() {
  static const Data d;
  return d;
}

void BM_Pipeline_HandLoop(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    std::int64_t s = 0;
    for (std::size_t i = 0; i < d.a.size() && i < d.b.size(); ++i) {
      const std::int64_t p = d.a[i] * d.b[i];
      if (p % 2 == 0) s += p;
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * kN);
}
BENCHMARK(BM_Pipeline_HandLoop);

// clang 14 cannot compile libstdc++ 12's views (a known incompatibility).
#if !defined(__clang__) || __clang_major__ >= 15
void BM_Pipeline_StdRanges(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    // GCC 12 has no views::zip (C++23): zip through an index.
    auto v = std::views::iota(std::size_t{0}, d.a.size()) |
             std::views::transform([&](std::size_t i) { return d.a[i] * d.b[i]; }) |
             std::views::filter([](std::int64_t p) { return p % 2 == 0; });
    std::int64_t s = 0;
    for (std::int64_t p : v) s += p;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * kN);
}
BENCHMARK(BM_Pipeline_StdRanges);
#endif

void BM_Pipeline_WeftMethods(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    std::int64_t s = iter::from(d.a)
                         .zip(iter::from(d.b))
                         .map([](auto p) { return p.first * p.second; })
                         .filter([](std::int64_t p) { return p % 2 == 0; })
                         .sum();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * kN);
}
BENCHMARK(BM_Pipeline_WeftMethods);

void BM_Pipeline_WeftPipe(benchmark::State& state) {
  const auto& d = data();
  for (auto _ : state) {
    std::int64_t s = iter::from(d.a) | iter::zip(iter::from(d.b)) |
                     iter::map([](auto p) { return p.first * p.second; }) |
                     iter::filter([](std::int64_t p) { return p % 2 == 0; }) | iter::sum();
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * kN);
}
BENCHMARK(BM_Pipeline_WeftPipe);

// ---- generators ----

void BM_Sum_HandLoop(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::int64_t s = 0;
    for (int i = 0; i < n; ++i) {
      benchmark::DoNotOptimize(i);  // keep the loop from being closed-form summed
      s += i;
    }
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Sum_HandLoop)->Arg(kN);

// Internal iteration: the producer drives, calling back for each item. The
// callback goes through a function pointer (not inlined), as a C API or a
// type-erased visitor would.
__attribute__((noinline)) void produce(int n, void (*cb)(void*, int), void* ctx) {
  for (int i = 0; i < n; ++i) cb(ctx, i);
}
void BM_Sum_Callback(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::int64_t s = 0;
    produce(n, [](void* ctx, int i) { *static_cast<std::int64_t*>(ctx) += i; }, &s);
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Sum_Callback)->Arg(kN);

Generator<int> count_to(int n) {
  for (int i = 0; i < n; ++i) co_yield i;
}

void BM_Sum_Generator(benchmark::State& state) {
  const int n = static_cast<int>(state.range(0));
  for (auto _ : state) {
    std::int64_t s = 0;
    for (int i : count_to(n)) s += i;
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Sum_Generator)->Arg(kN);

Generator<int> nested(int depth, int n) {
  if (depth == 0) {
    for (int i = 0; i < n; ++i) co_yield i;
    co_return;
  }
  co_yield iter::elements_of(nested(depth - 1, n));
}

// Per-item cost should not grow with depth (O(1) elements_of).
void BM_Sum_GeneratorNested(benchmark::State& state) {
  const int depth = static_cast<int>(state.range(0));
  constexpr int n = 1 << 18;
  for (auto _ : state) {
    std::int64_t s = nested(depth, n).fold(std::int64_t{0}, [](std::int64_t a, int i) { return a + i; });
    benchmark::DoNotOptimize(s);
  }
  state.SetItemsProcessed(state.iterations() * n);
}
BENCHMARK(BM_Sum_GeneratorNested)->Arg(0)->Arg(1)->Arg(16)->Arg(256);

}  // namespace
