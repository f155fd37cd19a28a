// The state of the CUDA caching core that makes no driver call: per context two pools of
// free blocks, the quarantine and its fences, the segments, the live blocks and the
// statistics. The cache (cache.h) holds its lock around every call and makes the driver
// calls these steps stand between.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/block.h"
#include "cuda/meta.h"
#include "cuda/stats.h"
#include "cuda/types.h"

namespace mpshim::cuda {

constexpr unsigned kMaxContexts = 64;
constexpr unsigned kMaxDevices = 64;  ///< stats of higher device numbers go to the last
constexpr unsigned kMaxFences = 16;   ///< pending fences per context

/// A recorded fence and the quarantined blocks it seals.
struct Fence {
  Event event;
  Block* blocks;
  uint64_t bytes[kPoolKinds];
};

/// The pools of one context.
struct Pools {
  Context ctx = nullptr;
  Device dev = 0;
  bool used = false;
  FreeTree free[kPoolKinds];
  Block* unsealed = nullptr;  ///< freed since the last fence (LIFO)
  uint64_t unsealed_bytes[kPoolKinds] = {};
  Fence fences[kMaxFences] = {};  ///< a ring, oldest at fence_first
  unsigned fence_first = 0, fence_count = 0;
  uint64_t sealed_bytes[kPoolKinds] = {};
  Event spare[kMaxFences] = {};  ///< created events not in use
  unsigned spare_count = 0;
};

class Heap {
 public:
  constexpr Heap() = default;
  Heap(const Heap&) = delete;
  Heap& operator=(const Heap&) = delete;

  uint64_t max_split = UINT64_MAX;

  // ---- contexts
  /// The slot of `ctx`'s pools, or -1.
  int find_slot(Context ctx);
  /// The slot of `ctx`'s pools, made when new; -1 when every slot is taken.
  int slot_for(Context ctx, Device dev);
  Pools& pools(int slot) { return pools_[slot]; }
  PoolStats& stats(int slot, PoolKind k) { return stats_[dev_index(pools_[slot].dev)][int(k)]; }

  // ---- blocks
  /// Best fit for `rounded` bytes in a pool, made live (split when the rules say so);
  /// nullptr when no free block fits (or no metadata can be mapped).
  Block* take(int slot, PoolKind k, uint64_t rounded, uint64_t requested);
  /// Registers a segment from the driver as one free block of a pool and returns that
  /// block; nullptr when no metadata can be mapped.
  Block* add_segment(int slot, PoolKind k, DevPtr base, uint64_t size);
  /// A free block of pool k made live for `rounded` bytes (split when the rules say so);
  /// nullptr when no metadata can be mapped.
  Block* carve(Block* b, PoolKind k, uint64_t rounded, uint64_t requested);
  /// The live block that starts at `p`, or nullptr.
  Block* find_live(DevPtr p) const { return live_.find(p); }
  /// The segment holding `p`, or nullptr.
  Segment* segment_of(DevPtr p) const { return segments_.holder(p); }
  /// A live block to its context's quarantine (unsealed).
  void quarantine(Block* b);
  /// A live block straight back to the free pool (no quarantine).
  void release_live(Block* b);
  /// A live block freed during a capture: out of use for good (BlockState::Retired).
  void retire(Block* b);

  // ---- quarantine and fences
  bool has_unsealed(int slot) const { return pools_[slot].unsealed != nullptr; }
  bool fences_full(int slot) const { return pools_[slot].fence_count == kMaxFences; }
  /// Moves the unsealed blocks under a new fence recorded on `e`.
  void seal(int slot, Event e);
  /// The event of the oldest pending fence, or nullptr.
  Event oldest_fence(int slot) const;
  /// The oldest fence completed: its blocks become free. Returns its event.
  Event release_oldest(int slot);
  /// The context was synchronised: the unsealed blocks become free (the fences are
  /// released one by one with release_oldest).
  void release_unsealed(int slot);
  /// A spare event of the context, or nullptr.
  Event take_spare(int slot);
  /// Keeps `e` for the next fence; false when there is no room (destroy it).
  bool put_spare(int slot, Event e);

  // ---- segments
  /// The largest segment with no live or quarantined block, of context `slot` (or of every
  /// context on device `dev` when slot < 0, or every context when dev < 0 too), at least
  /// `min_size` bytes; nullptr when none.
  Segment* largest_unused(int slot, Device dev, uint64_t min_size) const;
  /// Whether a segment has neither live nor quarantined blocks.
  static bool unused(const Segment* s) {
    return s->live == 0 && s->first->state == BlockState::Free && s->first->size == s->size;
  }
  /// Forgets an unused segment (the driver freed it).
  void remove_segment(Segment* s);
  /// Bytes of the segments of `slot` (every slot when < 0) without live blocks.
  uint64_t releasable(int slot) const;
  /// Bytes in free blocks, over every context.
  uint64_t cached_free() const { return cached_free_; }
  /// Forgets every block and segment of a context, calling forget for each live block, and
  /// frees its slot. Its events must have been destroyed or given up.
  void forget_context(int slot, void (*forget)(DevPtr, void*), void* arg);

  // ---- stats and ranges
  /// Device `dev`'s counters of pool kind k.
  const PoolStats& device_stats(Device dev, PoolKind k) const {
    return stats_[dev_index(dev)][int(k)];
  }
  /// Devices whose pools were ever used: bit i for dev_index i.
  uint64_t devices_used() const { return devices_used_; }
  void reset_peaks();
  /// The metadata mappings and the device segments.
  void for_each_range(void (*fn)(uintptr_t lo, uintptr_t hi, void*), void* arg) const;
  /// One line on stderr: "mpshim: CUDA out of memory on device D: tried to allocate ...".
  void print_oom(Device dev, uint64_t size, uint64_t free, uint64_t total) const;

  static unsigned dev_index(Device d) {
    return d >= 0 && unsigned(d) < kMaxDevices ? unsigned(d) : kMaxDevices - 1;
  }

 private:
  void make_free(Block* b);  // a block no longer live or quarantined
  void unlink_live(Block* b);
  void free_list(Block* b);  // quarantined blocks linked by qnext become free

  Pools pools_[kMaxContexts];
  PoolStats stats_[kMaxDevices][kPoolKinds];
  uint64_t devices_used_ = 0;
  int last_slot_ = -1;
  uint64_t cached_free_ = 0;
  Slab blocks_{sizeof(Block)};
  Slab segment_records_{sizeof(Segment)};
  BlockHash live_;
  SegmentTable segments_;
};

}  // namespace mpshim::cuda
