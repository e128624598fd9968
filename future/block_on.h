// -----------------------------------------------------------------------------
// File: future/block_on.h
// -----------------------------------------------------------------------------
//
// `block_on(f)`: runs one future to completion on the calling thread and
// returns its output. Between polls the thread sleeps (futex on Linux, a
// condition variable elsewhere) until the future's waker is woken, from any
// thread: no spinning. Rust: `pollster::block_on`,
// `futures::executor::block_on`.
//
//   - `f` is polled in place: an lvalue is borrowed (it must not move
//     afterwards unless it is `Unpin`); a temporary lives until `block_on`
//     returns. Works for any `Future`, so also `T v = block_on(my_task());`.
//   - Each poll gets a fresh cooperative `Budget` (`Budget::kDefault`): a
//     future that spends it is simply polled again at once (it woke itself).
//   - Wakes that arrive before the thread parks are not lost, and many wakes
//     coalesce into one re-poll.
//
// Costs: no allocation after the first call on a thread (the parker is
// cached per thread; a nested `block_on`, inside a future that another
// `block_on` polls, makes a parker of its own: one allocation). Per wake:
// one atomic swap, and a futex wake only if the thread is parked. Per poll
// with the wake already in: no syscall.
// Contract: hosted only. Blocks the calling thread: never call it inside an
// executor's worker (it would stall the other tasks there). A waker may be
// cloned to other threads and woken or dropped at any time, also after
// `block_on` returned (the parker is reference-counted; a late wake makes a
// later `block_on` on that thread poll once more than needed, which futures
// must tolerate). Exceptions from `poll` propagate to the caller.
// Cancellation: `block_on` runs `f` to completion; it destroys nothing (a
// temporary `f` is destroyed by the caller's full-expression, as usual).
//
// Example:
//
//   weft::Task<int> answer() { co_return co_await weft::ready(42); }
//   int v = weft::block_on(answer());
//   EXPECT_EQ(v, 42);
//
#ifndef WEFT_FUTURE_BLOCK_ON_H_
#define WEFT_FUTURE_BLOCK_ON_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/internal/parker.h"
#include "future/poll.h"
#include "future/waker.h"

namespace weft {

namespace future_internal {

// The calling thread's cached parker, lent to one `block_on` at a time.
struct ParkerSlot {
  Parker parker;
  bool in_use = false;
};
inline thread_local ParkerSlot tl_block_on_parker;

// Borrows the thread's parker, or owns a fresh one when it is already lent
// (nested block_on).
class BorrowedParker {
 public:
  BorrowedParker() : slot_(&tl_block_on_parker) {
    if (slot_->in_use) {
      slot_ = nullptr;
      own_.emplace();
    } else {
      slot_->in_use = true;
      slot_->parker.reset();  // a stale wake from an earlier block_on means nothing now
    }
  }
  BorrowedParker(const BorrowedParker&) = delete;
  BorrowedParker& operator=(const BorrowedParker&) = delete;
  ~BorrowedParker() {
    if (slot_ != nullptr) slot_->in_use = false;
  }
  Parker& get() noexcept { return slot_ != nullptr ? slot_->parker : *own_; }

 private:
  ParkerSlot* slot_;
  std::optional<Parker> own_;
};

}  // namespace future_internal

// block_on(f)
//
// Polls `f` until it is Ready, parking the thread between wakes; returns the
// output.
template <class F>
  requires Future<std::remove_cvref_t<F>>
OutputOf<F> block_on(F&& f) {
  future_internal::BorrowedParker borrowed;
  future_internal::Parker& parker = borrowed.get();
  const Waker waker = parker.waker();
  Budget budget;
  for (;;) {
    budget.refill();
    Context cx(waker, &budget);
    Poll<OutputOf<F>> p = f.poll(cx);
    if (p.is_ready()) return std::move(p).value();
    parker.park();
  }
}

}  // namespace weft

#endif  // WEFT_FUTURE_BLOCK_ON_H_
