// weft on a Cortex-M3/M4 board (qemu mps2-an385 / mps2-an386), no heap.
//
// Real weft code on bare metal: a StaticExecutor runs four Tasks whose frames
// live in a static arena:
//   - a producer that draws numbers from an iter::Generator and sends them
//     through a 4-slot `weft::StaticChannel` (critical-section lock policy),
//   - a consumer that sums them (sleeping now and then, so the channel
//     fills up and the producer waits for room),
//   - a timer task that uses join() and select() over sleeps,
//   - a heartbeat task that waits on a `weft::StaticSignal` which the
//     SysTick interrupt handler signals every other tick (latest wins).
// Time comes from SysTick: its interrupt handler advances the clock, wakes
// the sleeping tasks through their Wakers (setting ready bits in the
// executor) and signals the heartbeat. Results are printed through
// semihosting; the exit status is 0 only if every check passed.
//
// Run: ./bazelw test --config=cortex_m //services/firmware:firmware_test
#include <cstddef>
#include <cstdint>
#include <utility>

#include "channels/static_channel.h"
#include "channels/static_signal.h"
#include "executor/static_executor.h"
#include "future/future.h"
#include "future/join.h"
#include "future/ready.h"
#include "future/select.h"
#include "future/task.h"
#include "iter/iter.h"
#include "tools/baremetal/semihost.h"

namespace {

namespace sh = weft::baremetal::semihost;

// ---- time: SysTick and sleeping futures ----

volatile std::uint32_t g_now = 0;  // ticks since start (written only by SysTick)

// Timers waiting for a deadline: a fixed table, no heap.
struct TimerSlot {
  std::uint32_t deadline = 0;
  bool used = false;
  weft::Waker waker;
};
constinit TimerSlot g_timers[8];
int g_timer_wakes = 0;

// A future that is Ready once `ticks` SysTicks passed. Cancel-safe: dropping
// it frees its timer slot (no dangling waker).
class Sleep {
 public:
  using Output = weft::Unit;
  static constexpr bool kCancelSafe = true;

  explicit Sleep(std::uint32_t ticks) : ticks_(ticks) {}
  Sleep(Sleep&& o) noexcept : ticks_(o.ticks_), deadline_(o.deadline_), slot_(std::exchange(o.slot_, -1)) {}
  ~Sleep() {
    if (slot_ >= 0) {
      weft::CriticalSection cs;
      g_timers[slot_].used = false;
      g_timers[slot_].waker = weft::Waker();
    }
  }

  weft::Poll<weft::Unit> poll(weft::Context& cx) {
    weft::CriticalSection cs;
    if (slot_ < 0) {
      deadline_ = g_now + ticks_;
      for (int i = 0; i < 8; ++i) {
        if (!g_timers[i].used) {
          slot_ = i;
          g_timers[i].used = true;
          g_timers[i].deadline = deadline_;
          break;
        }
      }
      if (slot_ < 0) return weft::Unit{};  // table full: give up waiting (never here)
    }
    if (static_cast<std::int32_t>(g_now - deadline_) >= 0) {
      g_timers[slot_].used = false;
      g_timers[slot_].waker = weft::Waker();
      slot_ = -1;
      return weft::Unit{};
    }
    weft::register_waker(g_timers[slot_].waker, cx.waker());
    return weft::Pending{};
  }

 private:
  std::uint32_t ticks_;
  std::uint32_t deadline_ = 0;
  int slot_ = -1;
};

Sleep sleep(std::uint32_t ticks) { return Sleep(ticks); }

// SysTick -> heartbeat task: the tick count, every other tick (latest wins).
constinit weft::StaticSignal<std::uint32_t, weft::CriticalSectionPolicy> g_heartbeat;

}  // namespace

// The interrupt: advance the clock, wake every expired timer's task.
extern "C" void SysTick_Handler() {
  g_now = g_now + 1;
  for (auto& t : g_timers) {
    if (t.used && static_cast<std::int32_t>(g_now - t.deadline) >= 0) {
      t.waker.wake_by_ref();
      ++g_timer_wakes;
    }
  }
  if (g_now % 2 == 0) g_heartbeat.signal(g_now);
}

namespace {

void start_systick() {
  // SysTick registers (ARMv7-M): CSR, RVR, CVR. 25 MHz core on mps2: 1 ms.
  auto* csr = reinterpret_cast<volatile std::uint32_t*>(0xE000E010u);
  auto* rvr = reinterpret_cast<volatile std::uint32_t*>(0xE000E014u);
  auto* cvr = reinterpret_cast<volatile std::uint32_t*>(0xE000E018u);
  *rvr = 25'000 - 1;
  *cvr = 0;
  *csr = 0x7;  // enable, interrupt, processor clock
}

// ---- tasks ----

struct ArenaTag;
using Job = weft::Task<int, weft::TaskArena<4096, ArenaTag>>;
struct GenTag;
using Gen = weft::iter::Generator<int, weft::iter::FrameArena<512, GenTag>>;

// Thread mode and interrupt handlers of one core: a critical section guards it.
constinit weft::StaticChannel<int, 4, weft::CriticalSectionPolicy> g_queue;
constexpr int kCount = 20;
std::size_t g_peak_len = 0;  // the most values the channel held

Gen odd_squares() {
  for (int i = 1;; i += 2) co_yield i * i;
}

Job producer() {
  auto g = odd_squares();
  for (int x : std::move(g).take(kCount)) {
    if (!co_await g_queue.send(x)) co_return 1;  // closed: never here
    if (g_queue.len() > g_peak_len) g_peak_len = g_queue.len();
  }
  g_queue.close();  // the consumer drains, then sees kClosed
  co_return 0;
}

Job consumer() {
  int sum = 0;
  for (;;) {
    auto r = co_await g_queue.recv();
    if (!r) break;  // closed and drained
    const int v = *r;
    sum += v;
    if (v % 9 == 0) co_await sleep(1);  // slow down now and then: the queue fills
  }
  co_return sum;
}

Job timers() {
  const std::uint32_t t0 = g_now;
  // join: both sleeps run concurrently: ~5 ticks, not 8.
  auto [a, b] = co_await weft::join(sleep(3), sleep(5));
  (void)a;
  (void)b;
  const std::uint32_t joined = g_now - t0;
  // select: the 2-tick sleep beats the 50-tick one, which is dropped (its
  // timer slot freed).
  auto which = co_await weft::select(sleep(50), sleep(2));
  const std::uint32_t selected = g_now - t0;
  int free_slots = 0;
  for (auto& t : g_timers) free_slots += t.used ? 0 : 1;
  sh::write0("timers: join took ");
  sh::write_int(static_cast<std::int32_t>(joined));
  sh::write0(" ticks, select winner arm ");
  sh::write_int(static_cast<std::int32_t>(which.index()));
  sh::write0(" after ");
  sh::write_int(static_cast<std::int32_t>(selected - joined));
  sh::write0(" ticks\n");
  const bool ok = joined >= 5 && joined < 8 && which.index() == 1 && selected - joined >= 2 &&
                  selected - joined < 50 && free_slots >= 7;
  co_return ok ? 0 : 1;
}

// Five heartbeats from the SysTick handler, each a later tick than the last.
Job heartbeat() {
  std::uint32_t last = 0;
  int bad = 0;
  for (int i = 0; i < 5; ++i) {
    const std::uint32_t tick = co_await g_heartbeat.wait();
    bad += (tick > last && tick % 2 == 0) ? 0 : 1;
    last = tick;
  }
  sh::write0("heartbeat: 5 signals from SysTick, last at tick ");
  sh::write_int(static_cast<std::int32_t>(last));
  sh::write0("\n");
  co_return bad;
}

constinit weft::TaskStorage<Job> g_producer, g_consumer, g_timer_task, g_heartbeat_task;
constinit weft::StaticExecutor<4> g_executor;

int expected_sum() {
  int s = 0;
  for (int i = 0, x = 1; i < kCount; ++i, x += 2) s += x * x;
  return s;
}

}  // namespace

int main() {
  sh::write0(
      "weft firmware: StaticExecutor, Task, Generator, StaticChannel, StaticSignal, join/select, "
      "SysTick\n");
  start_systick();
  auto p = g_executor.spawn(g_producer, [] { return producer(); });
  auto c = g_executor.spawn(g_consumer, [] { return consumer(); });
  auto t = g_executor.spawn(g_timer_task, [] { return timers(); });
  auto h = g_executor.spawn(g_heartbeat_task, [] { return heartbeat(); });
  if (!p || !c || !t || !h) {
    sh::write0("FAIL: spawn\n");
    return 1;
  }
  g_executor.run_until([&] {
    return c->is_finished() && t->is_finished() && p->is_finished() && h->is_finished();
  });

  int failures = 0;
  const int sum = *c->take_output();
  sh::write0("consumer: sum of the first 20 odd squares = ");
  sh::write_int(sum);
  sh::write0(sum == expected_sum() ? " (ok)\n" : " (WRONG)\n");
  failures += sum == expected_sum() ? 0 : 1;
  failures += *p->take_output();
  sh::write0("channel: peak fill ");
  sh::write_int(static_cast<std::int32_t>(g_peak_len));
  sh::write0(" of 4\n");
  failures += g_peak_len == 4 ? 0 : 1;  // the consumer's sleeps let it fill up
  failures += *h->take_output();
  const int timer_result = *t->take_output();
  failures += timer_result;
  sh::write0("SysTick wakes delivered: ");
  sh::write_int(g_timer_wakes);
  sh::write0(", ticks: ");
  sh::write_int(static_cast<std::int32_t>(g_now));
  sh::write0("\n");
  failures += g_timer_wakes > 0 ? 0 : 1;
  sh::write0(failures == 0 ? "all checks passed\n" : "FAILED\n");
  return failures == 0 ? 0 : 1;
}
