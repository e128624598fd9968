// -----------------------------------------------------------------------------
// File: tools/baremetal/semihost.h
// -----------------------------------------------------------------------------
//
// ARM semihosting for bare-metal Cortex-M programs: the debugger (here:
// qemu-system-arm with `-semihosting-config enable=on,target=native`) performs
// the operation on the program's behalf. No newlib stdio, no heap.
//
//   weft::baremetal::semihost::write0("hello\n");   // qemu prints it on stderr
//   weft::baremetal::semihost::exit(0);              // qemu exits with status 0
//
// Thumb calling convention: `bkpt 0xAB`, r0 = operation, r1 = argument, result
// in r0. Without a debugger attached, `bkpt` is a fault: only run these
// programs under qemu (or a probe with semihosting enabled).
#ifndef WEFT_TOOLS_BAREMETAL_SEMIHOST_H_
#define WEFT_TOOLS_BAREMETAL_SEMIHOST_H_

#include <cstdint>

namespace weft::baremetal::semihost {

inline int call(int op, const void* arg) noexcept {
  register int r0 asm("r0") = op;
  register const void* r1 asm("r1") = arg;
  asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

// SYS_WRITE0: writes a NUL-terminated string to the debug console.
inline void write0(const char* s) noexcept { call(0x04, s); }

// Writes `v` in decimal (no printf: it would pull in newlib's malloc).
inline void write_int(std::int32_t v) noexcept {
  char buf[12];
  char* p = buf + sizeof(buf);
  *--p = '\0';
  std::uint32_t u = v < 0 ? 0u - static_cast<std::uint32_t>(v) : static_cast<std::uint32_t>(v);
  do {
    *--p = static_cast<char>('0' + u % 10);
    u /= 10;
  } while (u != 0);
  if (v < 0) *--p = '-';
  write0(p);
}

// Ends the program; qemu exits with `code` as its status.
[[noreturn]] inline void exit(int code) noexcept {
  // SYS_EXIT_EXTENDED (0x20) with ADP_Stopped_ApplicationExit carries the code.
  const std::uint32_t block[2] = {0x20026u, static_cast<std::uint32_t>(code)};
  call(0x20, block);
  // Fallback for hosts without the extended call: SYS_EXIT (0x18) says
  // "application exit" without a code.
  call(0x18, reinterpret_cast<const void*>(0x20026u));
  for (;;) {
  }
}

}  // namespace weft::baremetal::semihost

#endif  // WEFT_TOOLS_BAREMETAL_SEMIHOST_H_
