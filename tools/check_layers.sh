#!/usr/bin/env bash
# Asserts the layering of ../shared/docs/DESIGN.md with `bazel query`:
# nothing points up the diagram, and the freestanding core does not depend on
# any system library (Abseil, liburing, protobuf, ...).
#
#   services   ->  reactor  ->  executor, channels  ->  future  ->  pin  ->  iter  ->  tools/base
#
# executor and channels sit side by side; their *tests* may use each other
# (channel stress tests run on the executors), their libraries may not.
# Run: tools/check_layers.sh   (exit 0 = layering holds)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

BAZEL="${BAZEL:-./bazelw}"
fail=0
checks=0

# A query that fails must fail the check, not read as "no violations".
q() {
  local out rc
  out="$("$BAZEL" query --noshow_progress "$1" 2>/tmp/check_layers.err)"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "QUERY FAILED (rc=$rc): $1" >&2
    cat /tmp/check_layers.err >&2
    echo "__query_failed__"
    return
  fi
  echo "$out"
}

# forbid <description> <query that must be empty>
forbid() {
  checks=$((checks + 1))
  local out
  out="$(q "$2")"
  if [ -n "$out" ]; then
    echo "LAYERING VIOLATION: $1"
    echo "$out" | sed 's/^/    /'
    fail=1
  fi
}

existing() {  # the component folders that have a BUILD file
  for c in "$@"; do [ -f "$c/BUILD" ] && printf '//%s/... ' "$c"; done
}

above() {  # set expression for the packages above a layer (empty set if none exist)
  local set
  set="$(existing "$@")"
  if [ -z "$set" ]; then echo "set()"; else echo "set($set)"; fi
}

layer() {  # layer <component> <components above it...>
  local c="$1"
  shift
  [ -f "$c/BUILD" ] || return 0
  forbid "//$c depends on a layer above it ($*)" \
    "deps(//$c/...) intersect $(above "$@")"
}

layer tools/base iter pin future executor channels reactor services
layer iter pin future executor channels reactor services
layer pin future executor channels reactor services
layer future executor channels reactor services
layer executor reactor services
layer channels reactor services
layer reactor services

# Side by side: libraries (not tests or testonly helpers) must not cross.
if [ -f executor/BUILD ] && [ -f channels/BUILD ]; then
  forbid "an executor library depends on channels" \
    "deps(attr(testonly, 0, kind('cc_library', //executor/...))) intersect //channels/..."
  forbid "a channels library depends on executor" \
    "deps(attr(testonly, 0, kind('cc_library', //channels/...))) intersect //executor/..."
fi

# The freestanding core: no system library (Abseil, protobuf, liburing, gtest).
forbid "a freestanding library depends on a system library" \
  "deps(attr(tags, 'freestanding', attr(testonly, 0, kind('cc_library', //...)))) intersect (//tools/third_party/... + @googletest_src//:all)"

# The bare-metal run time (vector table, Reset_Handler, linker script) belongs in
# bare-metal binaries only. A library that depended on it would also be skipped
# silently in every hosted build (it is incompatible there).
forbid "a library depends on the bare-metal run time (link it into binaries only)" \
  "deps(kind('cc_library', //... except //tools/baremetal/...)) intersect //tools/baremetal/..."

# Test-only code never reaches a library users can depend on.
forbid "a public library depends on test-only code" \
  "deps(attr(testonly, 0, kind('cc_library', //...))) intersect attr(testonly, 1, //...)"

if [ "$fail" -eq 0 ]; then
  echo "check_layers: $checks checks, layering holds"
fi
exit "$fail"
