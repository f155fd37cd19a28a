// Blocks and segments of device memory, the size rules (PyTorch's CUDACachingAllocator's)
// and the best-fit tree of free blocks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/stats.h"
#include "cuda/types.h"

namespace mpshim::cuda {

constexpr uint64_t kMiB = uint64_t(1) << 20;
constexpr uint64_t kMinBlock = 512;            ///< rounding of every request
constexpr uint64_t kSmallRequest = 1 * kMiB;   ///< largest request of the small pool
constexpr uint64_t kSmallSegment = 2 * kMiB;   ///< segments of the small pool
constexpr uint64_t kMidRequest = 10 * kMiB;    ///< large requests below this share...
constexpr uint64_t kLargeSegment = 20 * kMiB;  ///< ...segments of this size
constexpr uint64_t kLargeRound = 2 * kMiB;     ///< bigger requests get segments rounded to this
constexpr uint64_t kLargeBuffer = 20 * kMiB;   ///< an oversize block serves requests this close
constexpr uint64_t kMaxRequest = uint64_t(1) << 48;  ///< beyond any device's memory

/// The request rounded to 512 B (0 counts as 512).
constexpr uint64_t round_size(uint64_t n) {
  return n < kMinBlock ? kMinBlock : (n + kMinBlock - 1) & ~(kMinBlock - 1);
}
constexpr PoolKind pool_kind(uint64_t rounded) {
  return rounded <= kSmallRequest ? PoolKind::Small : PoolKind::Large;
}
/// Size of the segment to ask the driver for when nothing cached fits `rounded`.
constexpr uint64_t segment_size(uint64_t rounded) {
  if (rounded <= kSmallRequest) return kSmallSegment;
  if (rounded < kMidRequest) return kLargeSegment;
  return (rounded + kLargeRound - 1) & ~(kLargeRound - 1);
}
/// Whether a free block of `block` bytes may serve `rounded`: an oversize block (at least
/// max_split) serves only oversize requests, and only those within kLargeBuffer of it.
constexpr bool fits(uint64_t block, uint64_t rounded, uint64_t max_split) {
  if (block < rounded) return false;
  if (rounded < max_split && block >= max_split) return false;
  if (rounded >= max_split && block - rounded >= kLargeBuffer) return false;
  return true;
}
/// Whether a block of `block` bytes given to `rounded` is split: small blocks when the rest
/// holds a block, large ones when the rest is above 1 MiB and the request below max_split
/// (so an oversize block is never split).
constexpr bool should_split(PoolKind k, uint64_t block, uint64_t rounded, uint64_t max_split) {
  uint64_t rest = block - rounded;
  if (k == PoolKind::Small) return rest >= kMinBlock;
  return rounded < max_split && rest > kSmallRequest;
}

/// Retired: freed during a stream capture. The captured graph may use it whenever it is
/// replayed, so it is never handed out again (it counts as live in its segment).
enum class BlockState : uint8_t { Free, Live, Quarantined, Retired };

struct Segment;

/// A range of a segment: free (in its pool's tree), live (in the live-block hash) or
/// quarantined (in a context's quarantine list or a fence's list).
struct Block {
  DevPtr addr;
  uint64_t size;
  uint64_t requested;  ///< bytes asked for, while live
  Block* prev;         ///< address-order neighbours within the segment
  Block* next;
  Block* left;         ///< free tree children
  Block* right;
  Block* qnext;        ///< quarantine list link
  Segment* seg;
  BlockState state;
};

/// One allocation from the driver, cut into blocks.
struct Segment {
  DevPtr base;
  uint64_t size;
  Block* first;
  uint32_t slot;  ///< index of its context's pools
  uint32_t live;  ///< live blocks
  PoolKind kind;
};

/// Free blocks of one pool ordered by (size, address): a treap whose priorities are a hash
/// of the address. Intrusive (Block::left/right), so it never allocates.
class FreeTree {
 public:
  constexpr FreeTree() = default;
  void insert(Block* b);
  void erase(Block* b);
  /// The smallest block of at least `size` bytes (lowest address among equals), or nullptr.
  Block* lower_bound(uint64_t size) const;
  bool empty() const { return root_ == nullptr; }
  void clear() { root_ = nullptr; }

 private:
  Block* root_ = nullptr;
};

}  // namespace mpshim::cuda
