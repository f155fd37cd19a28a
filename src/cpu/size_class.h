// Size classes: 16-byte steps up to 128 B, then four classes per doubling up to 1 MiB.
// Each class is carved from spans of 64 KiB pages inside 4 MiB segments.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/defines.h"

namespace mpshim::cpu {

constexpr size_t kPageShift = 16;
constexpr size_t kPageSize = size_t(1) << kPageShift;
constexpr size_t kPagesPerSegment = 64;  // page 0 holds the segment header
constexpr unsigned kNumClasses = 61;     // class 0 is unused
constexpr unsigned kMaxBatch = 64;

/// What the allocator knows about one class.
struct ClassInfo {
  uint32_t size;        ///< block size
  uint32_t objects;     ///< blocks per span
  uint8_t pages;        ///< pages per span
  uint16_t batch;       ///< blocks moved between a thread cache and the central pool at once
  uint16_t max_cached;  ///< blocks a thread cache holds before it flushes
  uint16_t transfer;    ///< batches the central pool keeps whole (0: none)
  uint64_t inverse;     ///< ceil(2^42 / size), for block_index
};

/// Index of the block holding byte `off` of a span of a class with `inverse`, without a division:
/// exact for every offset below 4 MiB, as the rounding error of `inverse` (below one
/// part in 2^42 / size) times the offset stays under one block.
constexpr size_t block_index(size_t off, uint64_t inverse) {
  return size_t((uint64_t(off) * inverse) >> 42);
}
constexpr size_t block_index(size_t off, const ClassInfo& ci) { return block_index(off, ci.inverse); }

/// True when byte `off` (below 4 MiB) of a span of a class with `inverse` starts a block,
/// without the class's size: off * inverse is the block index times 2^42 plus, in its low
/// 42 bits, less than 2^22 at a block's first byte and at least 2^42 / size (>= 2^22 for
/// sizes up to 1 MiB) at any other.
constexpr bool at_block_start(size_t off, uint64_t inverse) {
  return ((uint64_t(off) * inverse) & ((uint64_t(1) << 42) - 1)) < (uint64_t(1) << 22);
}

constexpr uint32_t class_size_of(unsigned c) {
  if (c <= 8) return 16 * c;
  unsigned b = 7 + (c - 9) / 4, k = (c - 9) % 4 + 1;
  return (1u << b) + k * (1u << (b - 2));
}

constexpr ClassInfo make_class(unsigned c) {
  ClassInfo ci{};
  if (c == 0) return ci;
  ci.size = class_size_of(c);
  ci.inverse = ((uint64_t(1) << 42) + ci.size - 1) / ci.size;
  for (unsigned n = 1; n <= 32; ++n) {
    size_t span = n * kPageSize, objs = span / ci.size, waste = span - objs * ci.size;
    if (objs >= 1 && waste * 8 <= span && (objs >= 8 || span >= (512u << 10) || n == 32)) {
      ci.pages = uint8_t(n);
      ci.objects = uint32_t(objs);
      break;
    }
  }
  size_t batch = (32u << 10) / ci.size;
  ci.batch = uint16_t(batch < 1 ? 1 : batch > kMaxBatch ? kMaxBatch : batch);
  ci.max_cached = uint16_t(ci.batch * 2);
  // Whole batches kept centrally: up to 256 KiB a class, none for the biggest classes
  // (their blocks go straight back to their spans, where other sizes can reuse the pages).
  size_t transfer = (256u << 10) / (size_t(ci.batch) * ci.size);
  ci.transfer = uint16_t(transfer > 64 ? 64 : transfer);
  return ci;
}

struct ClassTable {
  ClassInfo info[kNumClasses];
  uint8_t small[129];  ///< class of sizes 0..1024, indexed by (size + 7) / 8
  constexpr ClassTable() : info{}, small{} {
    for (unsigned c = 0; c < kNumClasses; ++c) info[c] = make_class(c);
    unsigned c = 1;
    for (unsigned i = 0; i <= 128; ++i) {
      while (info[c].size < i * 8) ++c;
      small[i] = uint8_t(c);
    }
  }
};

inline constexpr ClassTable kClasses{};

/// The class serving `size` (size <= kMaxSmall).
MPSHIM_INLINE unsigned class_of(size_t size) {
  if (size <= 1024) return kClasses.small[(size + 7) >> 3];
  size_t s1 = size - 1;
  unsigned b = 63u - unsigned(__builtin_clzl(s1));
  return 8 + (b - 7) * 4 + unsigned(s1 >> (b - 2)) - 3;
}

}  // namespace mpshim::cpu
