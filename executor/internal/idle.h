// -----------------------------------------------------------------------------
// File: executor/internal/idle.h
// -----------------------------------------------------------------------------
//
// `Idle`: decides which worker of a multi-threaded executor to wake when
// work appears, so that a burst of spawns wakes workers one at a time instead
// of all at once (no thundering herd), and so that no work is ever left in a
// queue while every worker sleeps (no lost wake-up). Rust: tokio's
// `runtime/scheduler/multi_thread/idle.rs`; the protocol is tokio's.
//
// A worker is *unparked* unless it is in the sleepers list, and *searching*
// while it looks for work in other workers' queues (and in the inject queue)
// after its own queue ran dry. The rule:
//
//   - Whoever makes work available (push to a queue, then `worker_to_notify`)
//     wakes a sleeper only if nobody is searching and somebody sleeps. A
//     searcher will find the work: waking more would only make them fight.
//   - A worker woken that way counts as searching from the moment it is
//     chosen (before it even runs), so a burst of N pushes wakes one worker.
//   - A searcher that finds work stops searching; if it was the *last*
//     searcher it wakes one more worker when work is left in some queue
//     (tokio wakes one unconditionally; checking the queues after the RMW
//     that ends the search loses nothing, see "Memory ordering"): wake-ups
//     propagate one worker at a time while there is work to find.
//   - A searcher that finds nothing parks; if it was the last searcher it
//     must look at every queue once more *after* announcing that it parks
//     (`transition_worker_to_parked` returned true) and wake a worker if any
//     queue holds work: this closes the race with a producer that saw it
//     still searching and therefore woke nobody.
//   - At most half of the workers search at once (more only fight over the
//     same victims); a worker refused searching goes straight to parking.
//
// State: one word, `unparked << 32 | searching`, changed only with seq_cst
// read-modify-writes (`notify_should_wakeup` reads it with `fetch_add(0)`).
// Memory ordering: a producer publishes work (release store or seq_cst RMW
// on the queue) *then* RMWs the state; a parking worker RMWs the state *then*
// reads the queues. Because all RMWs on one word are totally ordered and
// each reads the previous one, either the producer's RMW reads the parking
// worker's (and sees it gone: it wakes a sleeper), or the worker's RMW reads
// the producer's and, by release/acquire through the RMW chain, sees the
// work when it re-checks the queues. That is the StoreLoad ordering the
// protocol needs, without a standalone fence (which ThreadSanitizer does not
// model). The sleepers list is guarded by a mutex.
//
// Costs: `worker_to_notify` is one atomic RMW when someone is searching or
// nobody sleeps (the common case under load), else a mutex; the transitions
// are one RMW (searching) or a mutex (parking). No allocation after
// construction (the sleepers list is reserved up front).
// Contract: worker ids are in [0, num_workers); every worker starts
// unparked and not searching; a worker parks through
// `transition_worker_to_parked` exactly once per sleep, and after its
// parker returns asks `is_parked(id)`: still listed means a spurious or
// foreign wake-up (park again); not listed means somebody chose it via
// `worker_to_notify` (it is now searching) or `unpark_worker_by_id`. Hosted.
#ifndef WEFT_EXECUTOR_INTERNAL_IDLE_H_
#define WEFT_EXECUTOR_INTERNAL_IDLE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "executor/internal/sync.h"
#include "tools/base/assert.h"

namespace weft::executor_internal {

// Idle
//
// See the header comment.
class Idle {
 public:
  explicit Idle(std::size_t num_workers)
      : num_workers_(num_workers), state_(pack(static_cast<std::uint32_t>(num_workers), 0)) {
    WEFT_HARDENING_ASSERT(num_workers >= 1 && num_workers < (std::size_t{1} << 31),
                          "Idle: the number of workers must be in [1, 2^31)");
    sleepers_.reserve(num_workers);
  }
  Idle(const Idle&) = delete;
  Idle& operator=(const Idle&) = delete;

  // Idle::worker_to_notify()
  //
  // Called after making work available. Returns the id of a sleeping worker
  // that the caller must now unpark (it was moved to "unparked, searching"),
  // or nothing when a searcher exists or no worker sleeps.
  std::optional<std::size_t> worker_to_notify() {
    if (!notify_should_wakeup()) return std::nullopt;
    std::lock_guard<std::mutex> lock(mu_);
    if (!notify_should_wakeup()) return std::nullopt;
    state_.fetch_add(pack(1, 1), std::memory_order_seq_cst);  // one more unparked, and searching
    WEFT_ASSERT(!sleepers_.empty(), "Idle: fewer unparked workers than workers, but no sleeper");
    const std::size_t id = sleepers_.back();
    sleepers_.pop_back();
    return id;
  }

  // Idle::transition_worker_to_parked()
  //
  // The worker `id` is about to sleep. Returns true if it was the last
  // searcher: the caller must then re-check every queue and, if any holds
  // work, call `worker_to_notify` (see the header comment).
  bool transition_worker_to_parked(std::size_t id, bool is_searching) {
    std::lock_guard<std::mutex> lock(mu_);
    WEFT_ASSERT(std::find(sleepers_.begin(), sleepers_.end(), id) == sleepers_.end(),
                "Idle: a worker parked twice");
    const std::uint64_t dec = pack(1, is_searching ? 1 : 0);
    const std::uint64_t prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
    sleepers_.push_back(id);
    return is_searching && searching_of(prev) == 1;
  }

  // Idle::transition_worker_to_searching()
  //
  // Asks to search other queues; false if half the workers already do.
  bool transition_worker_to_searching() noexcept {
    const std::uint64_t s = state_.load(std::memory_order_seq_cst);
    if (2 * std::size_t{searching_of(s)} >= num_workers_) return false;
    // Two workers may pass the check at once: more than half may search for
    // a moment. Harmless; the limit only reduces contention.
    state_.fetch_add(pack(0, 1), std::memory_order_seq_cst);
    return true;
  }

  // Idle::transition_worker_from_searching()
  //
  // The caller found work and stops searching. Returns true if it was the
  // last searcher: it must then look at the queues and, if any holds work,
  // wake one more worker (`worker_to_notify`).
  bool transition_worker_from_searching() noexcept {
    const std::uint64_t prev = state_.fetch_sub(pack(0, 1), std::memory_order_seq_cst);
    WEFT_ASSERT(searching_of(prev) >= 1, "Idle: stopped searching without searching");
    return searching_of(prev) == 1;
  }

  // Idle::unpark_worker_by_id()
  //
  // Takes `id` off the sleepers list (unparked, not searching) when it was
  // woken by something else than `worker_to_notify` (shutdown, a driver
  // event, work pushed to it directly). True if it was listed.
  bool unpark_worker_by_id(std::size_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = std::find(sleepers_.begin(), sleepers_.end(), id);
    if (it == sleepers_.end()) return false;
    *it = sleepers_.back();
    sleepers_.pop_back();
    state_.fetch_add(pack(1, 0), std::memory_order_seq_cst);
    return true;
  }

  // Whether `id` is in the sleepers list.
  bool is_parked(std::size_t id) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::find(sleepers_.begin(), sleepers_.end(), id) != sleepers_.end();
  }

  std::size_t num_workers() const noexcept { return num_workers_; }
  // Snapshots (tests, counters).
  std::size_t num_searching() const noexcept { return searching_of(state_.load(std::memory_order_seq_cst)); }
  std::size_t num_unparked() const noexcept { return unparked_of(state_.load(std::memory_order_seq_cst)); }

 private:
  static constexpr std::uint64_t pack(std::uint32_t unparked, std::uint32_t searching) noexcept {
    return (static_cast<std::uint64_t>(unparked) << 32) | searching;
  }
  static constexpr std::uint32_t searching_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s);
  }
  static constexpr std::uint32_t unparked_of(std::uint64_t s) noexcept {
    return static_cast<std::uint32_t>(s >> 32);
  }

  // An RMW, not a load: it must read the latest value in the word's
  // modification order (see "Memory ordering" above).
  bool notify_should_wakeup() noexcept {
    const std::uint64_t s = state_.fetch_add(0, std::memory_order_seq_cst);
    return searching_of(s) == 0 && unparked_of(s) < num_workers_;
  }

  const std::size_t num_workers_;
  Atomic<std::uint64_t> state_;
  mutable std::mutex mu_;
  std::vector<std::size_t> sleepers_;  // guarded by mu_
};

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_IDLE_H_
