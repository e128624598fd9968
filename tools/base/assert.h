// -----------------------------------------------------------------------------
// File: tools/base/assert.h
// -----------------------------------------------------------------------------
//
// Contract checks shared by every weft component (the only code below `iter`
// in the layer diagram; it has no dependencies of its own).
//
//   WEFT_ASSERT(cond, "sentence")            debug builds only (no NDEBUG)
//   WEFT_HARDENING_ASSERT(cond, "sentence")  always on; guards memory safety
//
// A failed check prints `file:line: weft contract violated: <sentence>
// (<cond>)` to stderr on hosted targets and aborts; on bare metal it traps.
//
// Costs: nothing when disabled (the condition is not evaluated, but it is
// still parsed, so it cannot rot). Freestanding: no allocation, no
// exceptions, no RTTI.
#ifndef WEFT_TOOLS_BASE_ASSERT_H_
#define WEFT_TOOLS_BASE_ASSERT_H_

#if defined(__linux__) || defined(__APPLE__)
#include <cstdio>
#include <cstdlib>
#define WEFT_INTERNAL_HOSTED 1
#else
#define WEFT_INTERNAL_HOSTED 0
#endif

namespace weft::base_internal {

[[noreturn]] inline void assert_fail(const char* file, int line, const char* cond,
                                     const char* msg) noexcept {
#if WEFT_INTERNAL_HOSTED
  std::fprintf(stderr, "%s:%d: weft contract violated: %s (%s)\n", file, line, msg, cond);
  std::fflush(stderr);
  std::abort();
#else
  (void)file;
  (void)line;
  (void)cond;
  (void)msg;
  __builtin_trap();
#endif
}

}  // namespace weft::base_internal

#define WEFT_HARDENING_ASSERT(cond, msg)                                        \
  (__builtin_expect(static_cast<bool>(cond), 1)                                 \
       ? static_cast<void>(0)                                                   \
       : ::weft::base_internal::assert_fail(__FILE__, __LINE__, #cond, msg))

#ifdef NDEBUG
#define WEFT_DEBUG_CHECKS 0
#define WEFT_ASSERT(cond, msg) static_cast<void>(sizeof(static_cast<bool>(cond)))
#else
#define WEFT_DEBUG_CHECKS 1
#define WEFT_ASSERT(cond, msg) WEFT_HARDENING_ASSERT(cond, msg)
#endif

#endif  // WEFT_TOOLS_BASE_ASSERT_H_
