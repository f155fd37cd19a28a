// Threads hold still while a leak check collects and classifies the blocks. A thread that
// allocates from its own cache and frees into it takes none of the allocator's locks, so
// the check's locks do not stop it: a block it freed meanwhile would be reported as lost
// (the pointers to it gone, its tag read before), and a pointer it moved into a new block
// would be missed. Every path that writes a block's tag passes hold_still() first.
#pragma once
#include <atomic>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::track {

/// Non-zero while a check collects and classifies (set and cleared by the check).
extern std::atomic<uint32_t> g_hold;
/// Waits until the check in progress has classified the blocks (returns at once on the
/// thread that runs it).
MPSHIM_NOINLINE void wait_for_check();

MPSHIM_INLINE void hold_still() {
  if (MPSHIM_UNLIKELY(g_hold.load(std::memory_order_relaxed) != 0)) wait_for_check();
}

}  // namespace mpshim::track
