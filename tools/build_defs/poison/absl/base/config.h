// Every Abseil header includes this one. The freestanding checks put this
// directory first on the include path, so any Abseil include in the
// freestanding core fails to compile with the message below.
#error "weft: Abseil is not allowed in the freestanding core (iter, pin, future, executor:static, static channels)"
