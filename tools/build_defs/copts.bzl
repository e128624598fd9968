"""The one source of truth for weft's compiler flags.

The language level (-std=c++20) is set in .bazelrc so that it also reaches
external repositories; everything weft-specific is here.
"""

# Every weft target.
WEFT_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wnon-virtual-dtor",
    "-Wno-missing-field-initializers",
]

# Tests and benchmarks: gtest's macros trip -Wextra's sign-compare noise.
WEFT_TEST_COPTS = WEFT_COPTS + ["-Wno-sign-compare"]

# The freestanding core (iter, pin, future, executor:static, static channels):
# no exceptions, no RTTI. WEFT_FREESTANDING lets a header assert it is being
# checked; the poison include directory (//tools/build_defs:freestanding_poison)
# turns any Abseil include into an error.
WEFT_FREESTANDING_COPTS = [
    "-fno-exceptions",
    "-fno-rtti",
    "-DWEFT_FREESTANDING_CHECK=1",
]
