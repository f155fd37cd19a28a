// Statistics of the CUDA caching core: one field list, per device and pool kind. Updated
// under the cache's lock, so plain integers.
#pragma once
#include <cstdint>

namespace mpshim::cuda {

/// The two pools of a context: requests up to 1 MiB (2 MiB segments) and the rest.
enum class PoolKind : uint8_t { Small = 0, Large = 1 };
constexpr unsigned kPoolKinds = 2;

// X(field, description). Byte counts are of rounded block sizes. Fences, waits and
// retries count on the pool of the request that needed them (the large pool for
// release()).
#define MPSHIM_CUDA_POOL_STATS(X)                                              \
  X(allocated, "bytes in live blocks")                                         \
  X(peak_allocated, "highest value of allocated")                              \
  X(reserved, "bytes of segments from the driver")                             \
  X(peak_reserved, "highest value of reserved")                                \
  X(active, "bytes in live or quarantined blocks")                             \
  X(peak_active, "highest value of active")                                    \
  X(driver_allocs, "segments allocated from the driver")                       \
  X(driver_frees, "segments given back to the driver")                         \
  X(hits, "allocations served from cached blocks")                             \
  X(misses, "allocations that needed a new segment")                           \
  X(fences, "fences recorded, each sealing a context's quarantine")           \
  X(syncs, "waits: event or context synchronisations")                         \
  X(oom_retries, "driver out-of-memory errors retried after releasing cache")

/// Counters of one pool kind of one device.
struct PoolStats {
#define MPSHIM_CUDA_STAT_FIELD(f, d) uint64_t f = 0;
  MPSHIM_CUDA_POOL_STATS(MPSHIM_CUDA_STAT_FIELD)
#undef MPSHIM_CUDA_STAT_FIELD
};

/// Counters of the driver hooks themselves (the entry layer's), beside the pools'.
struct HookStats {
  uint64_t streams_created, streams_destroyed, captures, contexts_created, contexts_destroyed;
  uint64_t async_allocs;   ///< stream-ordered allocations passed to the driver
  uint64_t host_allocs;    ///< pinned host allocations
  uint64_t managed_allocs;
  uint64_t passed_frees;   ///< cuMemFree of blocks the cache does not own
  uint64_t invalid_frees;  ///< cuMemFree inside a cached segment but not of a live block
};

}  // namespace mpshim::cuda
