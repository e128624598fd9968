// -----------------------------------------------------------------------------
// File: iter/iter.h
// -----------------------------------------------------------------------------
//
// Everything in `//iter`: the `Iterator` concept (iterator.h), adaptors and
// consumers in method and pipe form (adaptors.h), sources (sources.h) and
// `Generator<T>` (generator.h). Rust: `core::iter`.
//
// Example (the two spellings side by side):
//
//   auto sq = [](int x) { return x * x; };
//   auto odd = [](int x) { return x % 2 == 1; };
//   int a = iter::range(0, 10).map(sq).filter(odd).sum();          // method form
//   int b = iter::range(0, 10) | iter::map(sq) | iter::filter(odd) | iter::sum();  // pipe
//   // a == b == 165
//
// Costs: header-only; no allocation except generator frames (through a
// pluggable allocator) and the containers `collect` fills. Freestanding: no
// exceptions, no RTTI, no Abseil.
#ifndef WEFT_ITER_ITER_H_
#define WEFT_ITER_ITER_H_

#include "iter/adaptors.h"
#include "iter/generator.h"
#include "iter/iterator.h"
#include "iter/sources.h"

#endif  // WEFT_ITER_ITER_H_
