#!/usr/bin/env bash
# compare.sh: weft's benchmarks against tokio 1.24 (and futures-rs 0.3) on
# this machine, in turns, as ratios (README.md here).
#
#   tools/tokio_reference/compare.sh [--rounds N] [--only SUBSTRING]
#
# Installs what is missing (Debian's packaged crates librust-tokio-dev and
# librust-futures-dev, and Debian's cargo when no cargo is on PATH), builds
# the Rust reference offline from /usr/share/cargo/registry into
# ~/.cache/weft/tokio_reference, builds weft's benchmarks with
# --config=opt, and runs compare.py. Not part of CI: it measures, it does
# not test.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
say() { printf 'compare: %s\n' "$*" >&2; }

is_installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }
need=()
for p in librust-tokio-dev librust-futures-dev; do is_installed "$p" || need+=("$p"); done
command -v cargo >/dev/null 2>&1 || need+=(cargo)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]} (tokio 1.24 and futures 0.3 sources from Debian, and cargo to build them offline)"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
  if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2; then
    $sudo apt-get update -q >&2  # a fresh machine's package lists may be empty
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >&2
  fi
fi

export CARGO_TARGET_DIR="${HOME}/.cache/weft/tokio_reference"
say "building the tokio reference ($(rustc --version 2>/dev/null || echo rustc?))"
(cd "$here" && cargo build --release --quiet)
tokio_bin="$CARGO_TARGET_DIR/release/tokio_reference"

say "building weft's benchmarks (--config=opt)"
targets=(//executor:local_benchmark //executor:thread_pool_benchmark //channels:mpsc_benchmark //channels:oneshot_benchmark)
(cd "$root" && ./bazelw build --config=opt "${targets[@]}" >&2)
# Copies: a later build in this checkout must not swap a binary mid-run.
bin_dir="$(mktemp -d /tmp/weft-compare.XXXXXX)"
trap 'rm -rf "$bin_dir"' EXIT
bb="$(cd "$root" && ./bazelw info --config=opt bazel-bin 2>/dev/null)"
cp "$bb/executor/local_benchmark" "$bb/executor/thread_pool_benchmark" \
   "$bb/channels/mpsc_benchmark" "$bb/channels/oneshot_benchmark" "$tokio_bin" "$bin_dir/"

python3 "$here/compare.py" --tokio "$bin_dir/tokio_reference" \
  --weft "local=$bin_dir/local_benchmark" --weft "pool=$bin_dir/thread_pool_benchmark" \
  --weft "mpsc=$bin_dir/mpsc_benchmark" --weft "oneshot=$bin_dir/oneshot_benchmark" "$@"
