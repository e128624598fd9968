// -----------------------------------------------------------------------------
// File: tools/baremetal/startup.cc
// -----------------------------------------------------------------------------
//
// The smallest run time a weft program needs on a Cortex-M3/M4 without an OS:
// the vector table, Reset_Handler (enable the FPU on hard-float builds, copy
// .data from flash, zero .bss, run the static constructors, call main, report
// main's result through semihosting), fault handlers that report and exit
// instead of hanging, and the two C++ ABI hooks that freestanding code may
// reference. Linked by //tools/baremetal:runtime together with link.ld.
//
// Handlers are weak: a program overrides one by defining it, e.g.
//   extern "C" void SysTick_Handler() { ... }
//
// No heap, no exceptions, no RTTI, no newlib stdio.
#include <cstdint>

#include "tools/baremetal/semihost.h"

int main();

extern "C" {

// From link.ld.
extern std::uint32_t _sidata[], _sdata[], _edata[], _sbss[], _ebss[], _estack[];
extern void (*__preinit_array_start[])();
extern void (*__preinit_array_end[])();
extern void (*__init_array_start[])();
extern void (*__init_array_end[])();

[[noreturn]] void Reset_Handler();
void Default_Handler();

#define WEFT_WEAK_HANDLER(name) void name() __attribute__((weak, alias("Default_Handler")))
WEFT_WEAK_HANDLER(NMI_Handler);
WEFT_WEAK_HANDLER(HardFault_Handler);
WEFT_WEAK_HANDLER(MemManage_Handler);
WEFT_WEAK_HANDLER(BusFault_Handler);
WEFT_WEAK_HANDLER(UsageFault_Handler);
WEFT_WEAK_HANDLER(SVC_Handler);
WEFT_WEAK_HANDLER(DebugMon_Handler);
WEFT_WEAK_HANDLER(PendSV_Handler);
WEFT_WEAK_HANDLER(SysTick_Handler);
#undef WEFT_WEAK_HANDLER

// External interrupts: a program that uses the board's interrupt n defines
// IRQn_Handler (numbers are the board's; see its manual).
#define WEFT_WEAK_IRQ(n) void IRQ##n##_Handler() __attribute__((weak, alias("Default_Handler")))
WEFT_WEAK_IRQ(0);
WEFT_WEAK_IRQ(1);
WEFT_WEAK_IRQ(2);
WEFT_WEAK_IRQ(3);
WEFT_WEAK_IRQ(4);
WEFT_WEAK_IRQ(5);
WEFT_WEAK_IRQ(6);
WEFT_WEAK_IRQ(7);
WEFT_WEAK_IRQ(8);
WEFT_WEAK_IRQ(9);
WEFT_WEAK_IRQ(10);
WEFT_WEAK_IRQ(11);
WEFT_WEAK_IRQ(12);
WEFT_WEAK_IRQ(13);
WEFT_WEAK_IRQ(14);
WEFT_WEAK_IRQ(15);
WEFT_WEAK_IRQ(16);
WEFT_WEAK_IRQ(17);
WEFT_WEAK_IRQ(18);
WEFT_WEAK_IRQ(19);
WEFT_WEAK_IRQ(20);
WEFT_WEAK_IRQ(21);
WEFT_WEAK_IRQ(22);
WEFT_WEAK_IRQ(23);
WEFT_WEAK_IRQ(24);
WEFT_WEAK_IRQ(25);
WEFT_WEAK_IRQ(26);
WEFT_WEAK_IRQ(27);
WEFT_WEAK_IRQ(28);
WEFT_WEAK_IRQ(29);
WEFT_WEAK_IRQ(30);
WEFT_WEAK_IRQ(31);
#undef WEFT_WEAK_IRQ

// The vector table: initial stack pointer, 15 system exceptions, then the
// board's first 32 interrupts (the MPS2 boards have 32).
using Vector = void (*)();
__attribute__((section(".isr_vector"), used)) const Vector weft_vector_table[16 + 32] = {
    reinterpret_cast<Vector>(_estack),
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    SVC_Handler,
    DebugMon_Handler,
    nullptr,
    PendSV_Handler,
    SysTick_Handler,
    IRQ0_Handler,  IRQ1_Handler,  IRQ2_Handler,  IRQ3_Handler,  IRQ4_Handler,  IRQ5_Handler,
    IRQ6_Handler,  IRQ7_Handler,  IRQ8_Handler,  IRQ9_Handler,  IRQ10_Handler, IRQ11_Handler,
    IRQ12_Handler, IRQ13_Handler, IRQ14_Handler, IRQ15_Handler, IRQ16_Handler, IRQ17_Handler,
    IRQ18_Handler, IRQ19_Handler, IRQ20_Handler, IRQ21_Handler, IRQ22_Handler, IRQ23_Handler,
    IRQ24_Handler, IRQ25_Handler, IRQ26_Handler, IRQ27_Handler, IRQ28_Handler, IRQ29_Handler,
    IRQ30_Handler, IRQ31_Handler,
};

// An exception nobody handles (a fault, __builtin_trap, a stray interrupt):
// say which one and exit with 128 + its number (HardFault: 131), so a test
// fails at once instead of hanging until Bazel's timeout.
void Default_Handler() {
  std::uint32_t ipsr;
  asm volatile("mrs %0, ipsr" : "=r"(ipsr));
  const auto n = static_cast<std::int32_t>(ipsr & 0x1FFu);
  weft::baremetal::semihost::write0("weft baremetal: unhandled exception ");
  weft::baremetal::semihost::write_int(n);
  weft::baremetal::semihost::write0(n == 3 ? " (HardFault: a fault or a trap)\n" : "\n");
  weft::baremetal::semihost::exit(128 + n);
}

// C++ ABI hooks that the freestanding core may reference.
//
// __aeabi_atexit: the compiler registers the destructor of every static object
// with a non-trivial destructor (e.g. weft's constinit noop Waker). A device
// never returns from main, and here main's return ends the program through
// semihosting, so destructors of static objects never run: registering is a
// no-op. Without this, the registration would pull newlib's atexit table in.
//
// __cxa_pure_virtual: the slot of a pure virtual function in a vtable. Calling
// it is a bug; trap (it reports as a HardFault).
//
// __dso_handle: identifies the "module" in those registrations.
__attribute__((visibility("hidden"))) void* __dso_handle = nullptr;

int __aeabi_atexit(void*, void (*)(void*), void*) { return 0; }

[[noreturn]] void __cxa_pure_virtual() { __builtin_trap(); }

// Kept apart from Reset_Handler so that nothing in it can use the FPU before
// Reset_Handler has enabled it. The copy loops must not become memcpy/memset
// calls.
[[noreturn]] __attribute__((noinline, optimize("no-tree-loop-distribute-patterns"))) static void
start() {
  const std::uint32_t* src = _sidata;
  for (std::uint32_t* dst = _sdata; dst < _edata;) *dst++ = *src++;
  for (std::uint32_t* dst = _sbss; dst < _ebss;) *dst++ = 0;
  for (auto* f = __preinit_array_start; f < __preinit_array_end; ++f) (*f)();
  for (auto* f = __init_array_start; f < __init_array_end; ++f) (*f)();
  weft::baremetal::semihost::exit(main());
}

void Reset_Handler() {
#if defined(__ARM_FP)
  // Hard-float builds (Cortex-M4): full access to CP10 and CP11 (the FPU) in
  // CPACR before any floating-point instruction runs.
  *reinterpret_cast<volatile std::uint32_t*>(0xE000ED88u) |= 0xFu << 20;
  asm volatile("dsb\n\tisb" ::: "memory");
#endif
  start();
}

}  // extern "C"
