// What the tracker keeps per thread, in the room each thread's allocator cache reserves
// for it (so it is recycled with the cache when the thread exits).
#pragma once
#include "cpu/track_api.h"
#include "prim/defines.h"
#include "track/stack_table.h"
#include "track/unwind.h"

namespace mpshim::track {

namespace profile {
struct Table;
}

struct ThreadState {
  WalkMemo walk;
  WalkCache walks;
  RecentStacks stacks;
  profile::Table* profile;  ///< the thread's table of profile counters (profile.cc)
};

static_assert(sizeof(ThreadState) <= cpu::kTrackerRoomBytes);
static_assert(alignof(ThreadState) <= 64);

/// The calling thread's state; nullptr when it has no allocator cache (it is exiting).
MPSHIM_INLINE ThreadState* thread_state() {
  return reinterpret_cast<ThreadState*>(cpu::tracker_room());
}

}  // namespace mpshim::track
