"""Where the arm64 Debian sysroot lives, and what is in it.

`./bazelw` creates it (once per machine, with mmdebstrap, only when a
`--config=aarch64` command asks for it) and reads both values below from this
file, so this is the one place to change them. Changing the package list means
bumping the `-vN` suffix, so that machines rebuild their sysroot.

Why a fixed path made by bazelw and not a repository rule: a repository rule
runs mmdebstrap once per Bazel output base, i.e. in every fresh clone (CI),
and is triggered by any `bazel query //...` or host build that loads this
package; bazelw already is the one place that installs machine state, runs as
root for apt anyway, and knows when a cross config is requested. The host's apt
state is untouched: mmdebstrap --variant=extract unpacks the .debs into this
folder with its own apt state and runs no maintainer scripts.
"""

ARM64_SYSROOT = "/opt/weft/debian12-arm64-sysroot-v1"

# GoogleTest is not here: cross builds compile it from /usr/src/googletest
# (@googletest_src), like the -fno-exceptions flavour they need anyway.
ARM64_SYSROOT_PACKAGES = [
    "libc6-dev",
    "libstdc++-12-dev",
    "libabsl-dev",
    "liburing-dev",
    "libbenchmark-dev",
    "libprotobuf-dev",
]
