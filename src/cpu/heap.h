// Host allocator: the public face of src/cpu. Everything the interposition layer, the
// tracker and the reports need from the allocator goes through these functions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/track_api.h"

namespace mpshim::cpu {

/// Largest size served from size classes; larger blocks are mapped one by one.
constexpr size_t kMaxSmall = 1u << 20;
/// Blocks live in 4 MiB-aligned chunks; a pointer finds its metadata by masking.
constexpr size_t kChunkShift = 22;
constexpr size_t kChunkSize = size_t(1) << kChunkShift;

/// Initialises the allocator (idempotent; the first allocation does it too). Registers
/// its fork handlers: a layer whose fork handlers must run before the allocator's (it
/// allocates under its own lock) registers them after calling this.
void start();

/// Gives the calling thread its cache now, when it has none: the leak check knows a
/// thread's stack by its cache (cpu::for_each_thread), so one whose allocations all go
/// elsewhere (sampled blocks on pages of their own) needs one too.
void ensure_thread_cache();

/// Allocates `size` bytes aligned to 16; nullptr with errno = ENOMEM on failure.
void* alloc(size_t size);
/// Allocates `size` bytes aligned to `align` (a power of two); nullptr + ENOMEM on failure.
void* alloc_aligned(size_t align, size_t size);
/// Allocates n*size zeroed bytes; nullptr + ENOMEM on overflow or failure.
void* alloc_zeroed(size_t n, size_t size);
/// Frees a block of ours. Returns false (and touches nothing) when `p` is not ours.
bool free(void* p);
/// Resizes keeping contents; nullptr + ENOMEM on failure (the old block stays valid).
/// `p` must be ours (see owns()).
void* realloc(void* p, size_t size);
/// True when the small block at `p` now holds `size` bytes where it is (realloc's rule for
/// staying in place); false, changing nothing, when realloc would move it or it is large.
bool resize_in_place(void* p, size_t size);
/// Usable size of a block of ours (>= the size asked for); 0 when `p` is not ours.
size_t usable_size(const void* p);

/// Slack for leak tracking. A block whose size fills its slot exactly ends where the next
/// block starts, so a pointer one past its end (a full buffer's or vector's end) is also a
/// pointer to that neighbour, and would hide the neighbour's leak from the scan. Tracked
/// blocks therefore always end strictly inside their slot.
/// The size to ask for a tracked block of `size` bytes: `size`, or one more when `size`
/// fills a class exactly (the next class then serves it).
size_t with_slack(size_t size);
/// Allocates a tracked block of `size` bytes with slack: as alloc(with_slack(size)), except
/// that a size filling a class of 64 KiB or more gets a mapping of its own, which costs
/// about 4 KiB rather than the next class's 25%.
void* alloc_with_slack(size_t size);

/// True when `p` lies in memory the allocator manages (by address; never dereferences p,
/// only the allocator's own headers).
bool owns(const void* p);

/// Gives back to the OS now all memory freed and cached (thread caches of the caller
/// included); returns true if something was released (malloc_trim).
bool trim();

/// Flushes the calling thread's cache into the shared pools.
void flush_thread_cache();

}  // namespace mpshim::cpu
