// Giving free memory back to the OS after MPSHIM_PURGE_DELAY: a background thread, started
// the first time something waits to be purged, so that RSS falls even when the program
// stops calling the allocator after a peak.
#pragma once
#include <atomic>
#include <cstdint>

namespace mpshim::cpu {

/// Starts or wakes the purge thread if memory waits for it. Call with no allocator lock held.
void maybe_start_purger();
/// Purges now: everything free with `all`, else what is older than the delay.
void purge_now(bool all);
void purger_after_fork_child();
/// The purge thread's stack, [lo, hi); hi is 0 before the thread first started.
void purger_stack(uintptr_t* lo, uintptr_t* hi);

/// Bumped by each purge pass: a thread whose cache saw an older value empties it at its
/// next slow path, so blocks cached by a thread do not keep whole pages resident.
extern std::atomic<uint32_t> g_flush_epoch;

}  // namespace mpshim::cpu
