"""One gcc toolchain-config rule for weft's cross toolchains (Bazel 4 style).

Serves `linux_aarch64` (Debian's aarch64-linux-gnu-g++ with an arm64 Debian
sysroot) and the bare-metal Cortex-M toolchains (arm-none-eabi-g++, newlib).
Legacy features (include paths, user_compile_flags, sysroot,
libraries_to_link ...) are added by Bazel because `no_legacy_features` is not
declared; the user's `-l` flags come before `default_link_flags`, so the
toolchain's libraries end up last on the link line.

Host headers must never leak into a cross build: `builtin_include_dirs` lists
only the cross compiler's own directories (and the sysroot's), never
/usr/include, so an include that resolves to a host header is a Bazel error
("undeclared inclusion(s)").
"""

load("@bazel_tools//tools/build_defs/cc:action_names.bzl", "ACTION_NAMES")
load(
    "@bazel_tools//tools/cpp:cc_toolchain_config_lib.bzl",
    "feature",
    "flag_group",
    "flag_set",
    "tool_path",
    "with_feature_set",
)

_COMPILE = [
    ACTION_NAMES.assemble,
    ACTION_NAMES.preprocess_assemble,
    ACTION_NAMES.c_compile,
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.cpp_module_codegen,
    ACTION_NAMES.linkstamp_compile,
]

_CXX = [
    ACTION_NAMES.cpp_compile,
    ACTION_NAMES.cpp_header_parsing,
    ACTION_NAMES.cpp_module_compile,
    ACTION_NAMES.linkstamp_compile,
]

_LINK = [
    ACTION_NAMES.cpp_link_executable,
    ACTION_NAMES.cpp_link_dynamic_library,
    ACTION_NAMES.cpp_link_nodeps_dynamic_library,
]

def _flags(actions, flags, features = None):
    if not flags:  # flag_group() fails on an empty list
        return None
    return flag_set(
        actions = actions,
        flag_groups = [flag_group(flags = flags)],
        with_features = [with_feature_set(features = features)] if features else [],
    )

def _impl(ctx):
    p = ctx.attr.tool_prefix
    tool_paths = [
        tool_path(name = n, path = p + n)
        for n in ["gcc", "cpp", "ar", "ld", "nm", "objcopy", "objdump", "strip"]
    ] + [
        tool_path(name = "gcov", path = "/bin/false"),
        tool_path(name = "dwp", path = "/bin/false"),
    ]
    bare = ctx.attr.bare_metal
    compile_sets = [
        _flags(_COMPILE, ["-no-canonical-prefixes", "-fno-canonical-system-headers", "-Wall"] +
                         ctx.attr.compile_flags),
        _flags(_CXX, ctx.attr.cxx_flags),
        _flags(_COMPILE, ["-g"], ["dbg"]),
        _flags(_COMPILE, ["-O2", "-DNDEBUG", "-ffunction-sections", "-fdata-sections"], ["opt"]),
        # A microcontroller's flash is small: even fastbuild optimises a little.
        _flags(_COMPILE, ["-O1"] if bare else [], ["fastbuild"]),
    ]
    link_sets = [
        _flags(_LINK, ["-no-canonical-prefixes"] + ctx.attr.link_flags),
        _flags(_LINK, ["-Wl,--gc-sections"], ["opt"]),
        _flags(_LINK, ctx.attr.link_libs),
    ]
    features = [
        feature(name = "dbg"),
        feature(name = "opt"),
        feature(name = "fastbuild"),
        feature(
            name = "default_compile_flags",
            enabled = True,
            flag_sets = [s for s in compile_sets if s],
        ),
        feature(
            name = "default_link_flags",
            enabled = True,
            flag_sets = [s for s in link_sets if s],
        ),
        feature(name = "supports_pic", enabled = not bare),
    ]
    return cc_common.create_cc_toolchain_config_info(
        ctx = ctx,
        features = features,
        cxx_builtin_include_directories = ctx.attr.builtin_include_dirs,
        toolchain_identifier = ctx.attr.name,
        host_system_name = "x86_64-unknown-linux-gnu",
        target_system_name = ctx.attr.target_system_name,
        target_cpu = ctx.attr.target_cpu,
        target_libc = ctx.attr.target_libc,
        compiler = "gcc",
        abi_version = "unknown",
        abi_libc_version = "unknown",
        tool_paths = tool_paths,
        builtin_sysroot = ctx.attr.sysroot or None,
    )

gcc_toolchain_config = rule(
    implementation = _impl,
    provides = [CcToolchainConfigInfo],
    attrs = {
        # e.g. "/usr/bin/aarch64-linux-gnu-"; the tools are <prefix>gcc, <prefix>ar, ...
        "tool_prefix": attr.string(mandatory = True),
        "target_system_name": attr.string(mandatory = True),
        "target_cpu": attr.string(mandatory = True),
        "target_libc": attr.string(default = "glibc"),
        # Never /usr/include (see the file comment).
        "builtin_include_dirs": attr.string_list(mandatory = True),
        "sysroot": attr.string(default = ""),
        "compile_flags": attr.string_list(),
        "cxx_flags": attr.string_list(),
        "link_flags": attr.string_list(),
        "link_libs": attr.string_list(default = ["-lstdc++", "-lm"]),
        # No PIC, -O1 in fastbuild.
        "bare_metal": attr.bool(default = False),
    },
)
