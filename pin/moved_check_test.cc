#include "pin/moved_check.h"

#include <cstring>
#include <new>
#include <type_traits>

#include "gtest/gtest.h"

namespace weft {
namespace {

struct Tick {
  int polls = 0;
  [[no_unique_address]] weft::MovedCheck moved;
  void poll() { moved.check(this, "Tick was moved after its first poll"); ++polls; }
};

// What `future` embeds: an int-sized state plus the check.
struct IntState {
  int value;
  [[no_unique_address]] MovedCheck moved;
};

#if !WEFT_DEBUG_CHECKS
// Release: the check is free.
static_assert(std::is_empty_v<MovedCheck>);
static_assert(sizeof(IntState) == sizeof(int));
static_assert(sizeof(Tick) == sizeof(int));
#else
// Debug: one recorded address.
static_assert(sizeof(MovedCheck) == sizeof(void*));
#endif
// Either way it can be memcpy'd along with its owner (what a bad move does).
static_assert(std::is_trivially_copyable_v<MovedCheck>);
static_assert(std::is_trivially_copyable_v<Tick>);

TEST(MovedCheckTest, HeaderExample) {
  struct Tick {
    int polls = 0;
    [[no_unique_address]] weft::MovedCheck moved;
    void poll() { moved.check(this, "Tick was moved after its first poll"); ++polls; }
  };
  Tick t;
  t.poll();
  t.poll();  // same address: fine; a moved copy's next poll() would abort

  EXPECT_EQ(t.polls, 2);
}

TEST(MovedCheckTest, RepeatedChecksAtTheSameAddressPass) {
  Tick t;
  for (int i = 0; i < 10; ++i) t.poll();
  EXPECT_EQ(t.polls, 10);
}

TEST(MovedCheckTest, MovingBeforeTheFirstCheckIsAllowed) {
  Tick a;
  Tick b = a;        // copy before any poll: nothing recorded yet
  Tick c(std::move(b));
  c.poll();
  c.poll();
  EXPECT_EQ(c.polls, 2);
}

TEST(MovedCheckTest, ResetAllowsRecordingANewAddress) {
  Tick a;
  a.poll();
  Tick b = a;
  b.moved.reset();  // e.g. a future re-armed after completing
  b.poll();
  b.poll();
  EXPECT_EQ(b.polls, 3);
}

TEST(MovedCheckDeathTest, FiresWhenACheckedObjectIsMemcpyd) {
#ifdef NDEBUG
  GTEST_SKIP() << "MovedCheck is a no-op under NDEBUG";
#else
  EXPECT_DEATH(
      {
        Tick a;
        a.poll();
        alignas(Tick) unsigned char raw[sizeof(Tick)];
        std::memcpy(raw, &a, sizeof(Tick));  // a bitwise move, as a realloc would do
        Tick* b = std::launder(reinterpret_cast<Tick*>(raw));
        b->poll();
      },
      "weft contract violated: Tick was moved after its first poll");
#endif
}

TEST(MovedCheckDeathTest, FiresWhenAMoveConstructedCopyKeepsTheCheckState) {
#ifdef NDEBUG
  GTEST_SKIP() << "MovedCheck is a no-op under NDEBUG";
#else
  EXPECT_DEATH(
      {
        Tick a;
        a.poll();
        Tick b(std::move(a));  // the recorded address travels with the copy
        b.poll();
      },
      "Tick was moved after its first poll");
#endif
}

TEST(MovedCheckDeathTest, NamesTheCallersSentence) {
#ifdef NDEBUG
  GTEST_SKIP() << "MovedCheck is a no-op under NDEBUG";
#else
  MovedCheck check;
  int first = 0;
  int second = 0;
  check.check(&first, "Map was moved after its first poll");
  EXPECT_DEATH(check.check(&second, "Map was moved after its first poll"),
               "Map was moved after its first poll");
#endif
}

}  // namespace
}  // namespace weft
