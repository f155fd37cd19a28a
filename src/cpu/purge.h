// Giving free memory back to the OS after MPSHIM_PURGE_DELAY. Passes run on the allocator's
// own slow paths, as jemalloc's and mimalloc's do by default, never on a thread of the
// shim's: an extra thread would make every program multi-threaded, which some cannot be
// (unshare(2) of a user or mount namespace fails then, fork from a signal handler is no
// longer safe, Python warns at fork).
#pragma once
#include <atomic>
#include <cstdint>

namespace mpshim::cpu {

/// Runs a purge pass when memory waits for one and the last pass is old enough. Call with
/// no allocator lock held.
void maybe_purge();
/// Purges now: everything free with `all`, else what is older than the delay.
void purge_now(bool all);
void purge_after_fork_child();

/// Bumped by each purge pass: a thread whose cache saw an older value empties it at its
/// next slow path, so blocks cached by a thread do not keep whole pages resident.
extern std::atomic<uint32_t> g_flush_epoch;

}  // namespace mpshim::cpu
