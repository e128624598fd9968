#include "pin/pinned.h"

#include <concepts>
#include <type_traits>
#include <utility>

#include "gtest/gtest.h"
#include "pin/pin.h"
#include "pin/testing/read_line.h"
#include "tools/testing/alloc_counter.h"

namespace weft {
namespace {

using pin_testing::ReadLine;

// A factory that returns an immovable type by value: legal only because the
// return is a prvalue (guaranteed elision).
ReadLine MakeReadLine(const char* text, int* destructions = nullptr) {
  return ReadLine(text, destructions);
}
ReadLine MakeHello() { return ReadLine("hello\n"); }

TEST(PinnedTest, FunctionPointerFactory) {
  Pinned<ReadLine> p{&MakeHello};
  EXPECT_EQ(p.get().line, "hello");
}

struct Point {
  static constexpr bool kUnpin = true;
  int x = 0;
  int y = 0;
};

template <class T>
concept MutableArrow = requires(Pinned<T>& p) {
  { p.operator->() } -> std::same_as<T*>;
};

// Pinned is neither copyable nor movable, whatever T is.
static_assert(!std::is_copy_constructible_v<Pinned<ReadLine>>);
static_assert(!std::is_move_constructible_v<Pinned<ReadLine>>);
static_assert(!std::is_copy_assignable_v<Pinned<ReadLine>>);
static_assert(!std::is_move_assignable_v<Pinned<ReadLine>>);
static_assert(!std::is_move_constructible_v<Pinned<int>>);
static_assert(!std::is_move_assignable_v<Pinned<Point>>);
// ReadLine itself cannot be moved either: Pinned is what lets us hold one.
static_assert(!std::is_move_constructible_v<ReadLine>);
// No overhead.
static_assert(sizeof(Pinned<ReadLine>) == sizeof(ReadLine));
static_assert(sizeof(Pinned<int>) == sizeof(int));
// A factory's result decides the type; the wrong result type is not accepted.
static_assert(std::is_constructible_v<Pinned<int>, int (*)()>);
static_assert(std::is_constructible_v<Pinned<ReadLine>, ReadLine (*)()>);
static_assert(!std::is_constructible_v<Pinned<int>, long (*)()>);
static_assert(!std::is_constructible_v<Pinned<ReadLine>, const ReadLine& (*)()>);
static_assert(std::same_as<decltype(make_pinned(&MakeHello)), Pinned<ReadLine>>);
// Mutable access only for Unpin types.
static_assert(std::same_as<decltype(std::declval<Pinned<ReadLine>&>().get()), const ReadLine&>);
static_assert(std::same_as<decltype(std::declval<Pinned<Point>&>().get()), Point&>);
static_assert(!MutableArrow<ReadLine>);
static_assert(MutableArrow<Point>);
static_assert(std::same_as<decltype(std::declval<Pinned<ReadLine>&>().as_pin()), Pin<ReadLine*>>);
static_assert(
    std::same_as<decltype(std::declval<const Pinned<ReadLine>&>().as_pin()), Pin<const ReadLine*>>);

TEST(PinnedTest, HeaderExample) {
  weft::Pinned<ReadLine> a{[] { return ReadLine("one\n"); }};  // no move
  weft::Pinned b = weft::make_pinned([] { return ReadLine("two\n"); });
  weft::Pinned<ReadLine> c{std::in_place, "three\n"};  // constructor args
  weft::Pin<ReadLine*> p = b.as_pin();
  EXPECT_EQ(p->line, "two");            // the view still points into `b`
  EXPECT_EQ(a.get().line.data(), a.get().buf);

  EXPECT_EQ(c.get().line, "three");
}

TEST(PinnedTest, FactoryBuildsAnImmovableValueInPlace) {
  Pinned<ReadLine> p{[] { return MakeReadLine("hello\nworld"); }};
  // The constructor ran at the address the value still has: nothing moved.
  EXPECT_EQ(p.get().constructed_at, &p.get());
  EXPECT_TRUE(p.get().self_consistent());
  EXPECT_EQ(p->line, "hello");
  EXPECT_EQ(p.as_pin()->line.data(), p.get().buf);
}

TEST(PinnedTest, DeductionGuideTakesTheFactoryResultType) {
  Pinned p{[] { return MakeReadLine("deduced"); }};
  static_assert(std::same_as<decltype(p), Pinned<ReadLine>>);
  EXPECT_TRUE(p.get().self_consistent());
  EXPECT_EQ((*p).line, "deduced");
}

TEST(PinnedTest, InPlaceArgumentsConstructTheValue) {
  Pinned<ReadLine> p{std::in_place, "args\nmore"};
  EXPECT_TRUE(p.get().self_consistent());
  EXPECT_EQ(p.get().line, "args");

  Pinned<Point> q{std::in_place, 3, 4};
  EXPECT_EQ(q.get().x, 3);
  EXPECT_EQ(q->y, 4);
}

TEST(PinnedTest, MakePinnedReturnsByValueWithoutMoving) {
  auto p = make_pinned([] { return MakeReadLine("made\n"); });
  EXPECT_EQ(p.get().constructed_at, &p.get());
  EXPECT_TRUE(p.get().self_consistent());
  EXPECT_EQ(p.get().line, "made");
}

TEST(PinnedTest, FactoryIsCalledExactlyOnceAndMayCaptureState) {
  int calls = 0;
  Pinned<ReadLine> p{[&calls] {
    ++calls;
    return MakeReadLine("once");
  }};
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(p.get().line, "once");
}

TEST(PinnedTest, AsPinPointsAtTheStoredValue) {
  Pinned<ReadLine> p{std::in_place, "x"};
  EXPECT_EQ(p.as_pin().get_unchecked_mut(), &p.get());
  const Pinned<ReadLine>& cp = p;
  EXPECT_EQ(&cp.as_pin().get_ref(), &p.get());
}

TEST(PinnedTest, UnpinValueIsMutable) {
  Pinned<Point> p{std::in_place};
  p.get().x = 7;
  p->y = 8;
  EXPECT_EQ(p.as_pin().get_ref().x, 7);
  EXPECT_EQ((*p).y, 8);
}

TEST(PinnedTest, DestroysTheValueExactlyOnce) {
  int destructions = 0;
  {
    Pinned<ReadLine> p{[&] { return MakeReadLine("bye", &destructions); }};
    EXPECT_EQ(destructions, 0);  // no temporary was made and destroyed
  }
  EXPECT_EQ(destructions, 1);
}

// A Pinned member is built in place as part of its owner, again with no move.
struct Owner {
  Owner() : reader([] { return MakeReadLine("owned\n"); }) {}
  Pinned<ReadLine> reader;
  int other = 0;
};

TEST(PinnedTest, WorksAsAMemberOfAnImmovableOwner) {
  Pinned<Owner> owner{std::in_place};
  EXPECT_TRUE(owner.get().reader.get().self_consistent());
  EXPECT_EQ(owner.get().reader->line, "owned");
}

TEST(PinnedTest, NeverAllocates) {
  {  // The counter is live in this binary, so a zero below means something.
    weft::testing::AllocCounter probe;
    ::operator delete(::operator new(sizeof(int)));
    ASSERT_EQ(probe.allocations(), 1u);
  }
  weft::testing::ScopedNoAlloc no_alloc;
  int destructions = 0;
  {
    Pinned<ReadLine> a{[&] { return MakeReadLine("a", &destructions); }};
    auto b = make_pinned([] { return MakeReadLine("b"); });
    Pinned<ReadLine> c{std::in_place, "c"};
    a.as_pin().set_with([] { return MakeReadLine("a2"); });
    EXPECT_EQ(a->line, "a2");
    EXPECT_EQ(b->line, "b");
    EXPECT_EQ(c->line, "c");
  }
  EXPECT_EQ(destructions, 1);
  EXPECT_EQ(no_alloc.allocations(), 0u);
}

}  // namespace
}  // namespace weft
