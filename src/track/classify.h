// Leak classification over an abstract set of live blocks: a conservative mark from the
// roots, then valgrind's clique rule for the unreachable rest. Independent of the allocator:
// the caller supplies the blocks and a function that maps any address to the start of the
// block slot containing it, so tests run it on synthetic graphs.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::track {

/// Result of classification for one block.
enum class Reach : uint8_t { Unvisited = 0, Reachable, Direct, Indirect };

/// One live block, input and output of classify().
struct ScanBlock {
  uintptr_t start;  ///< first byte
  uint64_t size;    ///< bytes to scan and that pointers may point into (requested size)
  uint64_t user;    ///< caller's data (the tag), untouched
  bool root;        ///< contents are a root and the block is never leaked (ignored, ...)
  Reach reach;      ///< output
  bool opaque = false;  ///< never read (device memory): only the pointers to it count
  bool cuda = false;     ///< memory the CUDA driver handed out (device, managed, pinned)
  bool driver = false;  ///< the CUDA driver's own record: its words never reach cuda blocks
  /// Among the blocks of a lost cycle that could each be its direct one, the lowest `first`
  /// is (the allocation site seen first: a container is most often made before its parts).
  uint32_t first = 0;
};

/// An address range [lo, hi) of memory to scan as a root.
struct ScanRange {
  uintptr_t lo, hi;
};

/// Start of the block slot containing `addr`, or 0. The slot need not be one of the
/// blocks given (free slots are filtered out by the classifier).
using FindBlockFn = uintptr_t (*)(uintptr_t addr, void* ctx);

/// Counters of one classification.
struct ClassifyStats {
  uint64_t root_bytes;    ///< bytes of root ranges scanned
  uint64_t words;         ///< candidate words examined (roots and blocks)
  uint64_t lookups;       ///< words that fell into the heap's address span
};

/// Classifies `blocks` (any order; each start distinct). A block is Reachable when a chain
/// of aligned 8-byte words, starting in a root range or a root block, points into it
/// (anywhere in [start, start + max(size, 1))). Unreachable blocks are grouped into cliques
/// in array order: each block not yet claimed becomes Direct and claims everything
/// unreachable it leads to as Indirect (an earlier leader it reaches becomes Indirect).
/// Root blocks end Reachable. Opaque blocks are classified alike but never read; the words
/// of a driver block never make a cuda block reachable. Bytes in `unreadable` (sorted,
/// disjoint: pages the program made inaccessible, inside its blocks too) are never read.
/// Working memory (an index and a work stack, about 12 bytes a block) comes from
/// prim::os_map and is given back. Returns false when it could not be mapped (blocks are
/// then all Reachable).
bool classify(ScanBlock* blocks, size_t n, const ScanRange* roots, size_t nroots,
              FindBlockFn find, void* ctx, ClassifyStats* stats = nullptr,
              const ScanRange* unreadable = nullptr, size_t nunreadable = 0);

}  // namespace mpshim::track
