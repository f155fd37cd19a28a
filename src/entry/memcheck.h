// The memory-error checks' glue (MPSHIM_CHECK other than off): the checked allocation,
// free and realloc paths the exported functions branch to, the SIGSEGV handler of guard
// pages, and what an error does (MPSHIM_ON_ERROR).
#pragma once
#include <cstddef>

#include "prim/defines.h"
#include "track/memcheck.h"

namespace mpshim::entry {

/// Allocation, free and realloc under the checks (tracking on, host allocator on).
MPSHIM_NOINLINE void* alloc_checked(size_t size, size_t align, track::Kind kind);
MPSHIM_NOINLINE void* calloc_checked(size_t n, size_t size);
MPSHIM_NOINLINE void free_checked(void* p, track::Dealloc how, uint64_t sized);
/// realloc's checked path: every realloc under the checks but that of an unsampled block
/// staying unsampled (sample mode), which the caller makes as tracking alone.
MPSHIM_NOINLINE void* realloc_checked(void* p, size_t size);

/// Start-up, after the tracker's: the error sink and, when guard pages are used, the
/// SIGSEGV handler (only while the program leaves SIGSEGV at its default).
void check_init();

/// Reports a memory error found by any hook (the CUDA hooks' device misuse included):
/// fill `e` (kind, addr, call, mem, and the block when known: track::recall_freed gives a
/// freed one's history); the calling thread's stack becomes the access stack when `e` has
/// none. Writes the report where reports go and counts it; returns when the program is to
/// go on (MPSHIM_ON_ERROR=report), aborts otherwise.
void report_memory_error(const track::MemError& e);

/// At exit, before the leak report: verifies every live and quarantined block.
void check_at_exit();

}  // namespace mpshim::entry
