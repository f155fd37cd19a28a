// Memory for the tracker's per-block tags: one zeroed array per span, sized to the span's
// block count, so tags cost address space in proportion to the blocks (8 bytes a block),
// never a fixed share of every segment. Used only under the page heap lock.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::cpu {

/// A zeroed array of tags for a span of class `cls` (one tag per block); nullptr when the
/// OS refuses memory.
uint64_t* tags_take(unsigned cls);
/// Gives back an array from tags_take(cls); it is zeroed for its next owner.
void tags_give(uint64_t* tags, unsigned cls);
/// Calls fn for every mapping that holds tag arrays.
void tags_for_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);

}  // namespace mpshim::cpu
