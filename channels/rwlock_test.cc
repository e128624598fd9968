#include "channels/rwlock.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "executor/local_executor.h"
#include "future/future.h"
#include "future/ready.h"
#include "future/task.h"
#include "future/testing/no_alloc.h"
#include "future/testing/test_waker.h"
#include "gtest/gtest.h"

namespace weft {
namespace {

using testing::CountingWaker;
using testing::poll_once;

static_assert(CancelSafe<RwLock<int>::ReadFuture>);
static_assert(CancelSafe<RwLock<int>::WriteFuture>);
static_assert(!std::is_move_constructible_v<RwLock<int>>);
static_assert(CancelSafe<RwLock<int>::ReadOwnedFuture>);
static_assert(CancelSafe<RwLock<int>::WriteOwnedFuture>);
static_assert(std::is_same_v<OutputOf<RwLock<int>::ReadOwnedFuture>, OwnedRwLockReadGuard<int>>);
static_assert(std::is_same_v<OutputOf<RwLock<int>::WriteOwnedFuture>, OwnedRwLockWriteGuard<int>>);

TEST(RwLockTest, HeaderExample) {
  weft::RwLock<int> l(1);
  auto r1 = l.try_read();
  auto r2 = l.try_read();
  EXPECT_TRUE(r1.is_ok() && r2.is_ok());
  EXPECT_EQ(**r1 + **r2, 2);
  EXPECT_TRUE(l.try_write().is_err());  // readers hold it
}

TEST(RwLockTest, WriterExcludesEveryone) {
  RwLock<std::string> l("a");
  {
    auto w = l.try_write();
    ASSERT_TRUE(w);
    w.value()->append("b");
    EXPECT_TRUE(l.try_read().is_err());
    EXPECT_TRUE(l.try_write().is_err());
  }
  auto r = l.try_read();
  ASSERT_TRUE(r);
  EXPECT_EQ(**r, "ab");
}

TEST(RwLockTest, ReadersAreWokenTogetherWhenTheWriterLeaves) {
  RwLock<int> l(0);
  auto w = l.try_write();
  ASSERT_TRUE(w);
  CountingWaker w1, w2, w3;
  auto a = l.read(), b = l.read(), c = l.read();
  EXPECT_TRUE(poll_once(a, w1).is_pending());
  EXPECT_TRUE(poll_once(b, w2).is_pending());
  EXPECT_TRUE(poll_once(c, w3).is_pending());
  **w = 7;
  w = Err{TryLockError{}};
  EXPECT_EQ(w1.wakes() + w2.wakes() + w3.wakes(), 3);
  auto ra = poll_once(a, w1), rb = poll_once(b, w2), rc = poll_once(c, w3);
  ASSERT_TRUE(ra.is_ready() && rb.is_ready() && rc.is_ready());
  EXPECT_EQ(*ra.value() + *rb.value() + *rc.value(), 21);
  EXPECT_EQ(w1.outstanding() + w2.outstanding() + w3.outstanding(), 0);
}

TEST(RwLockTest, QueuedWriterBlocksLaterReaders) {
  RwLock<int> l(0);
  auto r1 = l.try_read();
  ASSERT_TRUE(r1);
  CountingWaker ww, wr;
  auto w = l.write();
  EXPECT_TRUE(poll_once(w, ww).is_pending());  // waits for r1
  EXPECT_TRUE(l.try_read().is_err());          // a later reader may not pass it
  auto r2 = l.read();
  EXPECT_TRUE(poll_once(r2, wr).is_pending());
  r1 = Err{TryLockError{}};
  EXPECT_EQ(ww.wakes(), 1);
  EXPECT_EQ(wr.wakes(), 0);
  auto pw = poll_once(w, ww);
  ASSERT_TRUE(pw.is_ready());
  *pw.value() = 5;
  { auto done = std::move(pw).value(); }  // writer leaves: r2 gets in
  EXPECT_EQ(wr.wakes(), 1);
  auto pr = poll_once(r2, wr);
  ASSERT_TRUE(pr.is_ready());
  EXPECT_EQ(*pr.value(), 5);
}

TEST(RwLockTest, FifoOrderOfReadersAndWritersAmongTasks) {
  LocalExecutor ex;
  RwLock<int> l(0);
  auto held = l.try_write();
  ASSERT_TRUE(held);
  std::vector<std::string> log;
  auto reader = [&](std::string name) -> Task<Unit> {
    auto g = co_await l.read();
    log.push_back(name + "+");
    co_await yield_now();
    log.push_back(name + "-");
  };
  auto writer = [&](std::string name) -> Task<Unit> {
    auto g = co_await l.write();
    log.push_back(name + "+");
    co_await yield_now();
    log.push_back(name + "-");
  };
  ex.spawn_detached(reader("r1"));
  ex.spawn_detached(reader("r2"));
  ex.spawn_detached(writer("w1"));
  ex.spawn_detached(reader("r3"));
  ex.spawn_detached(writer("w2"));
  ex.run_until_stalled();
  EXPECT_TRUE(log.empty());
  held = Err{TryLockError{}};
  ex.run_until_stalled();
  // r1 and r2 share the lock; w1 waits for both; r3 waits for w1 (writer
  // preference by arrival order); w2 waits for r3.
  const std::vector<std::string> expected = {"r1+", "r2+", "r1-", "r2-", "w1+",
                                             "w1-", "r3+", "r3-", "w2+", "w2-"};
  EXPECT_EQ(log, expected);
}

TEST(RwLockTest, DroppingAQueuedWriterHandsItsPermitsToTheReadersBehindIt) {
  RwLock<int> l(0);
  auto r1 = l.try_read();
  CountingWaker ww, wr;
  auto r2 = l.read();
  {
    auto w = l.write();
    EXPECT_TRUE(poll_once(w, ww).is_pending());  // took every free permit
    EXPECT_TRUE(poll_once(r2, wr).is_pending());
    EXPECT_EQ(ww.outstanding(), 1);
  }
  EXPECT_EQ(ww.outstanding(), 0);
  EXPECT_EQ(wr.wakes(), 1);  // r2 no longer waits behind a writer
  ASSERT_TRUE(poll_once(r2, wr).is_ready());
  EXPECT_TRUE(l.try_read().is_ok());
  EXPECT_EQ(wr.outstanding(), 0);
}

TEST(RwLockTest, DroppingAWriterThatWasHandedTheLockPassesItOn) {
  RwLock<int> l(0);
  auto r1 = l.try_read();
  CountingWaker ww, wr;
  auto r2 = l.read();
  {
    auto w = l.write();
    EXPECT_TRUE(poll_once(w, ww).is_pending());
    EXPECT_TRUE(poll_once(r2, wr).is_pending());
    r1 = Err{TryLockError{}};  // w now owns the lock, not yet polled
    EXPECT_EQ(ww.wakes(), 1);
    EXPECT_EQ(wr.wakes(), 0);
  }
  EXPECT_EQ(wr.wakes(), 1);
  auto p2 = poll_once(r2, wr);
  ASSERT_TRUE(p2.is_ready());
  EXPECT_TRUE(l.try_read().is_ok());
  EXPECT_TRUE(l.try_write().is_err());  // r2 reads
}

TEST(RwLockTest, DroppingAReaderThatWasHandedAPermitPassesItOn) {
  RwLock<int> l(0);
  auto held = l.try_write();
  CountingWaker wr, ww;
  auto w = l.write();
  {
    auto r = l.read();
    EXPECT_TRUE(poll_once(r, wr).is_pending());
    EXPECT_TRUE(poll_once(w, ww).is_pending());
    held = Err{TryLockError{}};  // 1 permit to r, the rest to w (partial)
    EXPECT_EQ(wr.wakes(), 1);
    EXPECT_EQ(ww.wakes(), 0);
  }  // r's permit completes w
  EXPECT_EQ(ww.wakes(), 1);
  EXPECT_TRUE(poll_once(w, ww).is_ready());
}

TEST(RwLockTest, DowngradeKeepsReadingAndLetsQueuedReadersIn) {
  RwLock<int> l(0);
  CountingWaker wr, ww;
  auto w = l.try_write();
  ASSERT_TRUE(w);
  **w = 3;
  auto r = l.read();
  auto w2 = l.write();
  EXPECT_TRUE(poll_once(r, wr).is_pending());
  EXPECT_TRUE(poll_once(w2, ww).is_pending());
  RwLockReadGuard<int> mine = std::move(w.value()).downgrade();
  EXPECT_EQ(*mine, 3);
  EXPECT_EQ(wr.wakes(), 1);  // the reader ahead of w2 gets in
  EXPECT_EQ(ww.wakes(), 0);  // w2 waits for both readers
  auto pr = poll_once(r, wr);
  ASSERT_TRUE(pr.is_ready());
  EXPECT_EQ(*pr.value(), 3);
  EXPECT_TRUE(l.try_read().is_err());  // w2 is queued: no barging
  { auto gone = std::move(mine); }
  EXPECT_EQ(ww.wakes(), 0);
  { auto gone = std::move(pr).value(); }
  EXPECT_EQ(ww.wakes(), 1);
  EXPECT_TRUE(poll_once(w2, ww).is_ready());
}

TEST(RwLockTest, MaxReadersBoundsConcurrentReads) {
  auto l = RwLock<int>::with_max_readers(4, 2);
  EXPECT_EQ(l.max_readers(), 2u);
  auto a = l.try_read();
  auto b = l.try_read();
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(l.try_read().is_err());
  CountingWaker w;
  auto c = l.read();
  EXPECT_TRUE(poll_once(c, w).is_pending());
  a = Err{TryLockError{}};
  auto pc = poll_once(c, w);
  ASSERT_TRUE(pc.is_ready());
  b = Err{TryLockError{}};
  EXPECT_TRUE(l.try_write().is_err());  // c still reads
  { auto gone = std::move(pc).value(); }
  EXPECT_TRUE(l.try_write().is_ok());
}

TEST(RwLockTest, LockPathsDoNotAllocate) {
  RwLock<int> l(0);
  CountingWaker w;
  auto r = l.try_read();
  auto wf = l.write();
  testing::ScopedNoAlloc no_alloc;
  EXPECT_TRUE(poll_once(wf, w).is_pending());
  r = Err{TryLockError{}};
  auto p = poll_once(wf, w);
  ASSERT_TRUE(p.is_ready());
  auto rd = std::move(p).value().downgrade();
  EXPECT_EQ(*rd, 0);
}

TEST(RwLockTest, GetMutIntoInnerAndBlockingAccess) {
  RwLock<std::vector<int>> l(std::in_place, 2, 1);
  l.get_mut().push_back(3);
  EXPECT_EQ(l.blocking_read()->size(), 3u);
  auto w = l.blocking_write();
  std::atomic<bool> read{false};
  std::thread t([&] {
    auto r = l.blocking_read();
    EXPECT_EQ(r->back(), 4);
    read.store(true);
  });
  for (int i = 0; i < 1000; ++i) std::this_thread::yield();
  EXPECT_FALSE(read.load());
  w->push_back(4);
  { auto gone = std::move(w); }
  t.join();
  EXPECT_TRUE(read.load());
  EXPECT_EQ(std::move(l).into_inner(), (std::vector<int>{1, 1, 3, 4}));
}

TEST(RwLockTest, ReadersAndWritersAsTasks) {
  LocalExecutor ex;
  struct Two {
    int a = 0;
    int b = 0;
  };
  RwLock<Two> l;
  int bad = 0;
  int reads = 0;
  auto writer = [&](int n) -> Task<Unit> {
    for (int i = 0; i < n; ++i) {
      auto g = co_await l.write();
      g->a += 1;
      co_await yield_now();  // the invariant a == b is broken across this
      g->b += 1;
    }
  };
  auto reader = [&](int n) -> Task<Unit> {
    for (int i = 0; i < n; ++i) {
      auto g = co_await l.read();
      if (g->a != g->b) ++bad;
      ++reads;
      if (i % 2 == 0) co_await yield_now();
    }
  };
  for (int i = 0; i < 3; ++i) ex.spawn_detached(writer(50));
  for (int i = 0; i < 5; ++i) ex.spawn_detached(reader(100));
  ex.run_until_stalled();
  EXPECT_EQ(bad, 0);
  EXPECT_EQ(reads, 500);
  EXPECT_EQ(l.get_mut().a, 150);
  EXPECT_EQ(l.get_mut().b, 150);
}

// ---- read_owned / write_owned ----

TEST(RwLockTest, OwnedGuardsKeepTheLockAlive) {
  auto l = std::make_shared<RwLock<std::string>>("a");
  std::weak_ptr<RwLock<std::string>> weak = l;
  {
    auto w = RwLock<std::string>::try_write_owned(l);
    ASSERT_TRUE(w);
    EXPECT_TRUE(RwLock<std::string>::try_read_owned(l).is_err());
    l.reset();  // the guard holds the only reference now
    EXPECT_FALSE(weak.expired());
    w.value()->append("b");
    EXPECT_EQ(w.value().rwlock().get(), weak.lock().get());
    w = Err{TryLockError{}};  // unlocks, then frees the lock
    EXPECT_TRUE(weak.expired());
  }
  l = std::make_shared<RwLock<std::string>>("c");
  weak = l;
  auto f = RwLock<std::string>::read_owned(l);
  auto p = poll_once(f);
  ASSERT_TRUE(p.is_ready());
  auto r2 = RwLock<std::string>::try_read_owned(l);  // readers share
  ASSERT_TRUE(r2);
  l.reset();
  EXPECT_EQ(*p.value(), "c");
  EXPECT_EQ(**r2, "c");
  r2 = Err{TryLockError{}};
  EXPECT_FALSE(weak.expired());  // p's guard still holds it
  { auto last = std::move(p).value(); }
  EXPECT_TRUE(weak.expired());
}

TEST(RwLockTest, OwnedWriterExcludesReaders) {
  auto l = std::make_shared<RwLock<int>>(1);
  CountingWaker wr;
  auto w = RwLock<int>::try_write_owned(l);
  ASSERT_TRUE(w);
  EXPECT_TRUE(l->try_read().is_err());
  EXPECT_TRUE(RwLock<int>::try_read_owned(l).is_err());
  EXPECT_TRUE(RwLock<int>::try_write_owned(l).is_err());
  auto r = RwLock<int>::read_owned(l);
  EXPECT_TRUE(poll_once(r, wr).is_pending());
  **w = 2;
  w = Err{TryLockError{}};
  EXPECT_EQ(wr.wakes(), 1);
  auto pr = poll_once(r, wr);
  ASSERT_TRUE(pr.is_ready());
  EXPECT_EQ(*pr.value(), 2);
  EXPECT_TRUE(l->try_read().is_ok());    // readers share
  EXPECT_TRUE(l->try_write().is_err());  // pr reads
}

TEST(RwLockTest, QueuedOwnedWriterBlocksLaterReaders) {
  auto l = std::make_shared<RwLock<int>>(0);
  auto r1 = RwLock<int>::try_read_owned(l);
  ASSERT_TRUE(r1);
  CountingWaker ww, wr;
  auto w = RwLock<int>::write_owned(l);
  EXPECT_TRUE(poll_once(w, ww).is_pending());           // waits for r1
  EXPECT_TRUE(RwLock<int>::try_read_owned(l).is_err());  // a later reader may not pass it
  EXPECT_TRUE(l->try_read().is_err());
  auto r2 = RwLock<int>::read_owned(l);
  EXPECT_TRUE(poll_once(r2, wr).is_pending());
  r1 = Err{TryLockError{}};
  EXPECT_EQ(ww.wakes(), 1);
  EXPECT_EQ(wr.wakes(), 0);
  auto pw = poll_once(w, ww);
  ASSERT_TRUE(pw.is_ready());
  *pw.value() = 5;
  EXPECT_TRUE(poll_once(r2, wr).is_pending());
  { auto done = std::move(pw).value(); }  // writer leaves: r2 gets in
  EXPECT_EQ(wr.wakes(), 1);
  auto pr = poll_once(r2, wr);
  ASSERT_TRUE(pr.is_ready());
  EXPECT_EQ(*pr.value(), 5);
  EXPECT_EQ(ww.outstanding() + wr.outstanding(), 0);
}

TEST(RwLockTest, DroppingAQueuedOwnedWriterPassesItsPlaceOn) {
  auto l = std::make_shared<RwLock<int>>(0);
  auto r1 = RwLock<int>::try_read_owned(l);
  CountingWaker ww, wr;
  auto r2 = RwLock<int>::read_owned(l);
  {
    auto w = RwLock<int>::write_owned(l);
    EXPECT_TRUE(poll_once(w, ww).is_pending());  // took every free permit
    EXPECT_TRUE(poll_once(r2, wr).is_pending());
    EXPECT_EQ(ww.outstanding(), 1);
  }
  EXPECT_EQ(ww.outstanding(), 0);
  EXPECT_EQ(wr.wakes(), 1);  // r2 no longer waits behind a writer
  ASSERT_TRUE(poll_once(r2, wr).is_ready());
  EXPECT_EQ(wr.outstanding(), 0);
}

TEST(RwLockTest, DroppingAnOwnedWriterThatWasHandedTheLockPassesItOn) {
  auto l = std::make_shared<RwLock<int>>(0);
  auto r1 = RwLock<int>::try_read_owned(l);
  CountingWaker ww, wr;
  auto r2 = RwLock<int>::read_owned(l);
  {
    auto w = RwLock<int>::write_owned(l);
    EXPECT_TRUE(poll_once(w, ww).is_pending());
    EXPECT_TRUE(poll_once(r2, wr).is_pending());
    r1 = Err{TryLockError{}};  // w now owns the lock, not yet polled
    EXPECT_EQ(ww.wakes(), 1);
    EXPECT_EQ(wr.wakes(), 0);
  }
  EXPECT_EQ(wr.wakes(), 1);
  auto p2 = poll_once(r2, wr);
  ASSERT_TRUE(p2.is_ready());
  EXPECT_TRUE(l->try_read().is_ok());
  EXPECT_TRUE(l->try_write().is_err());  // r2 reads
}

TEST(RwLockTest, AQueuedOwnedFutureHoldingTheLastReferenceFreesItWhenDropped) {
  auto l = std::make_shared<RwLock<int>>(0);
  std::weak_ptr<RwLock<int>> weak = l;
  auto held = RwLock<int>::try_write_owned(l);
  ASSERT_TRUE(held);
  CountingWaker w;
  {
    auto f = RwLock<int>::read_owned(std::move(l));
    EXPECT_TRUE(poll_once(f, w).is_pending());
    held = Err{TryLockError{}};  // handed to `f`, which holds the only reference
    EXPECT_FALSE(weak.expired());
    EXPECT_EQ(w.wakes(), 1);
  }  // dropped: gives the permit back, then frees the lock
  EXPECT_TRUE(weak.expired());
  EXPECT_EQ(w.outstanding(), 0);
}

TEST(RwLockTest, OwnedDowngradeAndBlockingOwnedAccess) {
  auto l = std::make_shared<RwLock<int>>(1);
  auto w = RwLock<int>::blocking_write_owned(l);
  *w = 3;
  CountingWaker wr;
  auto r = RwLock<int>::read_owned(l);
  EXPECT_TRUE(poll_once(r, wr).is_pending());
  OwnedRwLockReadGuard<int> d = std::move(w).downgrade();
  EXPECT_EQ(wr.wakes(), 1);  // a queued reader gets in beside the downgraded guard
  auto pr = poll_once(r, wr);
  ASSERT_TRUE(pr.is_ready());
  EXPECT_EQ(*d + *pr.value(), 6);
  EXPECT_TRUE(l->try_write().is_err());
  auto b = RwLock<int>::blocking_read_owned(l);
  EXPECT_EQ(*b, 3);
}

}  // namespace
}  // namespace weft
