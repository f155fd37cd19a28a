// Allocation statistics: one field list, per-thread counters merged with relaxed atomics.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::cpu {

/// Number of size classes (see size_class.h); class 0 is unused, the last entry counts
/// large blocks.
constexpr size_t kStatClasses = 72;

// X(field, description)
#define MPSHIM_STATS(X)                                            \
  X(allocated, "bytes in live blocks (usable size)")               \
  X(peak, "highest value of allocated")                            \
  X(reserved, "bytes mapped from the OS and not returned")         \
  X(peak_reserved, "highest value of reserved")                    \
  X(mallocs, "allocations")                                        \
  X(frees, "frees")                                                \
  X(large_mallocs, "blocks mapped one by one (> 1 MiB)")            \
  X(large_cache_hits, "large blocks served from the large cache")  \
  X(purged, "bytes given back to the OS")                          \
  X(foreign_frees, "frees of pointers the allocator did not own")  \
  X(threads, "threads that used the allocator")

/// A snapshot of the process-wide statistics.
struct Stats {
#define MPSHIM_STAT_FIELD(f, d) uint64_t f;
  MPSHIM_STATS(MPSHIM_STAT_FIELD)
#undef MPSHIM_STAT_FIELD
  uint64_t class_size[kStatClasses];   ///< block size of each class (0 past the last)
  uint64_t class_count[kStatClasses];  ///< allocations per class
  uint64_t class_live[kStatClasses];   ///< live blocks per class
};

/// Fills `out` with current totals (walks live thread caches; approximate while threads run).
void snapshot(Stats* out);

}  // namespace mpshim::cpu
