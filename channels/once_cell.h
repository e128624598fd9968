// -----------------------------------------------------------------------------
// File: channels/once_cell.h
// -----------------------------------------------------------------------------
//
// `OnceCell<T>`: a value set at most once, asynchronously. `get_or_init(f)`
// runs one initialiser at a time: the first caller runs `f()` (a future of
// `T`), later callers wait and then see the same value. If the running
// initialiser is dropped (cancelled), the next waiter runs its own; nobody
// hangs. Rust: `tokio::sync::OnceCell` (built, like it, on a one-permit
// semaphore: `channels_internal::BatchSemaphore`).
//
//   weft::OnceCell<Config> cell;
//   const Config& c = co_await cell.get_or_init([] { return load_config(); });
//   const Config* p = cell.get();                   // nullptr until set
//   auto r = cell.set(Config{});                    // Result<void, SetError<Config>>
//   auto t = co_await cell.get_or_try_init(f);      // f(): future of Result<T, E>
//
// Costs: no allocation (the waiter node and the initialiser's future live in
// the `get_or_init` future). sizeof = the semaphore (72 bytes on x86-64
// glibc) + 8 + sizeof(T). `get()` and `get_or_init` on a set cell are one
// acquire load. Starting an initialiser is one compare-exchange; waiting
// takes the semaphore's mutex; setting the value closes the semaphore
// (mutex) and wakes every waiter.
// How: the semaphore's one permit is the right to initialise. The holder
// stores the value, publishes it (`initialized_`, release) and closes the
// semaphore: every waiter and later acquire completes with "closed", which
// means "the value is there". A dropped or failed initialiser gives the
// permit back, so the first waiter in FIFO order starts its own.
// Memory ordering: the value is written before `initialized_` is stored
// (release); `get()`/`initialized()` load it with acquire.
// Contract: thread-safe for `get`, `initialized`, `set`, `get_or_init`,
// `get_or_try_init`. `get_mut`, `take` and `into_inner` need exclusive
// access (no get_or_init future alive, nobody else calling): the caller's
// promise. Not movable. Outputs are `std::reference_wrapper<const T>` (bind
// them to `const T&`); the reference is valid until the cell is destroyed
// or `take`n. `f` is called at most once per future, only if that future
// becomes the initialiser; the future it returns runs inside the
// `get_or_init` future (so it is polled by whichever task awaits it).
// Destroying a cell while futures wait on it is a contract violation.
// Cancellation: `get_or_init` is cancel-safe (declared): dropping it while
// it waits unlinks it; dropping it while its initialiser runs destroys that
// initialiser's future and passes the right to initialise to the next
// waiter. Nothing is set half-way. (`get_or_try_init` likewise.)
//
// Example:
//
//   weft::OnceCell<int> cell;
//   EXPECT_EQ(cell.get(), nullptr);
//   auto f = cell.get_or_init([] { return weft::ready(7); });
//   EXPECT_EQ(weft::testing::poll_once(f).value().get(), 7);
//   EXPECT_EQ(*cell.get(), 7);
//   EXPECT_TRUE(cell.set(8).error().is_already_initialized());
//
#ifndef WEFT_CHANNELS_ONCE_CELL_H_
#define WEFT_CHANNELS_ONCE_CELL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "channels/error.h"
#include "channels/semaphore.h"
#include "future/context.h"
#include "future/future.h"
#include "future/poll.h"
#include "tools/base/assert.h"
#include "tools/base/sync.h"

namespace weft {

// SetError<T>: `OnceCell::set` did not store the value, which comes back.
// `kAlreadyInitialized`: the cell has a value; `kInitializing`: an
// initialiser is running (Rust: `tokio::sync::SetError`).
template <class T>
struct SetError {
  enum class Kind : std::uint8_t { kAlreadyInitialized, kInitializing };
  Kind kind;
  T value;

  static SetError already_initialized(T v) { return SetError{Kind::kAlreadyInitialized, std::move(v)}; }
  static SetError initializing(T v) { return SetError{Kind::kInitializing, std::move(v)}; }
  bool is_already_initialized() const noexcept { return kind == Kind::kAlreadyInitialized; }
  bool is_initializing() const noexcept { return kind == Kind::kInitializing; }
  T into_inner() && noexcept(std::is_nothrow_move_constructible_v<T>) { return std::move(value); }
};

namespace channels_internal {

template <class R>
struct ResultParts {
  static constexpr bool kIsResult = false;
};
template <class U, class E>
struct ResultParts<Result<U, E>> {
  static constexpr bool kIsResult = true;
  using Value = U;
  using Error = E;
};

}  // namespace channels_internal

template <class T>
class OnceCell {
 public:
  OnceCell() noexcept : sem_(1) {}
  // A cell that already holds `value`.
  explicit OnceCell(T value) : sem_(0) {
    ::new (static_cast<void*>(&value_)) T(std::move(value));
    initialized_.store(true, sync::kRelease);
    sem_.close();
  }
  // Not copyable or movable (waiters point into it).
  OnceCell(const OnceCell&) = delete;
  OnceCell& operator=(const OnceCell&) = delete;
  ~OnceCell() {
    if (initialized_.load(sync::kAcquire)) value_.~T();
  }

  bool initialized() const noexcept { return initialized_.load(sync::kAcquire); }
  // The value, or nullptr while there is none.
  const T* get() const noexcept { return initialized() ? &value_ : nullptr; }
  // Mutable access (exclusive access: the caller's promise); nullptr if unset.
  T* get_mut() noexcept { return initialized() ? &value_ : nullptr; }

  // OnceCell::set()
  //
  // Stores `value` unless the cell is set or being initialised; then the
  // value comes back in the error. Never waits.
  Result<void, SetError<T>> set(T value) {
    if (initialized()) return Err{SetError<T>::already_initialized(std::move(value))};
    switch (sem_.try_acquire(1)) {
      case channels_internal::BatchSemaphore::TryResult::kOk: {
        // If T's move constructor throws, the permit goes back (else every
        // later get_or_init would wait forever).
        struct GiveBack {
          channels_internal::BatchSemaphore* sem;
          ~GiveBack() {
            if (sem != nullptr) sem->release(1);
          }
        } give_back{&sem_};
        publish(std::move(value));
        give_back.sem = nullptr;
        return {};
      }
      case channels_internal::BatchSemaphore::TryResult::kClosed:
        return Err{SetError<T>::already_initialized(std::move(value))};
      case channels_internal::BatchSemaphore::TryResult::kNoPermits:
        break;
    }
    return Err{SetError<T>::initializing(std::move(value))};
  }

  // InitFuture<F, kTry>: the future of `get_or_init(f)` (kTry = false,
  // Output `std::reference_wrapper<const T>`) and `get_or_try_init(f)`
  // (kTry = true, Output `Result<std::reference_wrapper<const T>, E>`).
  // Movable until first polled.
  template <class F, bool kTry>
  class InitFuture;

  // OnceCell::get_or_init()
  //
  // `f()` must return a future whose output converts to T. Cancel-safe.
  template <class F>
  InitFuture<std::decay_t<F>, false> get_or_init(F&& f) {
    return InitFuture<std::decay_t<F>, false>(*this, std::forward<F>(f));
  }

  // OnceCell::get_or_try_init()
  //
  // `f()` must return a future of `Result<U, E>` (U converts to T). An
  // error completes this future with it and lets the next waiter try.
  template <class F>
  InitFuture<std::decay_t<F>, true> get_or_try_init(F&& f) {
    return InitFuture<std::decay_t<F>, true>(*this, std::forward<F>(f));
  }

  // OnceCell::take()
  //
  // Moves the value out and leaves the cell empty (exclusive access).
  std::optional<T> take() {
    if (!initialized_.load(sync::kAcquire)) {
      WEFT_ASSERT(sem_.available() == 1, "OnceCell::take while an initialiser runs");
      return std::nullopt;
    }
    std::optional<T> out(std::move(value_));
    value_.~T();
    initialized_.store(false, sync::kRelaxed);
    // A fresh (open) semaphore with the permit: nobody refers to the old one.
    std::destroy_at(&sem_);
    std::construct_at(&sem_, 1);
    return out;
  }
  std::optional<T> into_inner() && { return take(); }

 private:
  // With the permit held: store, publish, and release every waiter.
  template <class U>
  void publish(U&& v) {
    ::new (static_cast<void*>(&value_)) T(std::forward<U>(v));
    initialized_.store(true, sync::kRelease);
    sem_.close();  // the permit is never given back: all acquires now fail
  }

  sync::Atomic<bool> initialized_{false};
  channels_internal::BatchSemaphore sem_;
  union {
    T value_;  // alive while initialized_
  };
};

template <class T>
template <class F, bool kTry>
class [[nodiscard("futures do nothing unless polled")]] OnceCell<T>::InitFuture {
  using Fut = std::invoke_result_t<F&&>;
  static_assert(Future<Fut>, "OnceCell::get_or_init: f() must return a future");
  using FutOut = OutputOf<Fut>;
  using Parts = channels_internal::ResultParts<FutOut>;
  static_assert(!kTry || Parts::kIsResult, "OnceCell::get_or_try_init: f() must return a future of Result<U, E>");

  template <bool kIsTry, class = void>
  struct OutputFor {
    using type = std::reference_wrapper<const T>;
  };
  template <class V>
  struct OutputFor<true, V> {
    using type = Result<std::reference_wrapper<const T>, typename Parts::Error>;
  };

 public:
  using Output = typename OutputFor<kTry>::type;
  // Cancel-safe: see the file comment.
  static constexpr bool kCancelSafe = true;

  InitFuture(InitFuture&& o) noexcept(std::is_nothrow_move_constructible_v<F>)
      : cell_(o.cell_), f_(std::move(o.f_)), acquire_(std::move(o.acquire_)) {
    WEFT_HARDENING_ASSERT(o.state_ == State::kStart, "OnceCell::get_or_init future moved after it was polled");
    o.state_ = State::kDone;
  }
  InitFuture& operator=(InitFuture&&) = delete;
  ~InitFuture() {
    if (state_ == State::kInitializing) {
      fut_.reset();                // the initialiser is cancelled first,
      cell_->sem_.release(1);      // then the next waiter may start its own
    }
  }

  Poll<Output> poll(Context& cx) {
    for (;;) {
      switch (state_) {
        case State::kStart:
          if (cell_->initialized()) {
            if (!cx.poll_proceed()) return Pending{};
            state_ = State::kDone;
            return value();
          }
          state_ = State::kAcquiring;
          continue;
        case State::kAcquiring: {
          auto p = acquire_.poll(cx);
          if (p.is_pending()) return Pending{};
          if (!p.value()) {  // closed: the value is there
            WEFT_ASSERT(cell_->initialized(), "OnceCell: semaphore closed without a value");
            state_ = State::kDone;
            return value();
          }
          // The permit is ours: run our initialiser.
          state_ = State::kInitializing;
          fut_.emplace(Call{f_});
          continue;
        }
        case State::kInitializing: {
          auto p = fut_->poll(cx);
          if (p.is_pending()) return Pending{};
          if constexpr (kTry) {
            FutOut r = std::move(p).value();
            if (r.is_err()) {
              fut_.reset();
              state_ = State::kDone;
              cell_->sem_.release(1);
              return Output(Err{std::move(r).error()});
            }
            cell_->publish(std::move(r).value());
          } else {
            cell_->publish(std::move(p).value());
          }
          fut_.reset();
          state_ = State::kDone;
          return value();
        }
        case State::kDone:
          break;
      }
      WEFT_ASSERT(false, "OnceCell::get_or_init future polled after it completed");
      return Pending{};
    }
  }

 private:
  friend class OnceCell;
  enum class State : std::uint8_t { kStart, kAcquiring, kInitializing, kDone };

  // Converts to the initialiser's future by calling `f` (so `emplace` builds
  // it in place).
  struct Call {
    F& f;
    operator Fut() const { return std::invoke(std::move(f)); }  // NOLINT: implicit on purpose
  };

  template <class G>
  InitFuture(OnceCell& cell, G&& f) : cell_(&cell), f_(std::forward<G>(f)), acquire_(cell.sem_, 1) {}

  Output value() const noexcept { return Output(std::cref(cell_->value_)); }

  OnceCell* cell_;
  State state_ = State::kStart;
  F f_;
  channels_internal::LockAcquire acquire_;
  std::optional<Fut> fut_;
};

}  // namespace weft

#endif  // WEFT_CHANNELS_ONCE_CELL_H_
