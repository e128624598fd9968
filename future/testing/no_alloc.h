// -----------------------------------------------------------------------------
// File: future/testing/no_alloc.h
// -----------------------------------------------------------------------------
//
// `ScopedNoAlloc` (fails the test if anything allocates in its scope) and
// `AllocCounter`, re-exported from //tools/testing:alloc_counter for
// future's tests and users' future tests.
#ifndef WEFT_FUTURE_TESTING_NO_ALLOC_H_
#define WEFT_FUTURE_TESTING_NO_ALLOC_H_

#include "tools/testing/alloc_counter.h"

#endif  // WEFT_FUTURE_TESTING_NO_ALLOC_H_
