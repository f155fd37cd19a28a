// The patterns written over redzones and freed blocks, and their check: 16 bytes at a time
// inline (every checked free verifies a redzone), the search for what changed out of line.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

#if defined(__x86_64__)
#include <emmintrin.h>
#endif

namespace mpshim::track {

namespace pattern_detail {

MPSHIM_INLINE uint64_t load8(const unsigned char* p) {
  uint64_t v;
  __builtin_memcpy(&v, p, 8);
  return v;
}

// True when [p, p + n), n >= 8, holds only `word`'s byte: unaligned loads, the last one
// overlapping, OR-ed together, so the loop's exit is its only unpredictable branch (the
// sizes of redzones and freed blocks vary from call to call). 16 bytes a load where SSE2
// is (every x86-64), 64 a step.
MPSHIM_INLINE bool all_same(const unsigned char* p, size_t n, uint64_t word) {
#if defined(__x86_64__)
  if (n < 16) return ((load8(p) ^ word) | (load8(p + n - 8) ^ word)) == 0;
  const __m128i want = _mm_set1_epi64x(int64_t(word));
  auto at = [&](size_t i) { return _mm_xor_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + i)), want); };
  __m128i diff = at(n - 16);
  size_t i = 0;
  for (; i + 64 <= n; i += 64) diff = _mm_or_si128(_mm_or_si128(diff, _mm_or_si128(at(i), at(i + 16))),
                                                   _mm_or_si128(at(i + 32), at(i + 48)));
  for (; i + 16 <= n; i += 16) diff = _mm_or_si128(diff, at(i));
  return _mm_movemask_epi8(_mm_cmpeq_epi8(diff, _mm_setzero_si128())) == 0xffff;
#else
  uint64_t diff = load8(p + n - 8) ^ word;
  size_t i = 0;
  for (; i + 32 <= n; i += 32)
    diff |= (load8(p + i) ^ word) | (load8(p + i + 8) ^ word) | (load8(p + i + 16) ^ word) |
            (load8(p + i + 24) ^ word);
  for (; i + 8 <= n; i += 8) diff |= load8(p + i) ^ word;
  return diff == 0;
#endif
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
