#include "channels/internal/sticky_waker.h"

#include <functional>

#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft::channels_internal {
namespace {

using testing::CountingWaker;

TEST(StickyWakerTest, WakeWithNothingRegisteredWakesNothing) {
  StickyWaker sw;
  sw.wake();  // no crash, nothing to wake
  CountingWaker a;
  sw.register_waker(a.borrowed());
  EXPECT_EQ(a.wakes(), 0);  // an earlier wake is not remembered
}

// The point of the type: a wake leaves the waker registered, and the same
// waker registers again without a clone. (An executor's task waker: the
// Context's waker and its clones share a vtable, so `will_wake` holds; a
// CountingWaker's `waker()` is such a waker, its `borrowed()` is not.)
TEST(StickyWakerTest, StaysRegisteredAcrossWakesAndReRegistersForFree) {
  CountingWaker a;
  const Waker mine = a.waker();
  {
    StickyWaker sw;
    sw.register_waker(mine);
    EXPECT_EQ(a.clones(), 1);
    EXPECT_EQ(a.outstanding(), 2);
    sw.wake();
    EXPECT_EQ(a.wakes(), 1);
    EXPECT_EQ(a.outstanding(), 2);  // still registered
    sw.wake();
    EXPECT_EQ(a.wakes(), 2);
    sw.register_waker(mine);
    EXPECT_EQ(a.clones(), 1);  // no new clone
    EXPECT_EQ(a.outstanding(), 2);
  }
  EXPECT_EQ(a.outstanding(), 1);  // the destructor dropped its clone
}

TEST(StickyWakerTest, ReplacingDropsTheOldWakerAndWakesTheNewOne) {
  CountingWaker a, b;
  StickyWaker sw;
  sw.register_waker(a.borrowed());
  sw.register_waker(b.borrowed());
  EXPECT_EQ(a.outstanding(), 0);
  EXPECT_EQ(b.outstanding(), 1);
  sw.wake();
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

// A wake that arrives while another is waking (here: from inside the first
// wake_by_ref, deterministically) is not lost: the first waker wakes again
// for it, after it. Also a registration that finds a wake in progress wakes
// the new waker itself.

// A waker whose wake_by_ref runs `on_wake(n)` (n: the wake's number, from
// 1), to call back into the slot while a wake owns it: the deterministic
// stand-in for another thread arriving during a wake. Counts its
// references (clones minus drops).
struct HookWaker {
  std::function<void(int)> on_wake;
  int wakes = 0;
  int refs = 0;
  static HookWaker* self(const void* p) { return static_cast<HookWaker*>(const_cast<void*>(p)); }
  static RawWaker clone(const void* p) {
    self(p)->refs += 1;
    return RawWaker{p, &kVTable};
  }
  static void wake(const void* p) {
    wake_by_ref(p);
    drop(p);
  }
  static void wake_by_ref(const void* p) {
    HookWaker* h = self(p);
    h->wakes += 1;
    if (h->on_wake) h->on_wake(h->wakes);
  }
  static void drop(const void* p) { self(p)->refs -= 1; }
  static constexpr RawWakerVTable kVTable{&clone, &wake, &wake_by_ref, &drop};
  // An uncounted reference sharing the clones' vtable: keep it alive for the
  // test (its destructor counts a drop).
  Waker borrowed() { return Waker::from_raw(RawWaker{this, &kVTable}); }
};

TEST(StickyWakerTest, AWakeDuringAWakeIsNotLost) {
  StickyWaker sw;
  HookWaker h;
  h.on_wake = [&](int n) {
    if (n == 1) sw.wake();  // finds this wake in progress: left to it
  };
  const Waker mine = h.borrowed();
  sw.register_waker(mine);
  sw.wake();
  EXPECT_EQ(h.wakes, 2);  // once for each wake
  sw.wake();
  EXPECT_EQ(h.wakes, 3);  // and the word is idle again
}

TEST(StickyWakerTest, RegisteringAnotherWakerDuringAWakeWakesIt) {
  StickyWaker sw;
  CountingWaker other;
  const Waker other_task = other.waker();
  HookWaker h;
  h.on_wake = [&](int n) {
    if (n == 1) sw.register_waker(other_task);  // a wake is in progress
  };
  const Waker mine = h.borrowed();
  sw.register_waker(mine);
  sw.wake();
  EXPECT_EQ(h.wakes, 1);
  EXPECT_EQ(other.wakes(), 1);  // woken at once, not registered
  EXPECT_EQ(other.outstanding(), 1);
  sw.register_waker(other_task);  // registers now
  EXPECT_EQ(other.outstanding(), 2);
  EXPECT_EQ(h.refs, 0);  // the replaced waker was dropped
  sw.wake();
  EXPECT_EQ(other.wakes(), 2);
  EXPECT_EQ(h.wakes, 1);
}

// take() while a wake is in progress (here: from inside that wake's
// wake_by_ref) does not wait: it returns nothing, the waking owner drops the
// waker when its wake_by_ref returns, and a later registration stores the
// new waker (the consumer does not trust its stale field meanwhile).

TEST(StickyWakerTest, TakeDuringAWakeLeavesTheDropToTheWaker) {
  StickyWaker sw;
  HookWaker h;
  bool took_empty = false;
  h.on_wake = [&](int n) {
    if (n == 1) took_empty = sw.take().is_noop();
  };
  const Waker mine = h.borrowed();
  sw.register_waker(mine);
  EXPECT_EQ(h.refs, 1);
  sw.wake();
  EXPECT_EQ(h.wakes, 1);
  EXPECT_TRUE(took_empty);
  EXPECT_EQ(h.refs, 0);  // the waking owner dropped it
  sw.wake();
  EXPECT_EQ(h.wakes, 1);  // nothing registered any more
  CountingWaker other;
  const Waker other_task = other.waker();
  sw.register_waker(other_task);
  EXPECT_EQ(other.outstanding(), 2);  // stored, not just woken
  sw.wake();
  EXPECT_EQ(other.wakes(), 1);
}

// The last wake drops the waker after waking it (a waker that owns the
// consumer must not be kept alive by the slot), and the slot stays inert.
TEST(StickyWakerTest, WakeFinalWakesOnceAndDropsTheWaker) {
  CountingWaker a;
  const Waker mine = a.waker();
  StickyWaker sw;
  sw.register_waker(mine);
  EXPECT_EQ(a.outstanding(), 2);
  sw.wake_final();
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(a.outstanding(), 1);  // ours only
  sw.wake();
  EXPECT_EQ(a.wakes(), 1);
  sw.register_waker(mine);  // finalised: neither stored nor woken (no wake will come)
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_EQ(a.outstanding(), 1);
  sw.wake();
  EXPECT_EQ(a.wakes(), 1);
  EXPECT_TRUE(sw.take().is_noop());
}

TEST(StickyWakerTest, TakeUnregisters) {
  CountingWaker a;
  StickyWaker sw;
  sw.register_waker(a.borrowed());
  {
    Waker w = sw.take();
    EXPECT_FALSE(w.is_noop());
    EXPECT_EQ(a.outstanding(), 1);
  }
  EXPECT_EQ(a.outstanding(), 0);
  sw.wake();
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_TRUE(sw.take().is_noop());
  sw.register_waker(a.borrowed());  // registers again after a take
  sw.wake();
  EXPECT_EQ(a.wakes(), 1);
}

}  // namespace
}  // namespace weft::channels_internal
