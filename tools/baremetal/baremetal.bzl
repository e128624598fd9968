"""Checks for bare-metal (Cortex-M) binaries.

baremetal_no_heap_test(name, binary): a test that fails if the linked ELF
holds heap, exception-support, unwinder or RTTI symbols (see run.sh for the
exact list and the one justified exception). Every test run under
--config=cortex_m / cortex_m4 is checked the same way by the --run_under
wrapper before it runs; use this macro for firmware images that are
cc_binary targets rather than tests.

    cc_binary(name = "firmware", ..., deps = ["//tools/baremetal:runtime"])
    baremetal_no_heap_test(name = "firmware_no_heap", binary = ":firmware")
"""

load("//tools/build_defs:platforms.bzl", "BARE_METAL_ONLY")

def baremetal_no_heap_test(name, binary, tags = [], **kwargs):
    native.sh_test(
        name = name,
        size = "small",
        srcs = ["//tools/baremetal:run.sh"],
        args = ["--no-heap", "$(rootpath %s)" % binary],
        data = [binary],
        tags = tags,
        target_compatible_with = BARE_METAL_ONLY,
        **kwargs
    )
