#include "channels/internal/sticky_waker.h"

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
struct ReentrantWaker {
  StickyWaker* sw = nullptr;
  int wakes = 0;
  bool nested_done = false;
  int registers_inside = 0;
  Waker replacement;
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) { wake_by_ref(p); }
  static void wake_by_ref(const void* p) {
    auto* self = static_cast<ReentrantWaker*>(const_cast<void*>(p));
    self->wakes += 1;
    if (!self->nested_done) {
      self->nested_done = true;
      self->sw->wake();  // finds this wake in progress: left to us
    }
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable{&clone, &wake, &wake_by_ref, &drop};
  Waker waker() { return Waker::from_raw(RawWaker{this, &kVTable}); }
};

TEST(StickyWakerTest, AWakeDuringAWakeIsNotLost) {
  StickyWaker sw;
  ReentrantWaker r;
  r.sw = &sw;
  sw.register_waker(r.waker());
  sw.wake();
  EXPECT_EQ(r.wakes, 2);  // once for each wake
  sw.wake();
  EXPECT_EQ(r.wakes, 3);  // and the word is idle again
}

struct RegisterDuringWake {
  StickyWaker* sw;
  const Waker* next;
  int wakes = 0;
  static RawWaker clone(const void* p) { return RawWaker{p, &kVTable}; }
  static void wake(const void* p) { wake_by_ref(p); }
  static void wake_by_ref(const void* p) {
    auto* self = static_cast<RegisterDuringWake*>(const_cast<void*>(p));
    self->wakes += 1;
    if (self->wakes == 1) self->sw->register_waker(*self->next);  // a wake is in progress
  }
  static void drop(const void*) {}
  static constexpr RawWakerVTable kVTable{&clone, &wake, &wake_by_ref, &drop};
};

TEST(StickyWakerTest, RegisteringAnotherWakerDuringAWakeWakesIt) {
  StickyWaker sw;
  CountingWaker other;
  const Waker other_task = other.waker();
  RegisterDuringWake hook{&sw, &other_task};
  sw.register_waker(Waker::from_raw(RawWaker{&hook, &RegisterDuringWake::kVTable}));
  sw.wake();
  EXPECT_EQ(hook.wakes, 1);
  EXPECT_EQ(other.wakes(), 1);  // woken at once, not registered
  EXPECT_EQ(other.outstanding(), 1);
  sw.register_waker(other_task);  // registers now
  EXPECT_EQ(other.outstanding(), 2);
  sw.wake();
  EXPECT_EQ(other.wakes(), 2);
  EXPECT_EQ(hook.wakes, 1);
}

// take() while a wake is in progress (here: from inside that wake's
// wake_by_ref) does not wait: it returns nothing, the waking owner drops the
// waker when its wake_by_ref returns, and a later registration stores the
// new waker (the consumer does not trust its stale field meanwhile).
struct TakeDuringWake {
  StickyWaker* sw;
  int wakes = 0;
  int refs = 0;
  bool took_empty = false;
  static RawWaker clone(const void* p) {
    static_cast<TakeDuringWake*>(const_cast<void*>(p))->refs += 1;
    return RawWaker{p, &kVTable};
  }
  static void wake(const void* p) {
    wake_by_ref(p);
    drop(p);
  }
  static void wake_by_ref(const void* p) {
    auto* self = static_cast<TakeDuringWake*>(const_cast<void*>(p));
    self->wakes += 1;
    if (self->wakes == 1) self->took_empty = self->sw->take().is_noop();
  }
  static void drop(const void* p) { static_cast<TakeDuringWake*>(const_cast<void*>(p))->refs -= 1; }
  static constexpr RawWakerVTable kVTable{&clone, &wake, &wake_by_ref, &drop};
};

TEST(StickyWakerTest, TakeDuringAWakeLeavesTheDropToTheWaker) {
  StickyWaker sw;
  TakeDuringWake t{&sw};
  const Waker mine = Waker::from_raw(RawWaker{&t, &TakeDuringWake::kVTable});  // not counted
  sw.register_waker(mine);
  EXPECT_EQ(t.refs, 1);
  sw.wake();
  EXPECT_EQ(t.wakes, 1);
  EXPECT_TRUE(t.took_empty);
  EXPECT_EQ(t.refs, 0);  // the waking owner dropped it
  sw.wake();
  EXPECT_EQ(t.wakes, 1);  // nothing registered any more
  CountingWaker other;
  const Waker other_task = other.waker();
  sw.register_waker(other_task);
  EXPECT_EQ(other.outstanding(), 2);  // stored, not just woken
  sw.wake();
  EXPECT_EQ(other.wakes(), 1);
  (void)mine;
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
