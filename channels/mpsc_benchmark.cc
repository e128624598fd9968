// mpsc throughput: ns per message, 1 and 4 producers into 1 consumer,
// bounded (capacity 1024) and unbounded, on a LocalExecutor (producer and
// consumer tasks) and on a 2-worker ThreadPool; the single-thread
// local_mpsc on the LocalExecutor; and, in the same run, a std::mutex +
// std::condition_variable queue between OS threads as the baseline.
//
//   ./bazelw run --config=opt //channels:mpsc_benchmark
//
// The references (same machine kind): tokio 1.24 mpsc 1P/1C 30 ns
// per message on its current-thread runtime, 72 ns on 2 workers; futures'
// mpsc on LocalPool 25 ns. Goals: <= 15 ns on the LocalExecutor, <= 36 ns on
// ThreadPool(2).
//
// Each case runs three ways: with `Task` coroutines (`co_await tx.send(i)`,
// `co_await rx.recv()`); with weft's stream combinators (`_Combinator`:
// `stream::for_each` over a range sending each number, `stream::fold` over
// the receiver: library state machines, the C++ twin of the Rust `async`
// blocks tokio's figures come from); and as hand-written futures (`_Raw`).
// Task minus Combinator is the coroutine layer's cost, not the channel's:
// GCC keeps each awaited future, its awaiter and the loop's locals in the
// frame, stored and reloaded around every `co_await`. Unbounded producers
// yield every 128 sends (steady state rather than one burst; the
// combinator producer through the budget, one unit per item). Local cases
// report CPU time per message, pool and thread cases wall time.
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <type_traits>

#include "benchmark/benchmark.h"
#include "channels/local_mpsc.h"
#include "channels/mpsc.h"
#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/ready.h"
#include "future/stream.h"
#include "future/task.h"
#include "iter/sources.h"

namespace weft {
namespace {

constexpr std::int64_t kMessages = 200000;  // per iteration, all producers together
constexpr std::size_t kCapacity = 1024;

benchmark::Counter per_item(double items) {
  return benchmark::Counter(items, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---- producers and consumers (coroutines) ----

template <class Tx>
Task<> produce_async(Tx tx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) (void)co_await tx.send(i);
}

// Unbounded: send never waits; the producer yields every 128 sends (as a
// budgeted task would), so the queue stays short (steady state, not a burst).
constexpr std::int64_t kYieldEvery = 128;

template <class Tx>
Task<> produce_sync(Tx tx, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    (void)tx.send(i);
    if (i % kYieldEvery == kYieldEvery - 1) co_await yield_now();
  }
}

template <class Rx>
Task<std::int64_t> consume(Rx rx) {
  std::int64_t sum = 0;
  while (auto v = co_await rx.recv()) sum += *v;
  co_return sum;
}

// ---- the same loops as hand-written futures (no coroutine, no awaiter) ----

// Sends 0..n-1, awaiting each bounded send (the send future is built in
// place and polled until Ready).
template <class Tx>
class ProduceLoop {
  using SendF = decltype(std::declval<Tx&>().send(std::int64_t{}));

 public:
  using Output = Unit;
  ProduceLoop(Tx tx, std::int64_t n) : tx_(std::move(tx)), n_(n) {}
  ProduceLoop(ProduceLoop&& o) noexcept : tx_(std::move(o.tx_)), i_(o.i_), n_(o.n_) {}

  Poll<Unit> poll(Context& cx) {
    for (;;) {
      if (!pending_.has_value()) {
        if (i_ == n_) return Unit{};
        pending_.emplace(Make{&tx_, i_});
        i_ += 1;
      }
      if (pending_->poll(cx).is_pending()) return Pending{};
      pending_.reset();
    }
  }

 private:
  struct Make {  // builds the send future in place (no move)
    Tx* tx;
    std::int64_t v;
    operator SendF() const { return tx->send(v); }
  };
  Tx tx_;
  std::int64_t i_ = 0;
  std::int64_t n_;
  std::optional<SendF> pending_;
};

// Unbounded: send never waits; yields every kYieldEvery sends.
template <class Tx>
class ProduceSyncLoop {
 public:
  using Output = Unit;
  static constexpr bool kUnpin = true;
  ProduceSyncLoop(Tx tx, std::int64_t n) : tx_(std::move(tx)), n_(n) {}
  Poll<Unit> poll(Context& cx) {
    for (std::int64_t k = 0; i_ < n_; ++i_, ++k) {
      if (k == kYieldEvery) {
        cx.waker().wake_by_ref();
        return Pending{};
      }
      (void)tx_.send(i_);
    }
    return Unit{};
  }

 private:
  Tx tx_;
  std::int64_t i_ = 0;
  std::int64_t n_;
};

// Receives until closed, through the receiver's Stream interface.
template <class Rx>
class ConsumeLoop {
 public:
  using Output = std::int64_t;
  static constexpr bool kUnpin = true;
  explicit ConsumeLoop(Rx rx) : rx_(std::move(rx)) {}
  Poll<std::int64_t> poll(Context& cx) {
    for (;;) {
      Poll<std::optional<std::int64_t>> p = rx_.poll_next(cx);
      if (p.is_pending()) return Pending{};
      if (!p.value().has_value()) return sum_;
      sum_ += *p.value();
    }
  }

 private:
  Rx rx_;
  std::int64_t sum_ = 0;
};

// ---- the same loops with weft's stream combinators ----
//
// What a weft user writes without coroutines, and the closest C++ twin of a
// Rust `async` block: library state machines (`stream::for_each`,
// `stream::fold`), no coroutine frame. Rust: `stream::iter(0..n).for_each(|i|
// tx.send(i))`, `rx.fold(0, |a, v| a + v)`. An unbounded producer yields
// through the budget: `stream::iter` takes one unit per item, and the
// executor's budget of 128 per poll ends the poll (as `produce_sync` yields
// every 128 sends by hand).
template <class Tx>
auto produce_combinator(Tx tx, std::int64_t n) {
  return stream::for_each(stream::iter(iter::range(std::int64_t{0}, n)),
                          [tx = std::move(tx)](std::int64_t i) mutable { return tx.send(i); });
}
template <class Tx>
auto produce_sync_combinator(Tx tx, std::int64_t n) {
  return stream::for_each(stream::iter(iter::range(std::int64_t{0}, n)),
                          [tx = std::move(tx)](std::int64_t i) mutable { (void)tx.send(i); });
}
template <class Rx>
auto consume_combinator(Rx rx) {
  return stream::fold(std::move(rx), std::int64_t{0}, [](std::int64_t a, std::int64_t v) { return a + v; });
}

// How the producer and consumer tasks are written.
enum class Style { kTask, kCombinator, kRaw };

template <Style kStyle, bool kAsyncSend, class Tx>
auto make_producer(Tx tx, std::int64_t n) {
  if constexpr (kStyle == Style::kTask) {
    if constexpr (kAsyncSend) {
      return produce_async(std::move(tx), n);
    } else {
      return produce_sync(std::move(tx), n);
    }
  } else if constexpr (kStyle == Style::kCombinator) {
    if constexpr (kAsyncSend) {
      return produce_combinator(std::move(tx), n);
    } else {
      return produce_sync_combinator(std::move(tx), n);
    }
  } else if constexpr (kAsyncSend) {
    return ProduceLoop<Tx>(std::move(tx), n);
  } else {
    return ProduceSyncLoop<Tx>(std::move(tx), n);
  }
}

template <Style kStyle, class Rx>
auto make_consumer(Rx rx) {
  if constexpr (kStyle == Style::kTask) {
    return consume(std::move(rx));
  } else if constexpr (kStyle == Style::kCombinator) {
    return consume_combinator(std::move(rx));
  } else {
    return ConsumeLoop<Rx>(std::move(rx));
  }
}

// Every producer sends 0..n-1: the consumer's sum must be this.
std::int64_t expected_sum(int producers) {
  const std::int64_t n = kMessages / producers;
  return n * (n - 1) / 2 * producers;
}

// Spawns `producers` producer tasks and one consumer; runs to completion.
template <Style kStyle, bool kAsyncSend, class Make>
void run_local(benchmark::State& state, Make make) {
  const int producers = static_cast<int>(state.range(0));
  LocalExecutor ex;
  for (auto _ : state) {
    auto [tx, rx] = make();
    for (int p = 0; p < producers; ++p) {
      ex.spawn_detached(make_producer<kStyle, kAsyncSend>(tx, kMessages / producers));
    }
    { auto gone = std::move(tx); }
    std::int64_t sum = ex.block_on(ex.spawn_local(make_consumer<kStyle>(std::move(rx)))).value();
    if (sum != expected_sum(producers)) state.SkipWithError("messages lost");
  }
  state.counters["ns_per_msg"] = per_item(static_cast<double>(state.iterations() * kMessages));
}

template <Style kStyle, bool kAsyncSend, class Make>
void run_pool(benchmark::State& state, Make make) {
  const int producers = static_cast<int>(state.range(0));
  ThreadPool pool(2);
  for (auto _ : state) {
    auto [tx, rx] = make();
    std::vector<JoinHandle<Unit>> hs;
    for (int p = 0; p < producers; ++p) {
      hs.push_back(pool.spawn(make_producer<kStyle, kAsyncSend>(tx, kMessages / producers)));
    }
    { auto gone = std::move(tx); }
    std::int64_t sum = pool.block_on(pool.spawn(make_consumer<kStyle>(std::move(rx)))).value();
    for (auto& h : hs) (void)pool.block_on(std::move(h));
    if (sum != expected_sum(producers)) state.SkipWithError("messages lost");
  }
  state.counters["ns_per_msg"] = per_item(static_cast<double>(state.iterations() * kMessages));
}

// ---- weft mpsc ----

void BM_Mpsc_Bounded_Local(benchmark::State& state) {
  run_local<Style::kTask, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Local)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_Mpsc_Unbounded_Local(benchmark::State& state) {
  run_local<Style::kTask, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Local)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_Mpsc_Bounded_Pool2(benchmark::State& state) {
  run_pool<Style::kTask, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Pool2)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Mpsc_Unbounded_Pool2(benchmark::State& state) {
  run_pool<Style::kTask, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Pool2)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- weft local_mpsc ----

void BM_LocalMpsc_Bounded_Local(benchmark::State& state) {
  run_local<Style::kTask, true>(state, [] { return local_mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_LocalMpsc_Bounded_Local)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_LocalMpsc_Unbounded_Local(benchmark::State& state) {
  run_local<Style::kTask, false>(state, [] { return local_unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_LocalMpsc_Unbounded_Local)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

// ---- stream combinators instead of Task coroutines ----

void BM_Mpsc_Bounded_Local_Combinator(benchmark::State& state) {
  run_local<Style::kCombinator, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Local_Combinator)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_Mpsc_Unbounded_Local_Combinator(benchmark::State& state) {
  run_local<Style::kCombinator, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Local_Combinator)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_LocalMpsc_Bounded_Local_Combinator(benchmark::State& state) {
  run_local<Style::kCombinator, true>(state, [] { return local_mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_LocalMpsc_Bounded_Local_Combinator)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_LocalMpsc_Unbounded_Local_Combinator(benchmark::State& state) {
  run_local<Style::kCombinator, false>(state, [] { return local_unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_LocalMpsc_Unbounded_Local_Combinator)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond);

void BM_Mpsc_Bounded_Pool2_Combinator(benchmark::State& state) {
  run_pool<Style::kCombinator, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Pool2_Combinator)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Mpsc_Unbounded_Pool2_Combinator(benchmark::State& state) {
  run_pool<Style::kCombinator, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Pool2_Combinator)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- hand-written futures instead of Task coroutines ----

void BM_Mpsc_Bounded_Local_Raw(benchmark::State& state) {
  run_local<Style::kRaw, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Local_Raw)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_Mpsc_Unbounded_Local_Raw(benchmark::State& state) {
  run_local<Style::kRaw, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Local_Raw)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_LocalMpsc_Bounded_Local_Raw(benchmark::State& state) {
  run_local<Style::kRaw, true>(state, [] { return local_mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_LocalMpsc_Bounded_Local_Raw)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_LocalMpsc_Unbounded_Local_Raw(benchmark::State& state) {
  run_local<Style::kRaw, false>(state, [] { return local_unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_LocalMpsc_Unbounded_Local_Raw)->Arg(1)->Arg(4)->ArgName("producers")->Unit(benchmark::kMillisecond);

void BM_Mpsc_Bounded_Pool2_Raw(benchmark::State& state) {
  run_pool<Style::kRaw, true>(state, [] { return mpsc<std::int64_t>(kCapacity); });
}
BENCHMARK(BM_Mpsc_Bounded_Pool2_Raw)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_Mpsc_Unbounded_Pool2_Raw(benchmark::State& state) {
  run_pool<Style::kRaw, false>(state, [] { return unbounded_mpsc<std::int64_t>(); });
}
BENCHMARK(BM_Mpsc_Unbounded_Pool2_Raw)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// ---- baseline: std::mutex + std::condition_variable, OS threads ----

// A blocking queue; capacity 0 = unbounded. Waiters are notified only when
// somebody waits (the cheap, common way to write it).
class BlockingQueue {
 public:
  explicit BlockingQueue(std::size_t capacity) : capacity_(capacity) {}

  void push(std::int64_t v) {
    std::unique_lock<std::mutex> lock(mu_);
    while (capacity_ != 0 && q_.size() >= capacity_) {
      producers_waiting_ += 1;
      not_full_.wait(lock);
      producers_waiting_ -= 1;
    }
    q_.push_back(v);
    if (consumer_waiting_) not_empty_.notify_one();
  }
  void close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    not_empty_.notify_one();
  }
  bool pop(std::int64_t& out) {
    std::unique_lock<std::mutex> lock(mu_);
    while (q_.empty()) {
      if (closed_) return false;
      consumer_waiting_ = true;
      not_empty_.wait(lock);
      consumer_waiting_ = false;
    }
    out = q_.front();
    q_.pop_front();
    if (producers_waiting_ != 0) not_full_.notify_one();
    return true;
  }

 private:
  std::mutex mu_;
  std::condition_variable not_empty_, not_full_;
  std::deque<std::int64_t> q_;
  std::size_t capacity_;
  int producers_waiting_ = 0;
  bool consumer_waiting_ = false;
  bool closed_ = false;
};

void run_threads(benchmark::State& state, std::size_t capacity) {
  const int producers = static_cast<int>(state.range(0));
  for (auto _ : state) {
    BlockingQueue q(capacity);
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p) {
      ts.emplace_back([&q, n = kMessages / producers] {
        for (std::int64_t i = 0; i < n; ++i) q.push(i);
      });
    }
    std::thread closer([&ts, &q] {
      for (auto& t : ts) t.join();
      q.close();
    });
    std::int64_t sum = 0, v = 0;
    while (q.pop(v)) sum += v;
    closer.join();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["ns_per_msg"] = per_item(static_cast<double>(state.iterations() * kMessages));
}

void BM_MutexCondvar_Bounded_Threads(benchmark::State& state) { run_threads(state, kCapacity); }
BENCHMARK(BM_MutexCondvar_Bounded_Threads)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

void BM_MutexCondvar_Unbounded_Threads(benchmark::State& state) { run_threads(state, 0); }
BENCHMARK(BM_MutexCondvar_Unbounded_Threads)
    ->Arg(1)
    ->Arg(4)
    ->ArgName("producers")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace weft
