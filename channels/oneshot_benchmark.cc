// oneshot and watch benchmarks, with std::promise/std::future in the same run.
//
//   ./bazelw run --config=opt //channels:oneshot_benchmark
//
// Reference (the issue's, tokio 1.x on the same machine kind): a oneshot
// round trip 91 ns. Goal: under 45 ns. tokio's figure is its own
// `benches/sync_mpsc_oneshot.rs` `request_reply_current_thread`: a client
// task sends a fresh `oneshot::Sender<()>` through a bounded mpsc (capacity
// 10) to a server task, which answers through it; the client awaits the
// answer. `BM_RequestReply*` is that shape (1 oneshot created, 1 bounded
// mpsc send and receive, 1 oneshot send and receive, 2 task switches per
// round trip); `*Combinator` runs it with stream combinators instead of
// Task coroutines. `BM_*OneshotRoundTrip*` is a heavier shape: request and
// response each through a fresh oneshot (2 channels created per round
// trip). The bare cases time one channel (create + send + receive) without
// an executor.
#include <cstdint>
#include <future>
#include <utility>

#include "benchmark/benchmark.h"
#include "channels/local_mpsc.h"
#include "channels/mpsc.h"
#include "channels/oneshot.h"
#include "channels/watch.h"
#include "executor/local_executor.h"
#include "executor/thread_pool.h"
#include "future/context.h"
#include "future/map.h"
#include "future/stream.h"
#include "future/task.h"
#include "iter/sources.h"

namespace weft {
namespace {

// Counter for "nanoseconds per item".
benchmark::Counter per_item(double items) {
  return benchmark::Counter(items, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

// ---------------------------------------------------------------------------
// Bare: no executor
// ---------------------------------------------------------------------------

// create + send + receive (the value is there at the first poll).
void BM_OneshotCreateSendRecv(benchmark::State& state) {
  Context cx(noop_waker());
  std::int64_t sum = 0;
  for (auto _ : state) {
    auto [tx, rx] = oneshot<int>();
    (void)tx.send(1);
    sum += rx.poll(cx).value().value();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_channel"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_OneshotCreateSendRecv);

void BM_LocalOneshotCreateSendRecv(benchmark::State& state) {
  Context cx(noop_waker());
  std::int64_t sum = 0;
  for (auto _ : state) {
    auto [tx, rx] = local_oneshot<int>();
    (void)tx.send(1);
    sum += rx.poll(cx).value().value();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_channel"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_LocalOneshotCreateSendRecv);

// create, poll (pending: registers the waker), send (wakes), poll (ready).
template <class Make>
void pending_send_recv(benchmark::State& state, Make make) {
  Context cx(noop_waker());
  std::int64_t sum = 0;
  for (auto _ : state) {
    auto [tx, rx] = make();
    if (rx.poll(cx).is_ready()) state.SkipWithError("ready before send");
    (void)tx.send(1);
    sum += rx.poll(cx).value().value();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_channel"] = per_item(static_cast<double>(state.iterations()));
}
void BM_OneshotPendingSendRecv(benchmark::State& state) {
  pending_send_recv(state, [] { return oneshot<int>(); });
}
BENCHMARK(BM_OneshotPendingSendRecv);
void BM_LocalOneshotPendingSendRecv(benchmark::State& state) {
  pending_send_recv(state, [] { return local_oneshot<int>(); });
}
BENCHMARK(BM_LocalOneshotPendingSendRecv);

// The standard library's one-value channel: promise + future on one thread.
void BM_StdPromiseFuture(benchmark::State& state) {
  std::int64_t sum = 0;
  for (auto _ : state) {
    std::promise<int> p;
    std::future<int> f = p.get_future();
    p.set_value(1);
    sum += f.get();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_channel"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_StdPromiseFuture);

// ---------------------------------------------------------------------------
// Round trips between two tasks
// ---------------------------------------------------------------------------

// A request carries its response's sender and the receiver of the next
// request, so both directions use a fresh oneshot every time.
template <bool kSync>
struct Req {
  int v;
  OneshotSender<int, kSync> reply;
  OneshotReceiver<Req, kSync> next;
};

template <bool kSync>
auto make_channel() {
  if constexpr (kSync) {
    return oneshot<Req<kSync>>();
  } else {
    return local_oneshot<Req<kSync>>();
  }
}
template <bool kSync>
auto make_int_channel() {
  if constexpr (kSync) {
    return oneshot<int>();
  } else {
    return local_oneshot<int>();
  }
}

template <bool kSync>
Task<> server(OneshotReceiver<Req<kSync>, kSync> rx) {
  for (;;) {
    auto r = co_await rx;
    if (!r) co_return;  // the client is done
    Req<kSync> q = std::move(r).value();
    (void)q.reply.send(q.v + 1);
    rx = std::move(q.next);
  }
}

template <bool kSync>
Task<std::int64_t> client(OneshotSender<Req<kSync>, kSync> tx, std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto [next_tx, next_rx] = make_channel<kSync>();
    auto [reply_tx, reply_rx] = make_int_channel<kSync>();
    (void)tx.send(Req<kSync>{static_cast<int>(i), std::move(reply_tx), std::move(next_rx)});
    Result<int, RecvError> r = co_await reply_rx;
    sum += r.value();
    tx = std::move(next_tx);
  }
  co_return sum;
}

template <bool kSync>
void local_round_trip(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    auto [tx, rx] = make_channel<kSync>();
    ex.spawn_local(server<kSync>(std::move(rx))).detach();
    auto sum = ex.block_on(client<kSync>(std::move(tx), n));
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_round_trip"] = per_item(static_cast<double>(state.iterations() * n));
}
void BM_OneshotRoundTripLocalExecutor(benchmark::State& state) { local_round_trip<true>(state); }
BENCHMARK(BM_OneshotRoundTripLocalExecutor)->Arg(10000);
void BM_LocalOneshotRoundTripLocalExecutor(benchmark::State& state) {
  local_round_trip<false>(state);
}
BENCHMARK(BM_LocalOneshotRoundTripLocalExecutor)->Arg(10000);

void BM_OneshotRoundTripThreadPool2(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  ThreadPool pool(2);
  for (auto _ : state) {
    auto [tx, rx] = oneshot<Req<true>>();
    pool.spawn(server<true>(std::move(rx))).detach();
    auto r = pool.block_on(pool.spawn(client<true>(std::move(tx), n)));
    benchmark::DoNotOptimize(r.value());
  }
  state.counters["per_round_trip"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_OneshotRoundTripThreadPool2)->Arg(10000)->UseRealTime();

// tokio's request_reply: requests are oneshot senders through a bounded(10)
// mpsc; the server answers each; the client awaits each answer before the
// next request. kSync: thread-safe mpsc + oneshot (tokio's kinds); otherwise
// local_mpsc + local_oneshot.
template <bool kSync>
using ReplyTx = OneshotSender<Unit, kSync>;

template <bool kSync>
auto make_reply_oneshot() {
  if constexpr (kSync) {
    return oneshot<Unit>();
  } else {
    return local_oneshot<Unit>();
  }
}

template <bool kSync>
auto make_request_channel() {
  if constexpr (kSync) {
    return mpsc<ReplyTx<kSync>>(10);
  } else {
    return local_mpsc<ReplyTx<kSync>>(10);
  }
}

template <class Rx>
Task<> reply_server(Rx rx) {
  while (auto reply = co_await rx.recv()) (void)reply->send(Unit{});
}

template <bool kSync, class Tx>
Task<std::int64_t> reply_client(Tx tx, std::int64_t n) {
  std::int64_t answered = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    auto [o_tx, o_rx] = make_reply_oneshot<kSync>();
    auto sent = co_await tx.send(std::move(o_tx));
    if (!sent.is_ok()) break;
    auto answer = co_await o_rx;
    if (answer.is_ok()) ++answered;
  }
  co_return answered;
}

// The same request/reply written with weft's combinators instead of Task
// coroutines (library state machines, the closest C++ twin of Rust's
// `async` blocks, which is what tokio's benchmark runs): the server is a
// `stream::for_each` over the request receiver; the client a `stream::fold`
// over 0..n whose step sends a fresh oneshot sender and awaits its answer.
template <class Rx>
auto reply_server_combinator(Rx rx) {
  return stream::for_each(std::move(rx), [](auto reply) { (void)reply.send(Unit{}); });
}

template <bool kSync, class Tx>
auto reply_client_combinator(Tx tx, std::int64_t n) {
  return stream::fold(stream::iter(iter::range(std::int64_t{0}, n)), std::int64_t{0},
                      [tx = std::move(tx)](std::int64_t answered, std::int64_t) mutable {
                        auto [o_tx, o_rx] = make_reply_oneshot<kSync>();
                        return then(tx.send(std::move(o_tx)),
                                    [o_rx = std::move(o_rx), answered](auto&&) mutable {
                                      return map(std::move(o_rx), [answered](auto r) {
                                        return answered + (r.is_ok() ? 1 : 0);
                                      });
                                    });
                      });
}

template <bool kCombinator, class Rx>
auto make_reply_server(Rx rx) {
  if constexpr (kCombinator) {
    return reply_server_combinator(std::move(rx));
  } else {
    return reply_server(std::move(rx));
  }
}

template <bool kCombinator, bool kSync, class Tx>
auto make_reply_client(Tx tx, std::int64_t n) {
  if constexpr (kCombinator) {
    return reply_client_combinator<kSync>(std::move(tx), n);
  } else {
    return reply_client<kSync>(std::move(tx), n);
  }
}

template <bool kCombinator, bool kSync>
void local_request_reply(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  auto [tx, rx] = make_request_channel<kSync>();
  ex.spawn_local(make_reply_server<kCombinator>(std::move(rx))).detach();
  for (auto _ : state) {
    std::int64_t answered = ex.block_on(make_reply_client<kCombinator, kSync>(tx, n));
    if (answered != n) state.SkipWithError("a request went unanswered");
  }
  state.counters["per_round_trip"] = per_item(static_cast<double>(state.iterations() * n));
}

template <bool kCombinator>
void pool_request_reply(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  ThreadPool pool(2);
  auto [tx, rx] = make_request_channel<true>();
  pool.spawn(make_reply_server<kCombinator>(std::move(rx))).detach();
  for (auto _ : state) {
    auto r = pool.block_on(pool.spawn(make_reply_client<kCombinator, true>(tx, n)));
    if (r.value() != n) state.SkipWithError("a request went unanswered");
  }
  state.counters["per_round_trip"] = per_item(static_cast<double>(state.iterations() * n));
}

void BM_RequestReplyLocalExecutor(benchmark::State& state) { local_request_reply<false, true>(state); }
BENCHMARK(BM_RequestReplyLocalExecutor)->Arg(1000);
void BM_LocalRequestReplyLocalExecutor(benchmark::State& state) {
  local_request_reply<false, false>(state);
}
BENCHMARK(BM_LocalRequestReplyLocalExecutor)->Arg(1000);
void BM_RequestReplyThreadPool2(benchmark::State& state) { pool_request_reply<false>(state); }
BENCHMARK(BM_RequestReplyThreadPool2)->Arg(1000)->UseRealTime();

void BM_RequestReplyLocalExecutorCombinator(benchmark::State& state) {
  local_request_reply<true, true>(state);
}
BENCHMARK(BM_RequestReplyLocalExecutorCombinator)->Arg(1000);
void BM_LocalRequestReplyLocalExecutorCombinator(benchmark::State& state) {
  local_request_reply<true, false>(state);
}
BENCHMARK(BM_LocalRequestReplyLocalExecutorCombinator)->Arg(1000);
void BM_RequestReplyThreadPool2Combinator(benchmark::State& state) { pool_request_reply<true>(state); }
BENCHMARK(BM_RequestReplyThreadPool2Combinator)->Arg(1000)->UseRealTime();

// ---------------------------------------------------------------------------
// watch
// ---------------------------------------------------------------------------

// send + changed() (ready at once) + borrow_and_update, one thread.
void BM_WatchSendChanged(benchmark::State& state) {
  auto [tx, rx] = watch<std::int64_t>(0);
  Context cx(noop_waker());
  std::int64_t i = 0, sum = 0;
  for (auto _ : state) {
    (void)tx.send(++i);
    auto c = rx.changed();
    (void)c.poll(cx);
    sum += *rx.borrow_and_update();
    benchmark::DoNotOptimize(sum);
  }
  state.counters["per_send"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_WatchSendChanged);

// changed() pending (queued), send (wakes it), changed() ready.
void BM_WatchPendingSendChanged(benchmark::State& state) {
  auto [tx, rx] = watch<std::int64_t>(0);
  Context cx(noop_waker());
  std::int64_t i = 0;
  for (auto _ : state) {
    auto c = rx.changed();
    if (c.poll(cx).is_ready()) state.SkipWithError("ready before send");
    (void)tx.send(++i);
    benchmark::DoNotOptimize(c.poll(cx).is_ready());
  }
  state.counters["per_send"] = per_item(static_cast<double>(state.iterations()));
}
BENCHMARK(BM_WatchPendingSendChanged);

// Ping-pong through two watch channels between two tasks.
Task<> watch_echo(WatchReceiver<std::int64_t> in, WatchSender<std::int64_t> out) {
  while (co_await in.changed()) {
    const std::int64_t v = *in.borrow_and_update();
    (void)out.send(v);
  }
}
Task<std::int64_t> watch_ping(WatchSender<std::int64_t> out, WatchReceiver<std::int64_t> in,
                              std::int64_t n) {
  std::int64_t sum = 0;
  for (std::int64_t i = 1; i <= n; ++i) {
    (void)out.send(i);
    if (!co_await in.changed()) break;
    sum += *in.borrow_and_update();
  }
  co_return sum;
}
void BM_WatchRoundTripLocalExecutor(benchmark::State& state) {
  const std::int64_t n = state.range(0);
  LocalExecutor ex;
  for (auto _ : state) {
    auto [a_tx, a_rx] = watch<std::int64_t>(0);
    auto [b_tx, b_rx] = watch<std::int64_t>(0);
    ex.spawn_local(watch_echo(std::move(a_rx), std::move(b_tx))).detach();
    auto sum = ex.block_on(watch_ping(std::move(a_tx), std::move(b_rx), n));
    benchmark::DoNotOptimize(sum);
    ex.run_until_stalled();
  }
  state.counters["per_round_trip"] = per_item(static_cast<double>(state.iterations() * n));
}
BENCHMARK(BM_WatchRoundTripLocalExecutor)->Arg(10000);

}  // namespace
}  // namespace weft
