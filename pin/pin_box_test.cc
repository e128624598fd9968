#include "pin/pin_box.h"

#include <concepts>
#include <type_traits>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "pin/pin.h"
#include "pin/testing/read_line.h"
#include "tools/testing/alloc_counter.h"

namespace weft {
namespace {

using pin_testing::ReadLine;

struct Point {
  static constexpr bool kUnpin = true;
  int x = 0;
  int y = 0;
};

template <class B>
concept HasGetMut = requires(const B& b) { b.get_mut(); };
template <class T>
concept MutableArrow = requires(const PinBox<T>& b) {
  { b.operator->() } -> std::same_as<T*>;
};

static_assert(!std::is_copy_constructible_v<PinBox<ReadLine>>);
static_assert(!std::is_copy_assignable_v<PinBox<ReadLine>>);
static_assert(std::is_nothrow_move_constructible_v<PinBox<ReadLine>>);
static_assert(std::is_nothrow_move_assignable_v<PinBox<ReadLine>>);
static_assert(sizeof(PinBox<ReadLine>) == sizeof(ReadLine*));
static_assert(!HasGetMut<PinBox<ReadLine>>);
static_assert(HasGetMut<PinBox<Point>>);
static_assert(!MutableArrow<ReadLine>);
static_assert(MutableArrow<Point>);
// Pin is generic over the pointer: Pin<PinBox<T>> is Rust's Pin<Box<T>>.
static_assert(std::same_as<Pin<PinBox<ReadLine>>::element_type, ReadLine>);
static_assert(!std::is_copy_constructible_v<Pin<PinBox<ReadLine>>>);
static_assert(std::is_move_constructible_v<Pin<PinBox<ReadLine>>>);
static_assert(sizeof(Pin<PinBox<ReadLine>>) == sizeof(ReadLine*));
static_assert(!HasGetMut<Pin<PinBox<ReadLine>>>);
static_assert(HasGetMut<Pin<PinBox<Point>>>);

TEST(PinBoxTest, HeaderExample) {
  std::vector<weft::PinBox<ReadLine>> lines;
  lines.push_back(weft::PinBox<ReadLine>::from_factory([] { return ReadLine("a\n"); }));
  const ReadLine* first = &lines[0].get_ref();
  lines.push_back(weft::PinBox<ReadLine>::make("b\n"));  // may move the boxes...
  EXPECT_EQ(&lines[0].get_ref(), first);                 // ...never the ReadLines
  EXPECT_EQ(lines[0].as_pin()->line, "a");

  EXPECT_EQ(lines[1]->line, "b");
}

TEST(PinBoxTest, MakeAllocatesExactlyOnce) {
  weft::testing::AllocCounter counter;
  auto box = PinBox<ReadLine>::make("made\n");
  EXPECT_EQ(counter.allocations(), 1u);
  EXPECT_GE(counter.bytes(), sizeof(ReadLine));
  EXPECT_TRUE(box->self_consistent());
  EXPECT_EQ(box->line, "made");
}

TEST(PinBoxTest, FromFactoryBuildsAnImmovableValueInPlaceWithOneAllocation) {
  weft::testing::AllocCounter counter;
  int calls = 0;
  auto box = PinBox<ReadLine>::from_factory([&] {
    ++calls;
    return ReadLine("factory\n");
  });
  EXPECT_EQ(counter.allocations(), 1u);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(box.get_ref().constructed_at, &box.get_ref());  // built on the heap, not moved there
  EXPECT_TRUE(box->self_consistent());
}

TEST(PinBoxTest, MovingTheBoxKeepsThePointeeAndItsSelfReference) {
  auto a = PinBox<ReadLine>::make("stay\n");
  const ReadLine* where = &a.get_ref();
  weft::testing::AllocCounter counter;
  PinBox<ReadLine> b = std::move(a);
  PinBox<ReadLine> c(std::move(b));
  EXPECT_EQ(counter.allocations(), 0u);  // moving is a pointer copy
  EXPECT_FALSE(a.has_value());
  EXPECT_FALSE(b.has_value());
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(&c.get_ref(), where);
  EXPECT_TRUE(c->self_consistent());
  EXPECT_EQ(c->line.data(), where->buf);
  EXPECT_EQ(c->line, "stay");
}

TEST(PinBoxTest, ManyBoxesSurviveVectorReallocation) {
  std::vector<PinBox<ReadLine>> boxes;
  std::vector<const ReadLine*> addresses;
  for (int i = 0; i < 100; ++i) {
    boxes.push_back(PinBox<ReadLine>::make("line\n"));
    addresses.push_back(&boxes.back().get_ref());
  }
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(&boxes[i].get_ref(), addresses[i]);
    EXPECT_TRUE(boxes[i]->self_consistent());
  }
}

TEST(PinBoxTest, DestroysThePointeeOnceAndFreesIt) {
  int destructions = 0;
  {
    auto a = PinBox<ReadLine>::make("x", &destructions);
    PinBox<ReadLine> b = std::move(a);  // the moved-from box must not destroy it
  }
  EXPECT_EQ(destructions, 1);  // ASan's leak check covers the free
}

TEST(PinBoxTest, MoveAssignmentDestroysTheOldPointee) {
  int old_destructions = 0;
  int new_destructions = 0;
  auto a = PinBox<ReadLine>::make("old", &old_destructions);
  auto b = PinBox<ReadLine>::make("new", &new_destructions);
  const ReadLine* where = &b.get_ref();
  a = std::move(b);
  EXPECT_EQ(old_destructions, 1);
  EXPECT_EQ(new_destructions, 0);
  EXPECT_EQ(&a.get_ref(), where);
  PinBox<ReadLine>& alias = a;
  a = std::move(alias);  // self-move keeps the value
  EXPECT_EQ(new_destructions, 0);
  EXPECT_EQ(&a.get_ref(), where);
}

TEST(PinBoxTest, AsPinAndPinOfPinBoxPointAtTheHeapValue) {
  auto box = PinBox<ReadLine>::make("pinned\n");
  const ReadLine* where = &box.get_ref();
  EXPECT_EQ(box.as_pin().get_unchecked_mut(), where);
  EXPECT_EQ(&std::as_const(box).as_pin().get_ref(), where);

  Pin<PinBox<ReadLine>> pinned = std::move(box).into_pin();
  EXPECT_EQ(&pinned.get_ref(), where);
  Pin<PinBox<ReadLine>> moved = std::move(pinned);  // moves the box, not the ReadLine
  EXPECT_EQ(&moved.get_ref(), where);
  Pin<ReadLine*> borrowed = moved.as_mut();
  EXPECT_EQ(borrowed.get_unchecked_mut(), where);
  EXPECT_EQ(moved->line, "pinned");
  EXPECT_TRUE(moved->self_consistent());
}

TEST(PinBoxTest, SetThroughThePinReplacesInPlace) {
  int old_destructions = 0;
  int new_destructions = 0;
  auto box = PinBox<ReadLine>::make("old", &old_destructions);
  const ReadLine* where = &box.get_ref();
  box.as_pin().set_with([&] { return ReadLine("new\n", &new_destructions); });
  EXPECT_EQ(old_destructions, 1);
  EXPECT_EQ(&box.get_ref(), where);
  EXPECT_TRUE(box->self_consistent());
  EXPECT_EQ(box->line, "new");
  EXPECT_EQ(new_destructions, 0);
}

TEST(PinBoxTest, UnpinValueIsMutable) {
  auto box = PinBox<Point>::make(1, 2);
  box.get_mut().x = 10;
  box->y = 20;
  EXPECT_EQ((*box).x, 10);
  EXPECT_EQ(box.get_ref().y, 20);
  Pin<PinBox<Point>> pinned = std::move(box).into_pin();
  pinned.get_mut().x = 11;
  EXPECT_EQ(pinned->x, 11);
  PinBox<Point> back = std::move(pinned).into_inner();  // Unpin: may unpin
  EXPECT_EQ(back->x, 11);
}

TEST(PinBoxDeathTest, UseAfterMoveIsAContractViolation) {
#ifdef NDEBUG
  GTEST_SKIP() << "WEFT_ASSERT is off under NDEBUG";
#else
  auto a = PinBox<ReadLine>::make("x");
  PinBox<ReadLine> b = std::move(a);
  EXPECT_DEATH((void)a.get_ref(), "PinBox was used after it was moved from");
  EXPECT_DEATH((void)std::move(a).into_pin(), "PinBox was used after it was moved from");
#endif
}

}  // namespace
}  // namespace weft
