// The process's CUDA caching allocator (cuda/cache.h on the real driver), behind plain
// functions, so that one file holds the template's instantiation (a test library builds
// that file again with the quarantine turned off).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/stats.h"
#include "cuda/types.h"

namespace mpshim::entry::cuda {

using namespace mpshim::cuda;

enum class Freed { Yes, NotOurs, Invalid };

/// Applies MPSHIM_CUDA_MAX_SPLIT / MPSHIM_CUDA_MAX_CACHED.
void cache_configure(uint64_t max_split, uint64_t max_cached);
Result cache_alloc(Context ctx, Device dev, size_t size, DevPtr* out);
/// The requested size of the freed block goes to `*size`.
Freed cache_free(DevPtr p, size_t* size);
void cache_capture_begin();
void cache_capture_end();
/// Gives unused cached segments of `ctx` (nullptr: all) back to the driver.
void cache_release(Context ctx);
/// Forgets the context's blocks; gives its cached segments back first when `alive`.
void cache_drop_context(Context ctx, bool alive);
uint64_t cache_releasable(Context ctx);
/// The cache's metadata and segments, which the leak scan must not read.
void cache_internal_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* arg), void* arg);
/// Calls fn for each device and pool kind the cache has served.
void cache_for_each_pool(void (*fn)(Device, PoolKind, const PoolStats&, void*), void* arg);
void cache_reset_peaks();
/// fork's handlers: hold the cache's lock across fork (none in a single-threaded process).
void cache_lock();
void cache_unlock();

}  // namespace mpshim::entry::cuda
