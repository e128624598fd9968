// -----------------------------------------------------------------------------
// File: pin/moved_check.h
// -----------------------------------------------------------------------------
//
// `MovedCheck` is a debug-build check that an object has not moved since it
// was pinned or first polled: the first `check(this, ...)` records the
// object's address, and every later call asserts it is unchanged. C++ cannot
// forbid moving a future after its first poll at compile time (see
// pin/pin.h, "Why pinning exists"), so weft's futures catch it at run time.
// Rust: `futures_test::future::AssertUnmoved`.
//
// Costs:    debug builds (WEFT_DEBUG_CHECKS): one pointer, one compare per
//           `check`. Release builds (NDEBUG): an empty class whose members do
//           nothing; embedded with `[[no_unique_address]]` it takes no space.
// Contract: copying or moving a `MovedCheck` copies its recorded address, so a
//           moved-from-after-poll object trips the check at the next `check`
//           on the copy; moving before the first `check` is fine. `reset()`
//           forgets the address (for an object that is legitimately re-armed).
//           Every translation unit of a program must agree on NDEBUG, since
//           the class layout depends on it.
//
// Example:
//
//   struct Tick {
//     int polls = 0;
//     [[no_unique_address]] weft::MovedCheck moved;
//     void poll() { moved.check(this, "Tick was moved after its first poll"); ++polls; }
//   };
//   Tick t;
//   t.poll();
//   t.poll();  // same address: fine; a moved copy's next poll() would abort
//
#ifndef WEFT_PIN_MOVED_CHECK_H_
#define WEFT_PIN_MOVED_CHECK_H_

#include "tools/base/assert.h"

namespace weft {

// MovedCheck
//
// Records an address at the first `check` and asserts later calls match.
class MovedCheck {
 public:
#if WEFT_DEBUG_CHECKS
  // MovedCheck::check()
  //
  // `self` is the owning object's address (normally `this`); `what` is the
  // sentence printed when it has changed, e.g. "Map was moved after its
  // first poll".
  void check(const void* self, const char* what) noexcept {
    if (recorded_ == nullptr) {
      recorded_ = self;
      return;
    }
    WEFT_ASSERT(recorded_ == self, what);
  }

  // MovedCheck::reset()
  //
  // Forgets the recorded address; the next `check` records again.
  void reset() noexcept { recorded_ = nullptr; }

 private:
  const void* recorded_ = nullptr;
#else
  void check(const void*, const char*) noexcept {}
  void reset() noexcept {}
#endif
};

}  // namespace weft

#endif  // WEFT_PIN_MOVED_CHECK_H_
