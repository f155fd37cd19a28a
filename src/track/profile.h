// The allocation profile (MPSHIM_PROFILE): per stack and memory kind, allocations, bytes,
// temporary allocations, bytes live at the peak and at exit; process totals with their
// peaks; a timeline of host and device bytes. Updated by the tracker on every tracked
// allocation and free while it is on; src/report writes it out at exit.
//
// Host memory is the host allocator's blocks plus pinned host memory from CUDA; device
// memory is device and managed memory. Blocks allocated inside the shim (internal tags)
// are left out.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::track::profile {

/// True when MPSHIM_PROFILE is set and tracking is on (set once by init()).
extern bool g_on;
MPSHIM_INLINE bool on() { return g_on; }

/// Memory kinds of the profile.
enum Side : int { kHost = 0, kDevice = 1 };

/// Starts recording (maps the site directory and the timeline). Called by track::init()
/// when tracking is on; does nothing unless MPSHIM_PROFILE is set.
void init();

/// A block of `size` bytes at `p` with stack `stack` was allocated / is being freed.
void on_alloc(Side side, uint32_t stack, uint64_t size, uintptr_t p);
void on_free(Side side, uint32_t stack, uint64_t size, uintptr_t p);

/// Device memory reserved from the driver now (the CUDA cache's segments); without it the
/// timeline's reserved column follows the allocated bytes.
void set_device_reserved(uint64_t bytes);

/// Counters of one (stack, memory kind).
struct alignas(64) Site {  // a cache line each: threads at different sites share none
  std::atomic<uint64_t> allocs, bytes, temps;
  std::atomic<int64_t> live;  ///< bytes live now
  std::atomic<int64_t> snap;  ///< live at the peak of generation `gen`, saved lazily
  std::atomic<uint32_t> gen;
};

/// What the report reads of one site.
struct SiteFigures {
  uint64_t allocs, bytes, temps;
  int64_t peak;  ///< bytes live at this side's peak
  int64_t live;  ///< bytes live now (at exit)
};

/// Process totals of one side.
struct Totals {
  uint64_t allocs, bytes, temps;
  int64_t live, peak;
  uint64_t peak_time_ns;  ///< since the profile started
  uint64_t peak_reserved;  ///< device: highest reserved figure seen; host: highest resident
};

/// One timeline sample. Once the timeline has been merged, a sample stands for an interval
/// and holds the highest value of each column over it.
struct Sample {
  uint64_t time_ns;  ///< since the profile started
  uint64_t host, host_resident, device, device_reserved;
};

/// Takes a last sample (the state at exit).
void finish();
/// Totals of one side.
Totals totals(Side side);
/// Calls fn for every stack with at least one allocation on `side`.
void for_each_site(Side side, void (*fn)(uint32_t stack, const SiteFigures& f, void* ctx), void* ctx);
/// The timeline, oldest first; valid until the next allocation.
size_t timeline(const Sample** out);
/// The sampling interval now (10 ms, doubled by every merge of the timeline).
uint64_t interval_ns();
/// Nanoseconds since the profile started.
uint64_t elapsed_ns();

/// Calls fn for each of the profile's mappings (they hold counters and stack ids, never a
/// program's pointer: the leak scan skips them).
void for_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// In a forked child: the timeline's lock is free.
void after_fork_child();

/// Tests: forgets everything and starts again (sites and timeline unmapped), limiting the
/// timeline to `max_samples` (0: the default).
void reset_for_test(size_t max_samples);

}  // namespace mpshim::track::profile
