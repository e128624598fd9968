// -----------------------------------------------------------------------------
// File: pin/testing/read_line.h
// -----------------------------------------------------------------------------
//
// `ReadLine`, the self-referential state machine of pin/pin.h's "Why pinning
// exists", as a test double: a buffer plus a `std::string_view` into that
// buffer. Immovable (copy and move deleted), like a coroutine frame. It
// records the address its constructor saw and counts its destructions, so a
// test can tell whether it was built in place and destroyed exactly once.
// Test-only; no allocation.
#ifndef WEFT_PIN_TESTING_READ_LINE_H_
#define WEFT_PIN_TESTING_READ_LINE_H_

#include <cstddef>
#include <string_view>

namespace weft::pin_testing {

struct ReadLine {
  // Copies `text` into `buf` and views its first line (up to '\n').
  explicit ReadLine(const char* text, int* destructions = nullptr) noexcept
      : constructed_at(this), destructions(destructions) {
    std::size_t n = 0;
    while (text[n] != '\0' && n + 1 < sizeof(buf)) {
      buf[n] = text[n];
      ++n;
    }
    std::size_t end = 0;
    while (end < n && buf[end] != '\n') ++end;
    line = std::string_view(buf, end);
  }
  ReadLine(const ReadLine&) = delete;
  ReadLine& operator=(const ReadLine&) = delete;
  ~ReadLine() {
    if (destructions != nullptr) ++*destructions;
  }

  // True when `line` still points into this object's own `buf` and the object
  // lives where its constructor ran.
  bool self_consistent() const noexcept { return line.data() == buf && constructed_at == this; }

  char buf[64] = {};
  std::string_view line;            // a view into `buf`: the self-reference
  const ReadLine* constructed_at;   // `this` as seen by the constructor
  int* destructions;                // incremented by the destructor if non-null
};

}  // namespace weft::pin_testing

#endif  // WEFT_PIN_TESTING_READ_LINE_H_
