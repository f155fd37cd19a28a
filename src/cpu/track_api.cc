#include "cpu/track_api.h"

#include "cpu/heap.h"
#include "cpu/thread_cache.h"

namespace mpshim::cpu {

static_assert(sizeof(ThreadCache::tracker) == kTrackerRoomBytes);
static_assert(offsetof(ThreadCache, tracker) % 64 == 0);

void release_block(void* start) { free(start); }

}  // namespace mpshim::cpu
