// Host allocator: the public face of src/cpu. Everything the interposition layer, the
// tracker and the reports need from the allocator goes through these functions.
#pragma once
#include <cstddef>
#include <cstdint>

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

/// A 64-bit tag kept beside every block for the tracker (src/track defines its meaning).
/// Tags are zero for a fresh block; the allocator never writes them otherwise. Returns
/// nullptr when `p` is not the start of a block of ours. Only available when tags were
/// enabled (enable_tags) before the block's memory was first mapped.
uint64_t* tag_of(const void* p);
/// Enables per-block tags; call once at start-up, before the first allocation.
void enable_tags();
bool tags_enabled();

/// The block containing address `addr` (interior pointers included): its start, usable
/// size and tag. False when `addr` is not inside a block-sized slot of ours. The slot may
/// be free: callers decide liveness from the tag.
bool find_block(const void* addr, void** start, size_t* usable, uint64_t** tag);

/// Calls fn for every block slot whose tag is non-zero.
void for_each_tagged(void (*fn)(void* start, size_t usable, uint64_t* tag, void* ctx), void* ctx);

/// Calls fn for every address range the allocator has mapped for blocks (segments, large
/// blocks) or for its own bookkeeping, which never owns a block (the chunk table, tags,
/// central pools, thread caches, the purge thread's stack), so a scan of the address space
/// can skip them.
void for_each_heap_range(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// Threads that used the allocator: an address on each live thread's stack (from when it
/// first allocated) with its tid, then addresses on the stacks of recently exited threads
/// (alive = false, tid 0).
void for_each_thread(void (*fn)(uintptr_t stack_addr, bool alive, int tid, void* ctx), void* ctx);

/// Holds every allocator lock (for a consistent scan) / releases them.
void lock_all();
void unlock_all();

/// Gives back to the OS now all memory freed and cached (thread caches of the caller
/// included); returns true if something was released (malloc_trim).
bool trim();

/// Flushes the calling thread's cache into the shared pools.
void flush_thread_cache();

}  // namespace mpshim::cpu
