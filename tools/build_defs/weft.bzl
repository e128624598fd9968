"""Thin wrappers over the native C++ rules: weft's flags, tags and checks.

weft_cc_library(freestanding = True) additionally generates
`<name>_freestanding_check`, a test that compiles every header of the library
on its own with -fno-exceptions -fno-rtti and with Abseil poisoned.

weft_cc_test(freestanding = True) additionally generates `<name>_nx`: the same
test sources compiled with -fno-exceptions -fno-rtti against a GoogleTest that
is built the same way, so the freestanding core's tests pass in that mode too.

weft_cc_benchmark makes a testonly cc_binary tagged `benchmark` linked with
Google Benchmark's main; run it with `./bazelw run -c opt //x:y_benchmark`.

weft_cc_firmware makes a bare-metal Cortex-M program that runs as a test on
the emulated board (main's return value is the exit status, via semihosting):
`./bazelw test --config=cortex_m //x:y` (mps2-an385) or `--config=cortex_m4`
(mps2-an386). It links //tools/baremetal:runtime, is SKIPPED on hosted
platforms, and must pass the no-heap check before it runs.

Cross builds (README "Cross builds"): the platform logic lives here, so BUILD
files never mention platforms.
- Tests, benchmarks and libraries not marked freestanding need an operating
  system: on bare metal (--config=cortex_m, cortex_m4) they are SKIPPED.
- On bare metal each `<name>_freestanding_check` links //tools/baremetal:runtime
  (startup code, linker script, semihosting) and runs on the emulated board;
  the --run_under wrapper first fails it if heap, exception or RTTI symbols
  were linked in.
- Tests tagged `uring` are also tagged `no-qemu`: qemu-user has no io_uring
  (io_uring_setup returns ENOSYS), so --config=aarch64 does not run them.
"""

load("//tools/build_defs:copts.bzl", "WEFT_COPTS", "WEFT_FREESTANDING_COPTS", "WEFT_TEST_COPTS")
load("//tools/build_defs:platforms.bzl", "BARE_METAL_ONLY", "HOSTED_ONLY")

_POISON = "//tools/build_defs:freestanding_poison"
_GTEST_MAIN = "//tools/third_party:gtest_main"
_GTEST_MAIN_NX = "//tools/third_party:gtest_main_nx"
_BENCHMARK_MAIN = "//tools/third_party/sys:benchmark_main"
_BAREMETAL_RUNTIME = "//tools/baremetal:runtime"

def _hosted_only(kwargs):
    """The caller's target_compatible_with, plus "needs an operating system"."""
    return kwargs.pop("target_compatible_with", []) + HOSTED_ONLY

def _test_tags(tags):
    return tags + (["no-qemu"] if "uring" in tags and "no-qemu" not in tags else [])

def weft_cc_library(name, freestanding = False, copts = [], tags = [], **kwargs):
    # A library not marked freestanding may use the OS: skipped on bare metal.
    compat = kwargs.pop("target_compatible_with", [])
    native.cc_library(
        name = name,
        copts = WEFT_COPTS + copts,
        tags = tags + (["freestanding"] if freestanding else []),
        target_compatible_with = compat if freestanding else compat + HOSTED_ONLY,
        **kwargs
    )
    if freestanding:
        hdrs = kwargs.get("hdrs", [])
        srcs = []
        for i, h in enumerate(hdrs):
            src = "%s_fscheck_%d.cc" % (name, i)
            native.genrule(
                name = "%s_fscheck_%d_gen" % (name, i),
                outs = [src],
                cmd = "printf '#include \"%s/%s\"\\n' > $@" % (native.package_name(), h),
            )
            srcs.append(src)
        native.genrule(
            name = name + "_fscheck_main_gen",
            outs = [name + "_fscheck_main.cc"],
            cmd = "printf 'int main() { return 0; }\\n' > $@",
        )
        native.cc_test(
            name = name + "_freestanding_check",
            size = "small",
            srcs = srcs + [name + "_fscheck_main.cc"],
            copts = WEFT_COPTS + WEFT_FREESTANDING_COPTS + ["-Werror"],
            tags = ["freestanding"],
            deps = [":" + name, _POISON] + select({
                "//tools/toolchains:is_bare_metal": [_BAREMETAL_RUNTIME],
                "//conditions:default": [],
            }),
        )

def weft_cc_test(name, srcs, deps = [], freestanding = False, copts = [], size = "small", tags = [], linkstatic = True, **kwargs):
    # Tests link weft code statically (one binary, no per-library .so): that
    # also keeps the allocation-counting operator new in charge under sanitizers.
    compat = _hosted_only(kwargs)
    tags = _test_tags(tags)
    native.cc_test(
        name = name,
        srcs = srcs,
        size = size,
        copts = WEFT_TEST_COPTS + copts,
        tags = tags,
        deps = deps + [_GTEST_MAIN],
        linkstatic = linkstatic,
        target_compatible_with = compat,
        **kwargs
    )
    if freestanding:
        native.cc_test(
            name = name + "_nx",
            srcs = srcs,
            size = size,
            copts = WEFT_TEST_COPTS + WEFT_FREESTANDING_COPTS + copts,
            tags = tags + ["freestanding"],
            deps = deps + [_GTEST_MAIN_NX, _POISON],
            linkstatic = linkstatic,
            target_compatible_with = compat,
            **kwargs
        )

def weft_cc_benchmark(name, srcs, deps = [], copts = [], tags = [], **kwargs):
    native.cc_binary(
        name = name,
        srcs = srcs,
        testonly = True,
        copts = WEFT_TEST_COPTS + copts,
        tags = tags + ["benchmark"],
        deps = deps + [_BENCHMARK_MAIN],
        target_compatible_with = _hosted_only(kwargs),
        **kwargs
    )

def weft_cc_firmware(name, srcs, deps = [], copts = [], size = "small", tags = [], **kwargs):
    native.cc_test(
        name = name,
        srcs = srcs,
        size = size,
        copts = WEFT_COPTS + WEFT_FREESTANDING_COPTS + ["-Werror"] + copts,
        tags = tags,
        deps = deps + [_BAREMETAL_RUNTIME],
        target_compatible_with = kwargs.pop("target_compatible_with", []) + BARE_METAL_ONLY,
        **kwargs
    )
