// -----------------------------------------------------------------------------
// File: future/block_on_stream.h
// -----------------------------------------------------------------------------
//
// `block_on_stream(s)`: a blocking `iter::Iterator` over a stream's items.
// Each `next()` polls the stream until it yields an item or ends, parking the
// calling thread between wakes (futex on Linux; no spinning). Works in a
// range-for loop and with every `iter` adaptor. Rust:
// `futures::executor::block_on_stream`.
//
//   - An lvalue stream is borrowed (it must outlive the iterator and stay
//     put); an rvalue is moved into the iterator.
//   - Each poll gets a fresh cooperative `Budget` (`Budget::kDefault`), as in
//     `block_on`: a stream that spends it is polled again at once.
//   - After the end, `next()` keeps returning nullopt without polling the
//     stream again (the iterator is fused).
//
// Costs: one allocation per iterator (its parker, future/internal/parker.h);
// none per item. Per wake: one atomic swap, plus a futex wake only if the
// thread is parked. sizeof: the stream (or a pointer to it), the parker and
// its waker (three pointers) and a flag.
// Contract: hosted. Blocks the calling thread: never use it inside an
// executor's worker. The iterator is used by one thread at a time; the
// stream's wakers may be woken from any thread, also after the iterator is
// gone (the parker is reference-counted). It must not move after the first
// `next()` unless the stream is `Unpin` (debug-checked). Exceptions from
// `poll_next` propagate out of `next()`.
// Cancellation: destroying the iterator destroys an owned stream (a borrowed
// one is left as it is, with whatever it had buffered).
//
// Example:
//
//   int sum = 0;
//   for (int x : weft::block_on_stream(weft::stream::iter(weft::iter::range(1, 4)))) sum += x;
//   EXPECT_EQ(sum, 6);
//
#ifndef WEFT_FUTURE_BLOCK_ON_STREAM_H_
#define WEFT_FUTURE_BLOCK_ON_STREAM_H_

#include <optional>
#include <type_traits>
#include <utility>

#include "future/context.h"
#include "future/future.h"
#include "future/internal/parker.h"
#include "future/poll.h"
#include "future/stream.h"
#include "future/waker.h"
#include "iter/adaptors.h"
#include "iter/iterator.h"

namespace weft {

// BlockingStream<S>
//
// The iterator returned by `block_on_stream()`. `S` is a stream type (owned)
// or an lvalue reference to one (borrowed). An `iter::Iterator` with
// `Item = StreamItemOf<S>`.
template <class S>
class BlockingStream : public iter::Ext<BlockingStream<S>> {
  using St = std::remove_reference_t<S>;
  static_assert(Stream<St>, "block_on_stream: the argument must be a Stream");

 public:
  using Item = StreamItemOf<St>;

  template <class T>
    requires std::is_constructible_v<S, T&&>
  explicit BlockingStream(T&& s) : s_(std::forward<T>(s)), waker_(parker_.waker()) {}

  BlockingStream(BlockingStream&&) = default;
  BlockingStream& operator=(BlockingStream&&) = delete;
  BlockingStream(const BlockingStream&) = delete;

  std::optional<Item> next() {
    moved_.check(this, "BlockingStream was moved after its first next()");
    if (ended_) return std::nullopt;
    Budget budget;
    for (;;) {
      budget.refill();
      Context cx(waker_, &budget);
      PollNext<Item> p = s_.poll_next(cx);
      if (p.is_ready()) {
        if (!p.value()) ended_ = true;
        return std::move(p).value();
      }
      parker_.park();
    }
  }

  // True once the stream has ended.
  bool is_terminated() const noexcept { return ended_; }

 private:
  static constexpr bool kCheckMoves = !std::is_reference_v<S> && !Unpin<St>;

  S s_;
  future_internal::Parker parker_;
  Waker waker_;
  bool ended_ = false;
  [[no_unique_address]] future_internal::MoveGuard<!kCheckMoves> moved_;
};

// block_on_stream(s)
//
// A blocking iterator over `s`'s items (lvalue: borrowed; rvalue: owned).
template <class S>
  requires Stream<std::remove_cvref_t<S>>
BlockingStream<std::conditional_t<std::is_lvalue_reference_v<S>, S, std::remove_cvref_t<S>>> block_on_stream(
    S&& s) {
  using B = BlockingStream<std::conditional_t<std::is_lvalue_reference_v<S>, S, std::remove_cvref_t<S>>>;
  return B(std::forward<S>(s));
}

}  // namespace weft

#endif  // WEFT_FUTURE_BLOCK_ON_STREAM_H_
