// Metadata containers of the CUDA caching core, all in memory mapped with prim::os_map
// (never malloc): a slab of fixed-size records, the hash of live blocks and the sorted
// table of segments. None of them locks: the cache's lock guards them.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/block.h"

namespace mpshim::cuda {

/// Fixed-size records carved from 64 KiB mappings, recycled through a free list. The
/// mappings are kept for the life of the process.
class Slab {
 public:
  constexpr explicit Slab(size_t record_size) : size_(record_size) {}
  /// A zeroed record, or nullptr when no memory can be mapped.
  void* get();
  void put(void* r);
  /// Calls fn(lo, hi, arg) for each mapping.
  void for_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void*), void* arg) const;

 private:
  struct Chunk {
    Chunk* next;
  };
  size_t size_;
  Chunk* chunks_ = nullptr;
  void* free_ = nullptr;
  char* bump_ = nullptr;
  char* end_ = nullptr;
};

/// Live blocks by start address: open addressing with linear probing, grown at half load.
class BlockHash {
 public:
  constexpr BlockHash() = default;
  /// False when the table is full and cannot grow.
  bool insert(Block* b);
  Block* find(DevPtr addr) const;
  /// Removes and returns the block that starts at `addr`, or nullptr.
  Block* erase(DevPtr addr);
  void mapping(uintptr_t* lo, uintptr_t* hi) const;

 private:
  size_t index(DevPtr a) const { return size_t((a >> 9) * 0x9E3779B97F4A7C15ull >> shift_); }
  bool grow();
  Block** slots_ = nullptr;
  size_t cap_ = 0;  ///< a power of two (0 before the first insert)
  size_t count_ = 0;
  unsigned shift_ = 64;
};

/// Segments sorted by base address, so the segment holding any address is a binary search.
class SegmentTable {
 public:
  constexpr SegmentTable() = default;
  /// False when the table cannot grow.
  bool insert(Segment* s);
  void erase(Segment* s);
  /// The segment whose range holds `addr`, or nullptr.
  Segment* holder(DevPtr addr) const;
  size_t size() const { return len_; }
  Segment* at(size_t i) const { return items_[i]; }
  void mapping(uintptr_t* lo, uintptr_t* hi) const;

 private:
  size_t lower_bound(DevPtr base) const;  // first index whose base is >= `base`
  Segment** items_ = nullptr;
  size_t len_ = 0, cap_ = 0;
};

}  // namespace mpshim::cuda
