// Guarded blocks of the memory-error checks: a block alone at the end of its own pages,
// between two inaccessible guard pages, whose pages become inaccessible when it is freed
// (and stay so for a while). An overflow or a use after free then faults at the access
// itself. MPSHIM_CHECK=sample places one allocation in MPSHIM_SAMPLE_RATE so (at most
// MPSHIM_SAMPLE_SLOTS live or freed at once); full places every block above
// MPSHIM_GUARD_SIZE so.
#pragma once
#include <cstddef>
#include <cstdint>

#include "track/memcheck.h"

namespace mpshim::track {

/// Limits: at most `slots` blocks live or freed at once (0: no limit), at most
/// `freed_bytes` of freed ones kept inaccessible.
void guarded_init(size_t slots, uint64_t freed_bytes);
/// Frees `p` when it lies in a guarded block (reporting bad, double and mismatched frees,
/// a sized delete's other size and a changed tail); false when it does not.
bool guarded_free(void* p, Dealloc how, const char* call, uint64_t sized = kAnySize);
/// The live guarded block starting at `p`: its size; false when none.
bool guarded_size(const void* p, uint64_t* size);
/// At exit: verifies the slack around every live guarded block (reported as found at exit).
void guarded_verify_all();
/// The records' mapping (never a root of the leak scan).
void guarded_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);
/// Holds the guarded blocks' lock around a leak check (taken before the foreign records'
/// and the allocator's, as at fork).
void guarded_lock();
void guarded_unlock();
/// With guarded_lock held: true when `addr` is the end of a guarded block's upper guard
/// page (or of a kept mapping's, full mode's spares) or the start of its pages (above its
/// lower one), so that the mapping starting there is not taken for a thread stack above
/// its guard page.
bool follows_guard_page(uintptr_t addr);
void guarded_before_fork();
void guarded_after_fork_parent();
void guarded_after_fork_child();

}  // namespace mpshim::track
