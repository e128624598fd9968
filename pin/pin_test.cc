#include "pin/pin.h"

#include <concepts>
#include <type_traits>

#include "gtest/gtest.h"
#include "pin/pinned.h"
#include "pin/testing/read_line.h"

namespace weft {
namespace {

using pin_testing::ReadLine;

// ---- Types for the compile-time facts -------------------------------------

struct Plain {
  int x = 0;
};
struct DeclaredUnpin {
  static constexpr bool kUnpin = true;
  int x = 0;
};
struct DeclaredPinned {
  static constexpr bool kUnpin = false;
};
struct DerivedSelfRef : DeclaredUnpin {
  static constexpr bool kUnpin = false;  // adds a self-reference below
  int* self = &x;
};
struct Specialised {};
enum class Colour { kRed };

}  // namespace

template <>
struct UnpinTrait<Specialised> : std::true_type {};

namespace {

static_assert(Unpin<int>);
static_assert(Unpin<const int>);
static_assert(Unpin<double>);
static_assert(Unpin<int*>);
static_assert(Unpin<Colour>);
static_assert(Unpin<int Plain::*>);
static_assert(Unpin<int[4]>);
static_assert(Unpin<DeclaredUnpin>);
static_assert(Unpin<const DeclaredUnpin>);
static_assert(Unpin<Specialised>);
static_assert(Unpin<DeclaredUnpin[2]>);
static_assert(!Unpin<ReadLine>);
static_assert(!Unpin<ReadLine[2]>);
static_assert(!Unpin<Plain>);  // opt-in: a class is not Unpin by default
static_assert(!Unpin<DeclaredPinned>);
static_assert(!Unpin<DerivedSelfRef>);

// What a Pin lets you do, as concepts so a missing member is `false`, not an
// error.
template <class P>
concept HasGetMut = requires(const P& p) { p.get_mut(); };
template <class P>
concept HasFromUnpin = requires(typename P::pointer raw) { P::from_unpin(raw); };
template <class P>
concept MutableArrow = requires(const P& p) {
  { p.operator->() } -> std::same_as<typename P::element_type*>;
};
template <class P>
concept MutableDeref = requires(const P& p) {
  { *p } -> std::same_as<typename P::element_type&>;
};
template <class P, class V>
concept HasSet = requires(P& p, V v) { p.set(static_cast<V&&>(v)); };
template <class T>
concept CanPinFn = requires(T& t) { weft::pin(t); };
template <class P>
concept HasIntoInner = requires(P p) { static_cast<P&&>(p).into_inner(); };

static_assert(!HasGetMut<Pin<ReadLine*>>);
static_assert(HasGetMut<Pin<int*>>);
static_assert(HasGetMut<Pin<DeclaredUnpin*>>);
static_assert(!HasFromUnpin<Pin<ReadLine*>>);
static_assert(HasFromUnpin<Pin<int*>>);
static_assert(!MutableArrow<Pin<ReadLine*>>);
static_assert(MutableArrow<Pin<DeclaredUnpin*>>);
static_assert(!MutableDeref<Pin<ReadLine*>>);
static_assert(MutableDeref<Pin<int*>>);
static_assert(std::same_as<decltype(std::declval<Pin<ReadLine*>>().operator->()), const ReadLine*>);
static_assert(std::same_as<decltype(*std::declval<Pin<ReadLine*>>()), const ReadLine&>);
static_assert(!CanPinFn<ReadLine>);
static_assert(CanPinFn<int>);
static_assert(!HasIntoInner<Pin<ReadLine*>>);
static_assert(HasIntoInner<Pin<int*>>);
static_assert(HasSet<Pin<int*>, int>);
static_assert(!HasSet<Pin<const int*>, int>);  // no replacing through a const pin
static_assert(!HasSet<Pin<ReadLine*>, ReadLine>);  // immovable: use set_with

// Zero cost: a Pin<T*> is a T*.
static_assert(sizeof(Pin<ReadLine*>) == sizeof(ReadLine*));
static_assert(sizeof(Pin<int*>) == sizeof(int*));
static_assert(std::is_trivially_copyable_v<Pin<ReadLine*>>);
static_assert(!std::is_default_constructible_v<Pin<int*>>);  // never null

// ---- Behaviour --------------------------------------------------------------

TEST(PinTest, HeaderExample) {
  int ticks = 0;
  weft::Pin<int*> pt = weft::pin(ticks);         // Unpin: pinning is free
  *pt += 1;                                      // and so is mutation
  weft::Pinned<ReadLine> rl{[] { return ReadLine("GET /\n"); }};  // in place
  weft::Pin<ReadLine*> pr = rl.as_pin();         // not Unpin: const access
  EXPECT_EQ(pr->line, "GET /");                  // `line` views `rl`'s `buf`

  EXPECT_EQ(ticks, 1);
  EXPECT_TRUE(pr->self_consistent());
}

TEST(PinTest, PinOfUnpinGivesMutableAccessToTheSameObject) {
  DeclaredUnpin value;
  Pin<DeclaredUnpin*> p = pin(value);
  p.get_mut().x = 3;
  EXPECT_EQ(value.x, 3);
  p->x = 4;
  EXPECT_EQ(value.x, 4);
  (*p).x = 5;
  EXPECT_EQ(value.x, 5);
  EXPECT_EQ(&p.get_ref(), &value);
  DeclaredUnpin* raw = std::move(p).into_inner();
  EXPECT_EQ(raw, &value);
}

TEST(PinTest, NewUncheckedPinsAnyTypeAndGivesConstAccess) {
  Pinned<ReadLine> storage{std::in_place, "hello\nworld"};
  ReadLine* raw = storage.as_pin().get_unchecked_mut();
  Pin<ReadLine*> p = Pin<ReadLine*>::new_unchecked(raw);
  EXPECT_EQ(&p.get_ref(), raw);
  EXPECT_EQ(p.get_unchecked_mut(), raw);
  EXPECT_EQ(p->line, "hello");
  EXPECT_EQ((*p).line.data(), raw->buf);
  EXPECT_EQ(std::move(p).into_inner_unchecked(), raw);
}

TEST(PinTest, AsRefAndAsMutPointAtTheSameObject) {
  Pinned<ReadLine> storage{std::in_place, "x"};
  Pin<ReadLine*> p = storage.as_pin();
  Pin<const ReadLine*> r = p.as_ref();
  Pin<ReadLine*> m = p.as_mut();
  static_assert(std::same_as<decltype(r)::element_type, const ReadLine>);
  EXPECT_EQ(&r.get_ref(), &storage.get());
  EXPECT_EQ(m.get_unchecked_mut(), &storage.get());
}

TEST(PinTest, CopyingAPinCopiesTheAddressNotThePointee) {
  Pinned<ReadLine> storage{std::in_place, "abc"};
  Pin<ReadLine*> a = storage.as_pin();
  Pin<ReadLine*> b = a;
  EXPECT_EQ(&a.get_ref(), &b.get_ref());
  EXPECT_TRUE(b->self_consistent());
}

// Movable and Unpin; counts destructions of non-moved-from instances.
struct Counted {
  static constexpr bool kUnpin = true;
  Counted(int v, int* d) : value(v), destructions(d) {}
  Counted(Counted&& o) noexcept : value(o.value), destructions(o.destructions) {
    o.destructions = nullptr;  // a moved-from husk does not count
  }
  ~Counted() {
    if (destructions != nullptr) ++*destructions;
  }
  int value;
  int* destructions;
};

TEST(PinTest, SetDestroysTheOldValueAndConstructsTheNewInPlace) {
  int first = 0;
  int second = 0;
  {
    Counted slot(1, &first);
    Pin<Counted*> p = pin(slot);
    p.set(Counted(2, &second));
    EXPECT_EQ(first, 1);   // the old value was destroyed
    EXPECT_EQ(second, 0);  // the new one lives in the same storage
    EXPECT_EQ(slot.value, 2);
    EXPECT_EQ(&p.get_ref(), &slot);
  }
  EXPECT_EQ(first, 1);
  EXPECT_EQ(second, 1);  // destroyed once, with `slot`
}

TEST(PinTest, SetWithReplacesAnImmovableValueWithoutMovingIt) {
  int old_destroyed = 0;
  int new_destroyed = 0;
  {
    Pinned<ReadLine> storage{std::in_place, "old", &old_destroyed};
    Pin<ReadLine*> p = storage.as_pin();
    p.set_with([&] { return ReadLine("new\n", &new_destroyed); });
    EXPECT_EQ(old_destroyed, 1);
    EXPECT_EQ(new_destroyed, 0);
    EXPECT_EQ(p->line, "new");
    EXPECT_TRUE(p->self_consistent());  // constructed at the pinned address
    EXPECT_EQ(&p.get_ref(), &storage.get());
  }
  EXPECT_EQ(old_destroyed, 1);
  EXPECT_EQ(new_destroyed, 1);
}

struct Frame {
  ReadLine reader{"frame\n"};  // structurally pinned: it points into itself
  int polls = 0;               // not pinned: a plain counter
};

struct DerivedFrame : Frame {
  long extra = 0;
};

TEST(PinTest, ProjectGivesAPinToTheRightMember) {
  Pinned<Frame> frame{std::in_place};
  Pin<Frame*> p = frame.as_pin();
  Pin<ReadLine*> reader = project(p, &Frame::reader);
  static_assert(std::same_as<decltype(reader), Pin<ReadLine*>>);
  EXPECT_EQ(&reader.get_ref(), &frame.get().reader);
  EXPECT_EQ(reader->line, "frame");

  Pin<const ReadLine*> const_reader = project(p.as_ref(), &Frame::reader);
  EXPECT_EQ(&const_reader.get_ref(), &frame.get().reader);
}

TEST(PinTest, ProjectUnpinnedGivesAMutableReferenceToTheRightMember) {
  Pinned<Frame> frame{std::in_place};
  Pin<Frame*> p = frame.as_pin();
  int& polls = project_unpinned(p, &Frame::polls);
  static_assert(std::same_as<decltype(project_unpinned(p, &Frame::polls)), int&>);
  static_assert(
      std::same_as<decltype(project_unpinned(p.as_ref(), &Frame::polls)), const int&>);
  EXPECT_EQ(&polls, &frame.get().polls);
  polls += 2;
  EXPECT_EQ(frame.get().polls, 2);
}

TEST(PinTest, ProjectReachesAMemberOfABaseClass) {
  Pinned<DerivedFrame> frame{std::in_place};
  Pin<ReadLine*> reader = project(frame.as_pin(), &DerivedFrame::reader);
  EXPECT_EQ(&reader.get_ref(), &frame.get().reader);
}

TEST(PinDeathTest, NewUncheckedRejectsNull) {
#ifdef NDEBUG
  GTEST_SKIP() << "WEFT_ASSERT is off under NDEBUG";
#else
  EXPECT_DEATH((void)Pin<ReadLine*>::new_unchecked(nullptr),
               "Pin::new_unchecked was given a null pointer");
#endif
}

TEST(PinDeathTest, FromUnpinRejectsNull) {
#ifdef NDEBUG
  GTEST_SKIP() << "WEFT_ASSERT is off under NDEBUG";
#else
  EXPECT_DEATH((void)Pin<int*>::from_unpin(nullptr), "Pin::from_unpin was given a null pointer");
#endif
}

TEST(PinDeathTest, ProjectRejectsANullMemberPointer) {
#ifdef NDEBUG
  GTEST_SKIP() << "WEFT_ASSERT is off under NDEBUG";
#else
  Pinned<Frame> frame{std::in_place};
  ReadLine Frame::*null_field = nullptr;
  int Frame::*null_int = nullptr;
  EXPECT_DEATH((void)project(frame.as_pin(), null_field),
               "project was given a null member pointer");
  EXPECT_DEATH((void)project_unpinned(frame.as_pin(), null_int),
               "project_unpinned was given a null member pointer");
#endif
}

}  // namespace
}  // namespace weft
