// -----------------------------------------------------------------------------
// File: future/shared.h
// -----------------------------------------------------------------------------
//
// `Shared<F>`: a clonable handle to one future; every clone completes with a
// copy of its output. The first clone polled drives the inner future; the
// others register their wakers and are woken when it makes progress.
// Rust: `futures::future::Shared` (`FutureExt::shared`).
//
//   auto config = shared(load_config());     // polled once, awaited by many
//   auto a = config;                          // a clone
//   // a and config each complete with a copy of the same Config
//
// Costs: one allocation (the shared state: the future, its output, the
// waiters) at `shared()`; a mutex per poll; one Waker slot per clone that
// is waiting. `Output` must be copyable.
// Thread-safety: clones may be polled from different threads at once; the
// inner future is polled by one clone at a time (the others wait).
// Contract: `Shared` is `Unpin` (the future lives on the heap).
// Cancellation: dropping a clone removes its waker; dropping the last
// clone destroys the inner future. Dropping the clone that was driving the
// inner future loses nothing: the inner future stays in the shared state and
// the next clone polled drives it. Cancel-safe for that reason.
//
// Example:
//
//   auto s = weft::shared(weft::ready(std::string("hello")));
//   auto t = s;
//   EXPECT_EQ(testing::poll_once(t).value(), "hello");
//   EXPECT_EQ(testing::poll_once(s).value(), "hello");
//
#ifndef WEFT_FUTURE_SHARED_H_
#define WEFT_FUTURE_SHARED_H_

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>
#include <vector>

#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "future/waker.h"
#include "tools/base/assert.h"

namespace weft {

namespace future_internal {

// The state every clone points to. `mu` guards everything but `refs`.
// Invariants: at most one clone polls `fut` at a time (`polling`); once `out`
// is set, `fut` is destroyed and `waiters` is empty.
template <Future F>
struct SharedState {
  using Output = OutputOf<F>;

  explicit SharedState(F f) : fut(std::in_place, std::move(f)) {}

  std::mutex mu;
  std::optional<F> fut;
  std::optional<Output> out;
  bool polling = false;
  std::uint64_t next_id = 1;
  std::vector<std::pair<std::uint64_t, Waker>> waiters;
  std::atomic<std::uint64_t> refs{1};  // clones + outstanding inner wakers

  void acquire() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    // acq_rel: the last release sees every other owner's writes before delete.
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  void register_waiter(std::uint64_t id, const Waker& w) {
    for (auto& [wid, waker] : waiters) {
      if (wid == id) {
        register_waker(waker, w);
        return;
      }
    }
    waiters.emplace_back(id, w);
  }
  void remove_waiter(std::uint64_t id) {
    for (auto it = waiters.begin(); it != waiters.end(); ++it) {
      if (it->first == id) {
        waiters.erase(it);
        return;
      }
    }
  }
  void wake_all() {
    std::vector<std::pair<std::uint64_t, Waker>> ws;
    {
      std::lock_guard<std::mutex> lock(mu);
      ws.swap(waiters);
    }
    for (auto& [id, w] : ws) std::move(w).wake();
  }

  // The waker the inner future sees: wakes every waiting clone.
  static RawWaker clone(const void* p) {
    static_cast<SharedState*>(const_cast<void*>(p))->acquire();
    return RawWaker{p, &kVTable};
  }
  static void wake(const void* p) {
    auto* s = static_cast<SharedState*>(const_cast<void*>(p));
    s->wake_all();
    s->release();
  }
  static void wake_by_ref(const void* p) { static_cast<SharedState*>(const_cast<void*>(p))->wake_all(); }
  static void drop(const void* p) { static_cast<SharedState*>(const_cast<void*>(p))->release(); }
  static constexpr RawWakerVTable kVTable = {&clone, &wake, &wake_by_ref, &drop};
};

}  // namespace future_internal

template <Future F>
class [[nodiscard("futures do nothing unless polled")]] Shared {
  using State = future_internal::SharedState<F>;

 public:
  using Output = OutputOf<F>;
  static constexpr bool kUnpin = true;
  static constexpr bool kCancelSafe = true;
  static_assert(std::is_copy_constructible_v<Output>, "shared: the output must be copyable");

  explicit Shared(F f) : state_(new State(std::move(f))), id_(0) {
    std::lock_guard<std::mutex> lock(state_->mu);
    id_ = state_->next_id++;
  }
  Shared(const Shared& o) : state_(o.state_), id_(0) {
    state_->acquire();
    std::lock_guard<std::mutex> lock(state_->mu);
    id_ = state_->next_id++;
  }
  Shared(Shared&& o) noexcept : state_(std::exchange(o.state_, nullptr)), id_(o.id_) {}
  Shared& operator=(Shared o) noexcept {
    std::swap(state_, o.state_);
    std::swap(id_, o.id_);
    return *this;
  }
  ~Shared() {
    if (state_ == nullptr) return;
    {
      std::lock_guard<std::mutex> lock(state_->mu);
      state_->remove_waiter(id_);
    }
    state_->release();
  }

  Poll<Output> poll(Context& cx) {
    WEFT_HARDENING_ASSERT(state_ != nullptr, "Shared polled after it was moved from");
    State& s = *state_;
    {
      std::lock_guard<std::mutex> lock(s.mu);
      if (s.out) return *s.out;
      if (s.polling) {  // another clone is driving it: wait for its wake-up
        s.register_waiter(id_, cx.waker());
        return Pending{};
      }
      s.polling = true;
      s.register_waiter(id_, cx.waker());
    }
    // Poll outside the lock: the inner future may wake synchronously.
    Waker inner = Waker::from_raw(State::clone(state_));
    Context inner_cx(inner, cx.budget());
    Poll<Output> p = s.fut->poll(inner_cx);
    std::unique_lock<std::mutex> lock(s.mu);
    s.polling = false;
    if (p.is_pending()) return Pending{};
    s.out.emplace(std::move(p).value());
    s.fut.reset();
    s.remove_waiter(id_);
    Output copy = *s.out;
    lock.unlock();
    s.wake_all();  // the others copy the output at their next poll
    return copy;
  }

  // Number of clones plus outstanding inner wakers (for tests and metrics).
  std::uint64_t strong_count() const noexcept { return state_->refs.load(std::memory_order_relaxed); }

 private:
  State* state_;
  std::uint64_t id_;
};

template <class F>
  requires Future<std::remove_cvref_t<F>>
Shared<std::remove_cvref_t<F>> shared(F&& f) {
  return Shared<std::remove_cvref_t<F>>(std::forward<F>(f));
}

}  // namespace weft

#endif  // WEFT_FUTURE_SHARED_H_
