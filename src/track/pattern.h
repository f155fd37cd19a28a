// The patterns written over redzones and freed blocks, and their check: a word at a time
// inline (every checked free verifies a redzone), the search for what changed out of line.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::track {

namespace pattern_detail {

MPSHIM_INLINE uint64_t load8(const unsigned char* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

// True when [p, p + n), n >= 8, holds only `word`'s byte: unaligned words, the last one
// overlapping, OR-ed together, so the loop's exit is its only unpredictable branch (the
// sizes of redzones and freed blocks vary from call to call).
MPSHIM_INLINE bool all_same(const unsigned char* p, size_t n, uint64_t word) {
  uint64_t diff = load8(p + n - 8) ^ word;
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    diff |= (load8(p + i) ^ word) | (load8(p + i + 8) ^ word) | (load8(p + i + 16) ^ word) |
            (load8(p + i + 24) ^ word);
  for (; i + 8 <= n; i += 8) diff |= load8(p + i) ^ word;
  return diff == 0;
}

}  // namespace pattern_detail

/// The first byte in [p, p + n) that is not `byte` (the last such one in *last); nullptr
/// when there is none. Called when the inline check found a change, or for n < 8.
const unsigned char* locate_changed(const unsigned char* p, size_t n, unsigned char byte,
                                    const unsigned char** last);

/// First byte in [p, p + n) that is not `byte`, or nullptr; the last such byte in *last.
MPSHIM_INLINE const unsigned char* find_changed(const unsigned char* p, size_t n, unsigned char byte,
                                                const unsigned char** last) {
  if (n >= 8 && pattern_detail::all_same(p, n, 0x0101010101010101ull * byte)) return nullptr;
  return locate_changed(p, n, byte, last);
}

}  // namespace mpshim::track
