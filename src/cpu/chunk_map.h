// Which 4 MiB chunks of the address space belong to the allocator. One byte per chunk in a
// lazily committed table, so ownership of any pointer is one load and never touches it.
#pragma once
#include <atomic>
#include <cstdint>

#include "cpu/heap.h"
#include "prim/defines.h"

namespace mpshim::cpu {

enum ChunkKind : uint8_t {
  kChunkNone = 0,
  kChunkSegment = 1,  ///< a segment of small-class spans (header at the chunk start)
  kChunkLarge = 2,    ///< first chunk of a large block (header at the chunk start)
  kChunkLargeTail = 3 ///< a later chunk of a large block
};

constexpr unsigned kAddressBits = 47;
constexpr size_t kChunkCount = size_t(1) << (kAddressBits - kChunkShift);
extern std::atomic<uint8_t> g_chunk_kind[kChunkCount];

MPSHIM_INLINE ChunkKind chunk_kind(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (MPSHIM_UNLIKELY(a >> kAddressBits)) return kChunkNone;
  return ChunkKind(g_chunk_kind[a >> kChunkShift].load(std::memory_order_relaxed));
}

MPSHIM_INLINE uintptr_t chunk_base(const void* p) {
  return reinterpret_cast<uintptr_t>(p) & ~(uintptr_t(kChunkSize) - 1);
}

/// Marks [base, base+size) (chunk aligned) as `head` then `tail` chunks, or clears it.
void mark_chunks(uintptr_t base, size_t size, ChunkKind head, ChunkKind tail);

}  // namespace mpshim::cpu
