// Process-wide allocator settings and counters shared by the cpu layer's files.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "cpu/stats.h"

namespace mpshim::cpu {

struct Settings {
  bool tags = false;             ///< per-block tags for the tracker
  uint32_t purge_delay_ms = 500; ///< delay before free memory goes back to the OS
  size_t large_cache = 64u << 20;
  size_t thread_cache = 1u << 20;
};
extern Settings g_settings;

/// Counters merged from threads (relaxed atomics) and kept by the shared pools.
struct Counters {
  std::atomic<int64_t> allocated;
  std::atomic<uint64_t> peak;
  std::atomic<uint64_t> reserved;
  std::atomic<uint64_t> peak_reserved;
  std::atomic<uint64_t> purged;
  std::atomic<uint64_t> large_mallocs;
  std::atomic<uint64_t> large_cache_hits;
  std::atomic<uint64_t> large_frees;
  std::atomic<uint64_t> foreign_frees;
  std::atomic<uint64_t> threads;
  std::atomic<uint64_t> class_allocs[kStatClasses];
  std::atomic<uint64_t> class_frees[kStatClasses];
};
extern Counters g_counters;

/// Adds `delta` bytes to the live total and raises the peak.
void add_allocated(int64_t delta);
/// Adds `delta` bytes to the OS-reserved total and raises its peak.
void add_reserved(int64_t delta);

/// Wakes (starting it if needed) the thread that returns free memory after the delay.
void request_purge();

}  // namespace mpshim::cpu
