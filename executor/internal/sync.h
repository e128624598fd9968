// -----------------------------------------------------------------------------
// File: executor/internal/sync.h
// -----------------------------------------------------------------------------
//
// `executor/`'s spelling of the shared sync shim (tools/base/sync.h, the one
// place weft takes atomics and locks from). Both spellings work:
//
//   executor_internal::Atomic<T>         = std::atomic<T>
//   executor_internal::sync::Atomic<T>   (the same)
//
// Freestanding (the hosted part exists only where threads do).
#ifndef WEFT_EXECUTOR_INTERNAL_SYNC_H_
#define WEFT_EXECUTOR_INTERNAL_SYNC_H_

#include "tools/base/sync.h"

namespace weft::executor_internal {

namespace sync = ::weft::sync;

using sync::Atomic;
using sync::spin_hint;
#if WEFT_SYNC_HOSTED
using sync::Lock;
using sync::Mutex;
using sync::SpinLock;
using sync::UniqueLock;
using sync::yield_thread;
#endif

}  // namespace weft::executor_internal

#endif  // WEFT_EXECUTOR_INTERNAL_SYNC_H_
