// -----------------------------------------------------------------------------
// File: tools/testing/alloc_counter.h
// -----------------------------------------------------------------------------
//
// Counts heap allocations made by the current thread, by replacing the global
// `operator new`/`operator delete` (alloc_counter.cc). Test-only.
//
//   {
//     weft::testing::ScopedNoAlloc no_alloc;  // fails the test at scope exit
//     auto sum = v | iter::map(f) | iter::sum();        // if anything allocated
//   }
//
//   weft::testing::AllocCounter c;  // or count explicitly
//   ...;
//   EXPECT_EQ(c.allocations(), 0);
//
// Costs: one thread-local increment per allocation while linked in.
// Contract: link only into tests (testonly target).
#ifndef WEFT_TOOLS_TESTING_ALLOC_COUNTER_H_
#define WEFT_TOOLS_TESTING_ALLOC_COUNTER_H_

#include <cstddef>
#include <cstdint>

#include "gtest/gtest.h"

namespace weft::testing {

// Allocations (calls of any global operator new) by this thread so far.
std::uint64_t thread_allocations() noexcept;
// Bytes requested by this thread so far.
std::uint64_t thread_allocated_bytes() noexcept;
// True if this binary's global operator new is the counting one (it is not
// when a sanitizer runtime's replacement wins the link).
bool counting_active() noexcept;

// AllocCounter
//
// Snapshot of the thread's counters at construction; reports the difference.
class AllocCounter {
 public:
  AllocCounter() noexcept : start_(thread_allocations()), start_bytes_(thread_allocated_bytes()) {}
  std::uint64_t allocations() const noexcept { return thread_allocations() - start_; }
  std::uint64_t bytes() const noexcept { return thread_allocated_bytes() - start_bytes_; }

 private:
  std::uint64_t start_;
  std::uint64_t start_bytes_;
};

// ScopedNoAlloc
//
// Adds a GoogleTest failure (naming the count) when destroyed if the thread
// allocated anything during its lifetime.
class ScopedNoAlloc {
 public:
  ScopedNoAlloc(const char* file = __builtin_FILE(), int line = __builtin_LINE()) noexcept
      : active_(counting_active()), counter_(), file_(file), line_(line) {}
  ScopedNoAlloc(const ScopedNoAlloc&) = delete;
  ScopedNoAlloc& operator=(const ScopedNoAlloc&) = delete;
  ~ScopedNoAlloc() {
    if (!active_) {
      ADD_FAILURE_AT(file_, line_) << "allocation counting is not active in this binary "
                                      "(is //tools/testing:alloc_counter linked statically?)";
      return;
    }
    const std::uint64_t n = counter_.allocations();
    if (n != 0) {
      ADD_FAILURE_AT(file_, line_) << n << " heap allocation(s) (" << counter_.bytes()
                                   << " bytes) inside a ScopedNoAlloc scope";
    }
  }

  std::uint64_t allocations() const noexcept { return counter_.allocations(); }

 private:
  bool active_;
  AllocCounter counter_;
  const char* file_;
  int line_;
};

}  // namespace weft::testing

#endif  // WEFT_TOOLS_TESTING_ALLOC_COUNTER_H_
