// What the tracker keeps per thread, in the room each thread's allocator cache reserves
// for it (so it is recycled with the cache when the thread exits).
#pragma once
#include "cpu/thread_cache.h"
#include "track/stack_table.h"
#include "track/unwind.h"

namespace mpshim::track {

struct ThreadState {
  WalkMemo walk;
  RecentStacks stacks;
};

static_assert(sizeof(ThreadState) <= sizeof(cpu::ThreadCache::tracker));
static_assert(alignof(ThreadState) <= 64);

/// The calling thread's state; nullptr when it has no allocator cache (it is exiting).
MPSHIM_INLINE ThreadState* thread_state() {
  cpu::ThreadCache* tc = cpu::t_cache;
  return tc != nullptr ? reinterpret_cast<ThreadState*>(tc->tracker) : nullptr;
}

}  // namespace mpshim::track
