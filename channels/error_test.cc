#include "channels/error.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace weft {
namespace {

Result<int, TryRecvError> half(int x) {
  if (x % 2 != 0) return Err{TryRecvError::empty()};
  return x / 2;
}

TEST(ErrorTest, ResultHoldsEitherSide) {
  auto a = half(4);
  ASSERT_TRUE(a.is_ok());
  EXPECT_EQ(a.value(), 2);
  auto b = half(3);
  ASSERT_FALSE(b);
  EXPECT_TRUE(b.error().is_empty());
  b = half(8);
  EXPECT_EQ(*b, 4);
}

TEST(ErrorTest, ResultSameTypeOnBothSidesIsUnambiguous) {
  Result<int, int> ok = 1;
  Result<int, int> err = Err{2};
  EXPECT_TRUE(ok.is_ok());
  EXPECT_EQ(err.error(), 2);
}

TEST(ErrorTest, ResultVoidAndMoveOnlyValues) {
  Result<void, Closed> done;
  EXPECT_TRUE(done);
  Result<void, Closed> closed = Err{Closed{}};
  EXPECT_TRUE(closed.is_err());

  Result<std::unique_ptr<int>, SendError<std::unique_ptr<int>>> r =
      Err{SendError<std::unique_ptr<int>>{std::make_unique<int>(7)}};
  ASSERT_TRUE(r.is_err());
  std::unique_ptr<int> back = std::move(r).error().into_inner();
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(*back, 7);
}

TEST(ErrorTest, TrySendErrorHandsTheValueBack) {
  auto full = TrySendError<std::string>::full("message");
  EXPECT_TRUE(full.is_full());
  EXPECT_FALSE(full.is_closed());
  EXPECT_EQ(std::move(full).into_inner(), "message");
  auto closed = TrySendError<std::string>::closed("x");
  EXPECT_TRUE(closed.is_closed());
}

TEST(ErrorTest, RecvErrorKinds) {
  EXPECT_TRUE(RecvError::closed().is_closed());
  EXPECT_EQ(RecvError::lagged(5).lagged_by(), 5u);
  EXPECT_TRUE(RecvError::lagged(5).is_lagged());
  EXPECT_NE(RecvError::lagged(5), RecvError::lagged(6));
  EXPECT_TRUE(TryRecvError::lagged(1).is_lagged());
}

}  // namespace
}  // namespace weft
