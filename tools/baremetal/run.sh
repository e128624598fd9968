#!/usr/bin/env bash
# Runs weft's bare-metal Cortex-M programs, and checks that they have no heap.
#
#   run.sh <qemu machine> <program> [args...]   `test:cortex_m --run_under` (via
#                                               //tools/baremetal:qemu): an ARM ELF
#                                               is checked for heap symbols, then
#                                               run under qemu-system-arm; anything
#                                               else (a shell test) runs as it is
#   run.sh --no-heap <elf>...                   only the check (baremetal_no_heap_test)
#
# The program reports through semihosting and its exit status is qemu's.
#
# The no-heap check fails if the linked ELF holds any of:
#   malloc & co., _sbrk           newlib's heap
#   _Znw* _Zna* _Zdl* _Zda*       global operator new / new[] / delete / delete[]
#   __cxa_*                       C++ run-time support (exceptions, guards, atexit,
#                                 ...), except __cxa_pure_virtual, which
#                                 tools/baremetal/startup.cc defines as a trap
#   _Unwind_* __gxx_personality* __aeabi_unwind_cpp_pr*   the unwinder (exceptions)
#   _ZTI*                         typeinfo objects (RTTI)
# (__aeabi_atexit is allowed: startup.cc defines it as a no-op; see there.)
set -euo pipefail

NM=/usr/bin/arm-none-eabi-nm
CXXFILT=/usr/bin/arm-none-eabi-c++filt

forbidden_re='^(_?malloc|_?calloc|_?realloc|_?free|_malloc_r|_calloc_r|_realloc_r|_free_r|_?memalign|_memalign_r|aligned_alloc|posix_memalign|_?valloc|_?pvalloc|_mallinfo_r|mallinfo|__malloc_.*|_?sbrk|_sbrk_r|_Zn[wa].*|_Zd[la].*|__cxa_.*|_Unwind_.*|__gnu_Unwind_.*|__gxx_personality.*|__aeabi_unwind_cpp_pr.*|_ZTI.*)$'
allowed_re='^(__cxa_pure_virtual)$'

no_heap() {  # no_heap <elf>: 0 if clean
  local elf="$1" syms
  syms="$("$NM" "$elf" | awk '{print $NF}' | grep -E "$forbidden_re" | grep -vE "$allowed_re" | sort -u || true)"
  if [ -n "$syms" ]; then
    echo "no-heap check FAILED for $elf: heap, exception or RTTI symbols are linked in:" >&2
    while read -r s; do echo "    $s    ($("$CXXFILT" "$s"))" >&2; done <<<"$syms"
    echo "  (find who pulls one in: add linkopts = [\"-Wl,--trace-symbol=<name>\"] to the binary)" >&2
    return 1
  fi
  return 0
}

is_arm_elf() {  # 32-bit little-endian ELF with e_machine = 0x28 (EM_ARM)
  [ "$(od -An -tx1 -N6 "$1" 2>/dev/null | tr -d ' \n' || true)" = "7f454c460101" ] &&
    [ "$(od -An -tx1 -j18 -N2 "$1" 2>/dev/null | tr -d ' \n' || true)" = "2800" ]
}

if [ "${1:-}" = "--no-heap" ]; then
  shift
  [ $# -gt 0 ] || { echo "usage: run.sh --no-heap <elf>..." >&2; exit 2; }
  rc=0
  for elf in "$@"; do
    if no_heap "$elf"; then echo "no-heap check passed: $elf"; else rc=1; fi
  done
  exit $rc
fi

[ $# -ge 2 ] || { echo "usage: run.sh <qemu machine> <program> [args...]" >&2; exit 2; }
machine="$1"
prog="$2"
shift 2
if ! is_arm_elf "$prog"; then
  exec "$prog" "$@"
fi
no_heap "$prog"
echo "run.sh: no-heap check passed; running on qemu-system-arm -M $machine" >&2
if [ $# -gt 0 ]; then
  echo "run.sh: ignoring arguments for a bare-metal program: $*" >&2
fi
exec /usr/bin/qemu-system-arm -M "$machine" -nographic -monitor none -serial none \
  -semihosting-config enable=on,target=native -kernel "$prog"
