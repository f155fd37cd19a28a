// The allocation and free fast paths, inlined into the exported functions: a thread-cache
// pop or push, everything else in noinline slow paths (heap.cc).
#pragma once
#include <cstddef>

#include "cpu/chunk_map.h"
#include "cpu/heap.h"
#include "cpu/purge.h"
#include "cpu/segment.h"
#include "cpu/thread_cache.h"

namespace mpshim::cpu {

MPSHIM_NOINLINE void* alloc_slow(size_t size);
MPSHIM_NOINLINE bool free_slow(void* p);

MPSHIM_INLINE void* alloc_fast(size_t size) {
  ThreadCache* tc = t_cache;
  if (MPSHIM_LIKELY(tc != nullptr && size <= kMaxSmall)) {
    unsigned cls = class_of(size);
    Bin& bin = tc->bins[cls];
    void* p = bin.head;
    if (MPSHIM_LIKELY(p != nullptr)) {
      bin.head = *static_cast<void**>(p);
      bin.count--;
      bin.allocs++;
      return p;
    }
  }
  return alloc_slow(size);
}

/// Returns false when `p` is not ours.
MPSHIM_INLINE bool free_fast(void* p) {
  ThreadCache* tc = t_cache;
  if (MPSHIM_LIKELY(tc != nullptr && chunk_kind(p) == kChunkSegment)) {
    unsigned cls = class_at(p);
    if (MPSHIM_LIKELY(cls != 0)) {
      Bin& bin = tc->bins[cls];
      *static_cast<void**>(p) = bin.head;
      bin.head = p;
      // A purge pass since the cache was last emptied also sends it to the slow path, and
      // so does every kPurgeTick-th free of a class: purge passes run on slow paths, which a
      // program that goes on with only a few blocks might no longer reach.
      uint64_t frees = ++bin.frees;
      if (MPSHIM_UNLIKELY(++bin.count > bin.max || (frees & kPurgeTick) == 0 ||
                          tc->flush_epoch != g_flush_epoch.load(std::memory_order_relaxed)))
        thread_cache_overflow(tc, cls);
      return true;
    }
  }
  return free_slow(p);
}

}  // namespace mpshim::cpu
