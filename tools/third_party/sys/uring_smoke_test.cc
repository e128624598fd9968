// liburing links and a NOP completes through a ring. Tagged `uring` (so also
// `no-qemu`): qemu-user has no io_uring, io_uring_queue_init returns -ENOSYS.
#include <liburing.h>

#include <cerrno>

#include "gtest/gtest.h"

TEST(UringSmoke, Nop) {
  io_uring ring;
  const int rc = io_uring_queue_init(4, &ring, 0);
  if (rc == -ENOSYS || rc == -EPERM) GTEST_SKIP() << "io_uring not available here: " << rc;
  ASSERT_EQ(rc, 0);
  io_uring_sqe* sqe = io_uring_get_sqe(&ring);
  ASSERT_NE(sqe, nullptr);
  io_uring_prep_nop(sqe);
  sqe->user_data = 42;
  ASSERT_EQ(io_uring_submit(&ring), 1);
  io_uring_cqe* cqe = nullptr;
  ASSERT_EQ(io_uring_wait_cqe(&ring, &cqe), 0);
  EXPECT_EQ(cqe->user_data, 42u);
  EXPECT_EQ(cqe->res, 0);
  io_uring_cqe_seen(&ring, cqe);
  io_uring_queue_exit(&ring);
}
