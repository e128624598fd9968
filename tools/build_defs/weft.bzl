"""Thin wrappers over the native C++ rules: weft's flags, tags and checks.

weft_cc_library(freestanding = True) additionally generates
`<name>_freestanding_check`, a test that compiles every header of the library
on its own with -fno-exceptions -fno-rtti and with Abseil poisoned.

weft_cc_test(freestanding = True) additionally generates `<name>_nx`: the same
test sources compiled with -fno-exceptions -fno-rtti against a GoogleTest that
is built the same way, so the freestanding core's tests pass in that mode too.

weft_cc_benchmark makes a testonly cc_binary tagged `benchmark` linked with
Google Benchmark's main; run it with `./bazelw run -c opt //x:y_benchmark`.
"""

load("//tools/build_defs:copts.bzl", "WEFT_COPTS", "WEFT_FREESTANDING_COPTS", "WEFT_TEST_COPTS")

_POISON = "//tools/build_defs:freestanding_poison"
_GTEST_MAIN = "//tools/third_party:gtest_main"
_GTEST_MAIN_NX = "//tools/third_party:gtest_main_nx"
_BENCHMARK_MAIN = "//tools/third_party/sys:benchmark_main"

def weft_cc_library(name, freestanding = False, copts = [], tags = [], **kwargs):
    native.cc_library(
        name = name,
        copts = WEFT_COPTS + copts,
        tags = tags + (["freestanding"] if freestanding else []),
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
            deps = [":" + name, _POISON],
        )

def weft_cc_test(name, srcs, deps = [], freestanding = False, copts = [], size = "small", tags = [], linkstatic = True, **kwargs):
    # Tests link weft code statically (one binary, no per-library .so): that
    # also keeps the allocation-counting operator new in charge under sanitizers.
    native.cc_test(
        name = name,
        srcs = srcs,
        size = size,
        copts = WEFT_TEST_COPTS + copts,
        tags = tags,
        deps = deps + [_GTEST_MAIN],
        linkstatic = linkstatic,
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
        **kwargs
    )
