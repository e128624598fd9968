"""Platform compatibility shared by weft's macros and third-party targets.

HOSTED_ONLY: for targets that need an operating system (GoogleTest tests,
benchmarks, Abseil/protobuf/liburing users, the tour). On a bare-metal
platform (--config=cortex_m, --config=cortex_m4) they are incompatible, so
`bazel build //...` skips them and `bazel test //...` reports them SKIPPED;
everything that depends on them is skipped too.

    cc_library(name = "x", ..., target_compatible_with = HOSTED_ONLY)
"""

HOSTED_ONLY = select({
    "//tools/toolchains:is_bare_metal": ["//tools/toolchains:incompatible"],
    "//conditions:default": [],
})

BARE_METAL_ONLY = select({
    "//tools/toolchains:is_bare_metal": [],
    "//conditions:default": ["//tools/toolchains:incompatible"],
})
