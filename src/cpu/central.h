// Central pools, one per size class, between the thread caches and the page heap. Whole
// batches move through a small transfer cache (a producer thread's frees feed a consumer's
// allocations without touching spans); the rest go back to their spans.
#pragma once
#include <cstdint>

#include "cpu/segment.h"
#include "prim/lock.h"

namespace mpshim::cpu {

/// A list of blocks linked through their first word.
struct Batch {
  void* head = nullptr;
  void* tail = nullptr;
  uint32_t count = 0;
  uint32_t given_at = 0;  ///< ms, while it waits in a transfer cache
};

struct Central {
  prim::Lock lock;
  Span* partial = nullptr;  ///< spans with blocks to hand out
  uint32_t nbatches = 0;
  Batch batches[64];  ///< oldest first
};

extern Central g_central[kNumClasses];

/// Takes up to `want` blocks of class `cls`; an empty batch when memory is exhausted.
Batch central_take(unsigned cls, unsigned want);
/// Gives a batch of blocks of class `cls` back.
void central_give(unsigned cls, Batch b);
/// Grows block `p` of a segment into class `cls` (larger than its own) without moving it:
/// only when it is the first and only block out of its span and the pages the bigger
/// class needs follow the span free. False, changing nothing, otherwise.
bool central_grow(void* p, unsigned cls);
/// Returns transfer-cache batches that waited `delay_ms` to their spans (all with `all`);
/// true while some remain.
bool central_drain(uint32_t now, uint32_t delay_ms, bool all);

}  // namespace mpshim::cpu
