// Checks the bare-metal run time itself on the emulated board: .data is
// copied, .bss is zeroed, static constructors ran, static objects with a
// destructor link (their registration is a no-op), and on Cortex-M4 the FPU
// is usable. Exits with 0, or with the number of the first failed check.
#include <cstdint>

#include "tools/baremetal/semihost.h"

namespace {

volatile std::int32_t data_value = 42;  // .data
std::int32_t bss_values[8];             // .bss
std::int32_t constructed = 0;

struct Constructed {
  Constructed() { constructed = 7; }
  ~Constructed() { constructed = 0; }  // registered with __aeabi_atexit, never run
};
Constructed constructed_object;

__attribute__((noinline)) float scale(float x, float y) { return x * y + 0.5f; }

}  // namespace

int main() {
  using weft::baremetal::semihost::write0;
  if (data_value != 42) return 1;
  for (std::int32_t v : bss_values)
    if (v != 0) return 2;
  if (constructed != 7) return 3;
  volatile float a = 1.5f, b = 4.0f;
  if (scale(a, b) != 6.5f) return 4;
#if defined(__ARM_FP)
  write0("weft baremetal runtime: ok (hard float)\n");
#else
  write0("weft baremetal runtime: ok (soft float)\n");
#endif
  return 0;
}
