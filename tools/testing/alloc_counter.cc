#include "tools/testing/alloc_counter.h"

#include <cstdlib>
#include <new>

namespace weft::testing {
namespace {

thread_local std::uint64_t tl_allocations = 0;
thread_local std::uint64_t tl_bytes = 0;

void* counted_alloc(std::size_t n, std::size_t align) {
  tl_allocations += 1;
  tl_bytes += n;
  if (n == 0) n = 1;
  void* p = nullptr;
  if (align <= alignof(std::max_align_t)) {
    p = std::malloc(n);
  } else {
    n = (n + align - 1) / align * align;
    p = std::aligned_alloc(align, n);
  }
  return p;
}

}  // namespace

std::uint64_t thread_allocations() noexcept { return tl_allocations; }
std::uint64_t thread_allocated_bytes() noexcept { return tl_bytes; }

bool counting_active() noexcept {
  const std::uint64_t before = tl_allocations;
  // A volatile pointer keeps the compiler from eliding the new/delete pair.
  int* volatile p = new (std::nothrow) int(1);
  delete p;
  return tl_allocations != before;
}

}  // namespace weft::testing

// Replacements of the global allocation functions ([new.delete]). The
// nothrow and array forms forward here by default in libstdc++ only for some
// overloads, so all are replaced.
namespace {
[[noreturn]] void out_of_memory() {
#if defined(__cpp_exceptions)
  throw std::bad_alloc();
#else
  std::abort();
#endif
}
void* must(void* p) {
  if (p == nullptr) out_of_memory();
  return p;
}
}  // namespace

void* operator new(std::size_t n) { return must(weft::testing::counted_alloc(n, 0)); }
void* operator new[](std::size_t n) { return must(weft::testing::counted_alloc(n, 0)); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return weft::testing::counted_alloc(n, 0);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return weft::testing::counted_alloc(n, 0);
}
void* operator new(std::size_t n, std::align_val_t a) {
  return must(weft::testing::counted_alloc(n, static_cast<std::size_t>(a)));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return must(weft::testing::counted_alloc(n, static_cast<std::size_t>(a)));
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
