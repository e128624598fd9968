// Cost of polling `join` / `select` / `map` chains against hand-written state
// machines doing the same work (goal: within 1.1x).
//
// Each case runs a future to completion: build it, then poll it with the
// noop waker until Ready, each poll an out-of-line call as from an executor. The leaves are `Leaf{k}`: Pending k - 1 times, then
// Ready (the driver re-polls in a loop, so the leaves need not wake). The
// hand-written twins count the same way and make the same state transitions
// (stop polling a finished child, remember its output, apply the function).
// `/k` is the number of polls of the slowest leaf.
//
//   ./bazelw run --config=opt //future:combinators_benchmark --
//       --benchmark_repetitions=10 --benchmark_enable_random_interleaving=true
//
// Compare the Combinator and HandWritten lines of one run (ratios, not
// absolute times: the machines are shared). `select` is compared with a
// hand-written rotating twin (same fairness work) and `select_biased` with a
// fixed-order one. Ratios move by several percent with code layout alone
// (compiler, frame pointers): judge them over repetitions, e.g. with
// --benchmark_enable_random_interleaving=true.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <tuple>
#include <utility>
#include <variant>

#include "benchmark/benchmark.h"
#include "future/context.h"
#include "future/join.h"
#include "future/map.h"
#include "future/poll.h"
#include "future/ready.h"
#include "future/select.h"
#include "future/waker.h"

namespace weft {
namespace {

// Pending `n - 1` times, then Ready(v).
struct Leaf {
  using Output = int;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;
  int n;
  int v;
  Poll<int> poll(Context&) {
    if (--n > 0) return Pending{};
    return v;
  }
};

// One poll as an executor makes it: an out-of-line call (a task's vtable
// entry) that stores the output in the task and reports whether it is done,
// so the future's state lives in memory between polls, as it does for real.
template <class F>
[[gnu::noinline]] bool poll_task(F& f, Context& cx, OutputOf<F>* out) {
  auto p = f.poll(cx);
  if (p.is_pending()) return false;
  *out = std::move(p).value();
  return true;
}

template <class F>
OutputOf<F> run(F& f) {
  Context cx(noop_waker());
  OutputOf<F> out{};
  while (!poll_task(f, cx, &out)) {
  }
  return out;
}

// Keeps the compiler from knowing k (and folding the whole run away).
int opaque(int x) {
  benchmark::DoNotOptimize(x);
  return x;
}

// ---------------------------------------------------------------------------
// map(join(leaf(k), leaf(k / 2)), sum)

struct HandJoinMap {
  using Output = int;
  int n1, v1, n2, v2;
  bool d1 = false, d2 = false;
  int o1 = 0, o2 = 0;
  Poll<int> poll(Context&) {
    if (!d1 && --n1 <= 0) {
      o1 = v1;
      d1 = true;
    }
    if (!d2 && --n2 <= 0) {
      o2 = v2;
      d2 = true;
    }
    if (!(d1 && d2)) return Pending{};
    return o1 + o2;
  }
};

void BM_JoinMap_Combinator(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = map(join(Leaf{opaque(k), 1}, Leaf{opaque(k / 2 + 1), 2}),
                 [](std::tuple<int, int> t) { return std::get<0>(t) + std::get<1>(t); });
    benchmark::DoNotOptimize(run(f));
  }
}
void BM_JoinMap_HandWritten(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    HandJoinMap f{opaque(k), 1, opaque(k / 2 + 1), 2};
    benchmark::DoNotOptimize(run(f));
  }
}

// ---------------------------------------------------------------------------
// map(select(leaf(k), leaf(k + 1)), index + value): the first arm wins; the
// second is dropped. (The select's output is consumed inside the task, as
// code awaiting a select does; the task boundary returns Poll<int>.)

struct HandSelect {
  using Output = int;
  int n1, v1, n2, v2;
  bool done = false;
  Poll<int> poll(Context&) {
    if (--n1 <= 0) {
      done = true;
      return 0 + v1;
    }
    if (--n2 <= 0) {
      done = true;
      return 1 + v2;
    }
    return Pending{};
  }
};

// The same with a rotating start (what `select` does for fairness): a
// process-wide seed read and advanced at construction, then one arm further
// on at each poll.
std::atomic<std::uint32_t> hand_seed{0};

struct HandSelectRotating {
  using Output = int;
  int n1, v1, n2, v2;
  std::uint8_t start;
  bool done = false;
  HandSelectRotating(int a, int va, int b, int vb) : n1(a), v1(va), n2(b), v2(vb) {
    const std::uint32_t s = hand_seed.load(std::memory_order_relaxed);
    hand_seed.store(s + 1, std::memory_order_relaxed);
    start = static_cast<std::uint8_t>(s % 2);
  }
  int win(int out) {
    done = true;
    return out;
  }
  Poll<int> poll(Context&) {
    const bool arm0_first = start == 0;
    start ^= 1;
    if (arm0_first && --n1 <= 0) return win(0 + v1);
    if (--n2 <= 0) return win(1 + v2);
    if (!arm0_first && --n1 <= 0) return win(0 + v1);
    return Pending{};
  }
};

constexpr auto kConsume = [](const auto& v) {
  return static_cast<int>(v.index()) + std::visit([](int x) { return x; }, v);
};

void BM_SelectBiased_Combinator(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = map(select_biased(Leaf{opaque(k), 1}, Leaf{opaque(k + 1), 2}), kConsume);
    benchmark::DoNotOptimize(run(f));
  }
}
void BM_SelectRotating_Combinator(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = map(select(Leaf{opaque(k), 1}, Leaf{opaque(k + 1), 2}), kConsume);
    benchmark::DoNotOptimize(run(f));
  }
}
void BM_Select_HandWritten(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    HandSelect f{opaque(k), 1, opaque(k + 1), 2};
    benchmark::DoNotOptimize(run(f));
  }
}
void BM_SelectRotating_HandWritten(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    HandSelectRotating f(opaque(k), 1, opaque(k + 1), 2);
    benchmark::DoNotOptimize(run(f));
  }
}

// ---------------------------------------------------------------------------
// map(map(map(leaf(k), f1), f2), f3)

struct HandMap3 {
  using Output = int;
  int n, v;
  bool done = false;
  Poll<int> poll(Context&) {
    if (--n > 0) return Pending{};
    done = true;
    return ((v + 1) * 3) ^ 5;
  }
};

void BM_Map3_Combinator(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    auto f = map(map(map(Leaf{opaque(k), 7}, [](int x) { return x + 1; }),
                     [](int x) { return x * 3; }),
                 [](int x) { return x ^ 5; });
    benchmark::DoNotOptimize(run(f));
  }
}
void BM_Map3_HandWritten(benchmark::State& state) {
  const int k = static_cast<int>(state.range(0));
  for (auto _ : state) {
    HandMap3 f{opaque(k), 7};
    benchmark::DoNotOptimize(run(f));
  }
}

#define WEFT_COMBINATOR_ARGS Arg(1)->Arg(4)->Arg(16)->Arg(64)

BENCHMARK(BM_JoinMap_Combinator)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_JoinMap_HandWritten)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_SelectBiased_Combinator)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_SelectRotating_Combinator)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_Select_HandWritten)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_SelectRotating_HandWritten)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_Map3_Combinator)->WEFT_COMBINATOR_ARGS;
BENCHMARK(BM_Map3_HandWritten)->WEFT_COMBINATOR_ARGS;

}  // namespace
}  // namespace weft
