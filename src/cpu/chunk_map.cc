#include "cpu/chunk_map.h"

namespace mpshim::cpu {

// 32 MiB of .bss: pages are only committed where the heap actually lives.
std::atomic<uint8_t> g_chunk_kind[kChunkCount];

void mark_chunks(uintptr_t base, size_t size, ChunkKind head, ChunkKind tail) {
  uintptr_t first = base >> kChunkShift, last = (base + size - 1) >> kChunkShift;
  for (uintptr_t c = last; c > first; --c) g_chunk_kind[c].store(tail, std::memory_order_relaxed);
  g_chunk_kind[first].store(head, std::memory_order_release);
}

}  // namespace mpshim::cpu
