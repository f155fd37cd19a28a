// What the tracker (src/track) may use of the host allocator: block tags, block lookup,
// the walks a leak check needs and a per-thread room. src/track includes no other header
// of src/cpu, so the allocator's internals can change without touching the tracker.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::cpu {

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
/// central pools, thread caches), so a scan of the address space can skip them.
void for_each_heap_range(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

/// Threads that used the allocator: an address on each live thread's stack (from when it
/// first allocated) with its tid, then addresses on the stacks of recently exited threads
/// (alive = false, tid 0).
void for_each_thread(void (*fn)(uintptr_t stack_addr, bool alive, int tid, void* ctx), void* ctx);

/// True when `p` lies in memory the allocator manages (as heap.h's owns: a free of such an
/// address that is no block is the program's error, any other address is not ours).
bool owns(const void* p);

/// Gives the block starting at `start` back to the allocator (the memory-error checks'
/// quarantine releases blocks it held back; the tracker has cleared their tags).
void release_block(void* start);

/// Holds every allocator lock (for a consistent scan) / releases them.
void lock_all();
void unlock_all();

/// Size of the tracker's per-thread room.
constexpr size_t kTrackerRoomBytes = 40960;
/// The calling thread's room for the tracker (kTrackerRoomBytes, aligned to 64, zeroed for
/// each new owner and recycled with the thread's cache); nullptr when the thread has no
/// cache (it is exiting).
extern MPSHIM_TLS unsigned char* t_tracker_room;
MPSHIM_INLINE unsigned char* tracker_room() { return t_tracker_room; }

}  // namespace mpshim::cpu
