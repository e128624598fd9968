// The system-library wiring links and runs on every Linux target: the host,
// and aarch64 (where headers and libraries come from the arm64 sysroot and
// the test runs under qemu-aarch64). Not a test of the libraries themselves.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "google/protobuf/timestamp.pb.h"
#include "gtest/gtest.h"

namespace {

absl::StatusOr<int> half(int x) {
  if (x % 2 != 0) return absl::InvalidArgumentError(absl::StrCat("odd: ", x));
  return x / 2;
}

TEST(SysSmoke, Abseil) {
  absl::Mutex mu;
  absl::MutexLock lock(&mu);
  EXPECT_EQ(*half(8), 4);
  EXPECT_EQ(half(3).status().message(), "odd: 3");
}

TEST(SysSmoke, Protobuf) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(1700000000);
  ts.set_nanos(5);
  std::string wire;
  ASSERT_TRUE(ts.SerializeToString(&wire));
  google::protobuf::Timestamp back;
  ASSERT_TRUE(back.ParseFromString(wire));
  EXPECT_EQ(back.seconds(), 1700000000);
  EXPECT_EQ(back.nanos(), 5);
}

TEST(SysSmoke, Benchmark) {
  char arg0[] = "sys_smoke_test";
  char* argv[] = {arg0, nullptr};
  int argc = 1;
  benchmark::Initialize(&argc, argv);  // links libbenchmark
  EXPECT_EQ(argc, 1);
}

}  // namespace
