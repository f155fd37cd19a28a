// Large blocks (> kMaxSmall): one mapping each, 4 MiB aligned, with a header at its start.
// Freed mappings stay cached for reuse (no page faults) and are unmapped after a delay.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::cpu {

struct LargeHeader {
  size_t map_size;     ///< bytes mapped from the header on
  size_t offset;       ///< user pointer = header + offset
  size_t align;        ///< alignment asked for (>= 16)
  uint64_t tag;        ///< the tracker's tag
  LargeHeader* next;   ///< cache list (most recently freed first) or live list
  LargeHeader* prev;
  uint32_t freed_at;   ///< ms, while cached
  bool live;
};

/// Maps (or reuses) a block of `size` bytes aligned to `align`; `*dirty` is how many of
/// its first bytes may hold an earlier block's (0: all known to be zero, as a fresh
/// mapping; a cached one grown keeps its old pages, and the rest is fresh). nullptr on
/// failure.
void* large_alloc(size_t size, size_t align, size_t* dirty);
/// The header of the large block whose mapping contains `p`, or nullptr.
LargeHeader* large_header(const void* p);
/// Frees the block of header `h`.
void large_free(LargeHeader* h);
/// Resizes in place or by moving the pages (no copy); nullptr on failure.
void* large_realloc(LargeHeader* h, size_t size);
/// Usable bytes of the block.
inline size_t large_usable(const LargeHeader* h) { return h->map_size - h->offset; }
inline void* large_ptr(LargeHeader* h) { return reinterpret_cast<char*>(h) + h->offset; }
/// Unmaps cached blocks freed before now - delay (all with `all`); true while some remain.
bool large_purge(uint32_t now, uint32_t delay, bool all);
/// Unmaps the least recently freed cached blocks until at least `bytes` are gone (or none
/// is left): the heap grows by that much instead.
void large_release(size_t bytes);
/// Calls fn for each live large block.
void large_for_each_live(void (*fn)(LargeHeader* h, void* ctx), void* ctx);
/// Calls fn for each cached (freed, still mapped) large block.
void large_for_each_cached(void (*fn)(LargeHeader* h, void* ctx), void* ctx);
void large_lock();
void large_unlock();
void large_after_fork_child();

}  // namespace mpshim::cpu
