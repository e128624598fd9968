#include "future/atomic_waker.h"

#include <type_traits>

#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;

TEST(AtomicWakerTest, WakeWakesTheRegisteredWakerOnce) {
  AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  EXPECT_EQ(w.outstanding(), 1);  // a clone is held
  aw.wake();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 0);  // consumed by the wake
  aw.wake();                      // nothing registered: nothing happens
  EXPECT_EQ(w.wakes(), 1);
}

TEST(AtomicWakerTest, WakeWithoutRegistrationIsANoop) {
  AtomicWaker aw;
  aw.wake();
  CountingWaker w;
  aw.register_waker(w.borrowed());
  EXPECT_EQ(w.wakes(), 0);  // an earlier wake is not remembered
}

TEST(AtomicWakerTest, ReRegisteringTheSameWakerDoesNotClone) {
  AtomicWaker aw;
  CountingWaker w;
  const Waker mine = w.waker();  // as an executor's task waker: same data and vtable each poll
  aw.register_waker(mine);
  aw.register_waker(mine);
  aw.register_waker(mine);
  EXPECT_EQ(w.clones(), 1);
  EXPECT_EQ(w.outstanding(), 2);  // `mine` and the stored clone
}

TEST(AtomicWakerTest, RegisteringAnotherWakerReplacesAndDropsTheOld) {
  AtomicWaker aw;
  CountingWaker a, b;
  aw.register_waker(a.borrowed());
  aw.register_waker(b.borrowed());
  EXPECT_EQ(a.outstanding(), 0);
  EXPECT_EQ(b.outstanding(), 1);
  aw.wake();
  EXPECT_EQ(a.wakes(), 0);
  EXPECT_EQ(b.wakes(), 1);
}

TEST(AtomicWakerTest, TakeReturnsTheWakerWithoutWaking) {
  AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  {
    Waker taken = aw.take();
    EXPECT_FALSE(taken.is_noop());
    EXPECT_EQ(w.wakes(), 0);
  }
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_TRUE(aw.take().is_noop());
}

TEST(AtomicWakerTest, ClearExclusiveDropsTheWakerWithoutWaking) {
  AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  aw.clear_exclusive();
  EXPECT_EQ(w.outstanding(), 0);
  EXPECT_EQ(w.wakes(), 0);
  aw.wake();  // nothing left to wake
  EXPECT_EQ(w.wakes(), 0);
  aw.register_waker(w.borrowed());  // still usable afterwards
  aw.wake();
  EXPECT_EQ(w.wakes(), 1);
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(AtomicWakerTest, IsConstantInitialisable) {
  static constinit AtomicWaker aw;
  CountingWaker w;
  aw.register_waker(w.borrowed());
  aw.wake();
  EXPECT_EQ(w.wakes(), 1);
  static_assert(!std::is_copy_constructible_v<AtomicWaker>);
  static_assert(!std::is_move_constructible_v<AtomicWaker>);
}

TEST(AtomicWakerTest, RegisterAndWakeDoNotAllocate) {
  AtomicWaker aw;
  CountingWaker w;
  const Waker mine = w.waker();
  testing::ScopedNoAlloc no_alloc;
  aw.register_waker(mine);
  aw.register_waker(mine);
  aw.wake();
  (void)aw.take();
  EXPECT_EQ(w.wakes(), 1);
}

TEST(AtomicWakerTest, DestructorDropsTheWaker) {
  CountingWaker w;
  {
    AtomicWaker aw;
    aw.register_waker(w.borrowed());
  }
  EXPECT_EQ(w.outstanding(), 0);
}

}  // namespace
}  // namespace weft
