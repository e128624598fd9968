// weft on a Cortex-M3/M4 board (qemu mps2-an385 / mps2-an386), no heap.
//
// Real weft code on bare metal: a StaticExecutor runs four Tasks whose frames
// live in a static arena:
//   - a producer that draws numbers from an iter::Generator and sends them
//     through a 4-slot static channel (built here from weft futures: the
//     channels component has no static channel yet),
//   - a consumer that sums them,
//   - a timer task that uses join() and select() over sleeps,
//   - a watchdog that fails the run if SysTick stops.
// Time comes from SysTick: its interrupt handler advances the clock and wakes
// the sleeping tasks through their Wakers (setting ready bits in the
// executor). Results are printed through semihosting; the exit status is 0
// only if every check passed.
//
// Run: ./bazelw test --config=cortex_m //services/firmware:firmware_test
#include <cstdint>
#include <utility>

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

// ---- a 4-slot channel built from futures (single core) ----

template <class T, int N>
class StaticQueue {
 public:
  // A future: Ready once `v` is in the queue.
  auto send(T v) {
    return weft::poll_fn([this, v](weft::Context& cx) -> weft::Poll<weft::Unit> {
      weft::CriticalSection cs;
      if (len_ == N) {
        weft::register_waker(send_waiter_, cx.waker());
        return weft::Pending{};
      }
      buf_[(head_ + len_) % N] = v;
      ++len_;
      recv_waiter_.wake_by_ref();
      return weft::Unit{};
    });
  }
  // A future: Ready with the oldest value.
  auto recv() {
    return weft::poll_fn([this](weft::Context& cx) -> weft::Poll<T> {
      weft::CriticalSection cs;
      if (len_ == 0) {
        weft::register_waker(recv_waiter_, cx.waker());
        return weft::Pending{};
      }
      T v = buf_[head_];
      head_ = (head_ + 1) % N;
      --len_;
      send_waiter_.wake_by_ref();
      return v;
    });
  }
  int max_len_seen() const { return max_; }

 private:
  T buf_[N] = {};
  int head_ = 0;
  int len_ = 0;
  int max_ = 0;
  weft::Waker send_waiter_;
  weft::Waker recv_waiter_;
};

// ---- tasks ----

struct ArenaTag;
using Job = weft::Task<int, weft::TaskArena<4096, ArenaTag>>;
struct GenTag;
using Gen = weft::iter::Generator<int, weft::iter::FrameArena<512, GenTag>>;

constinit StaticQueue<int, 4> g_queue;
constexpr int kCount = 20;

Gen odd_squares() {
  for (int i = 1;; i += 2) co_yield i * i;
}

Job producer() {
  auto g = odd_squares();
  for (int x : std::move(g).take(kCount)) {
    co_await g_queue.send(x);
  }
  co_await g_queue.send(-1);  // end marker
  co_return 0;
}

Job consumer() {
  int sum = 0;
  for (;;) {
    int v = co_await g_queue.recv();
    if (v < 0) break;
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

constinit weft::TaskStorage<Job> g_producer, g_consumer, g_timer_task;
constinit weft::StaticExecutor<4> g_executor;

int expected_sum() {
  int s = 0;
  for (int i = 0, x = 1; i < kCount; ++i, x += 2) s += x * x;
  return s;
}

}  // namespace

int main() {
  sh::write0("weft firmware: StaticExecutor, Task, Generator, join/select, SysTick\n");
  start_systick();
  auto p = g_executor.spawn(g_producer, [] { return producer(); });
  auto c = g_executor.spawn(g_consumer, [] { return consumer(); });
  auto t = g_executor.spawn(g_timer_task, [] { return timers(); });
  if (!p || !c || !t) {
    sh::write0("FAIL: spawn\n");
    return 1;
  }
  g_executor.run_until([&] { return c->is_finished() && t->is_finished() && p->is_finished(); });

  int failures = 0;
  const int sum = *c->take_output();
  sh::write0("consumer: sum of the first 20 odd squares = ");
  sh::write_int(sum);
  sh::write0(sum == expected_sum() ? " (ok)\n" : " (WRONG)\n");
  failures += sum == expected_sum() ? 0 : 1;
  failures += *p->take_output();
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
