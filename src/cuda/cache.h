// The CUDA caching allocator: device memory from the driver in segments, cut into blocks
// and reused (PyTorch's CUDACachingAllocator's sizes and split rules). A freed block waits
// in its context's quarantine until a fence recorded after the free has completed, so work
// issued before the free, on any stream, can no longer touch it when it is handed out
// again. One instance per process, one lock; metadata from prim mappings (heap.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/backend.h"
#include "cuda/heap.h"
#include "prim/defines.h"
#include "prim/lock.h"

namespace mpshim::cuda {

/// Settings of the cache (Cache<B>::Options).
struct CacheOptions {
  bool cache = true;                 ///< false: every free goes back to the driver
  uint64_t max_split = UINT64_MAX;   ///< blocks this big are never split (raised above 20 MiB)
  uint64_t max_cached = UINT64_MAX;  ///< free cached bytes beyond this go back to the driver
};

/// What Cache<B>::free did with a pointer.
enum class FreeResult {
  Freed,
  NotOurs,  ///< not in any segment: the caller passes it to the driver
  Invalid,  ///< inside a segment but not a live block's start: never pass it to the driver
};

template <Backend B>
class Cache {
 public:
  using Options = CacheOptions;
  using FreeResult = cuda::FreeResult;

  constexpr explicit Cache(B& backend) : b_(backend) {}
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  void configure(const Options& o) {
    prim::Guard g(lock_);
    opts_ = o;
    // PyTorch refuses max_split_size_mb <= 20: smaller ones would make the segments of
    // mid-size requests oversize, unusable by the requests they were made for.
    if (opts_.max_split <= kLargeBuffer) opts_.max_split = kLargeBuffer + 1;
    heap_.max_split = opts_.max_split;
  }

  /// Device memory of `size` bytes for context `ctx` (on device `dev`). Size 0 is
  /// kErrorInvalidValue, as cuMemAlloc(0). kErrorOutOfMemory after the cache was released
  /// and the driver still failed; one line on stderr then says so.
  Result alloc(Context ctx, Device dev, size_t size, DevPtr* out) {
    if (MPSHIM_UNLIKELY(size == 0)) return kErrorInvalidValue;
    prim::Guard g(lock_);
    int slot = heap_.slot_for(ctx, dev);
    // Every slot taken: the block is the driver's alone and free() will say NotOurs.
    if (MPSHIM_UNLIKELY(slot < 0)) return b_.mem_alloc(ctx, out, size);
    if (MPSHIM_UNLIKELY(size > kMaxRequest)) return fail(slot, size);
    uint64_t rounded = round_size(size);
    PoolKind k = pool_kind(rounded);
    Block* blk = opts_.cache ? heap_.take(slot, k, rounded, size) : nullptr;
    if (MPSHIM_UNLIKELY(blk == nullptr)) return alloc_slow(slot, k, rounded, size, out);
    ++heap_.stats(slot, k).hits;
    *out = blk->addr;
    return kSuccess;
  }

  /// Frees the block that starts at `p` (whichever context it belongs to); `*requested`
  /// gets the size it was allocated with.
  FreeResult free(DevPtr p, size_t* requested) {
    prim::Guard g(lock_);
    Block* blk = heap_.find_live(p);
    if (MPSHIM_UNLIKELY(blk == nullptr))
      return heap_.segment_of(p) != nullptr ? FreeResult::Invalid : FreeResult::NotOurs;
    if (requested != nullptr) *requested = blk->requested;
#ifdef MPSHIM_CUDA_UNFENCED
    heap_.release_live(blk);  // unsafe on purpose: the race tests show it
#else
    // A graph captured now may use the block at every replay, long after any fence.
    if (MPSHIM_UNLIKELY(capturing()))
      heap_.retire(blk);
    else if (MPSHIM_UNLIKELY(!opts_.cache))
      free_uncached(blk);
    else
      heap_.quarantine(blk);
#endif
    return FreeResult::Freed;
  }

  /// Whether `p` lies inside a segment of the cache.
  bool owns(DevPtr p) {
    prim::Guard g(lock_);
    return heap_.segment_of(p) != nullptr;
  }

  /// A thread began / ended a stream capture. While any is active the cache makes no fence,
  /// query, synchronisation or driver free: those would invalidate the capture. A block
  /// freed meanwhile is never handed out again: the graph may use it at every replay.
  void capture_begin() {
    prim::Guard g(lock_);
    ++captures_;
  }
  void capture_end() {
    prim::Guard g(lock_);
    if (captures_ > 0) --captures_;
  }

  /// Waits for the fences of `ctx` (every context when nullptr) and gives every segment
  /// without live blocks back to the driver. Does nothing during a capture.
  void release(Context ctx) {
    prim::Guard g(lock_);
    if (capturing()) return;
    for (unsigned i = 0; i < kMaxContexts; ++i) {
      int slot = int(i);
      if (!heap_.pools(slot).used || (ctx != nullptr && heap_.pools(slot).ctx != ctx)) continue;
      drain(slot, PoolKind::Large);
      while (Segment* s = heap_.largest_unused(slot, -1, 0))
        if (!free_segment(s)) break;
    }
  }

  /// Forgets context `ctx` before it is destroyed (driver_alive: synchronises it, gives its
  /// unused segments back and destroys its events) or after (forget only). Calls
  /// forget(ptr, arg) for each of its live blocks, which the driver frees with it.
  void drop_context(Context ctx, bool driver_alive, void (*forget)(DevPtr, void*) = nullptr,
                    void* arg = nullptr) {
    prim::Guard g(lock_);
    int slot = heap_.find_slot(ctx);
    if (slot < 0) return;
    if (driver_alive) {
      if (!capturing()) {
        if (b_.ctx_synchronize(ctx) == kSuccess) {
          while (heap_.oldest_fence(slot) != nullptr) retire_oldest(slot);
          heap_.release_unsealed(slot);
        }
        while (Segment* s = heap_.largest_unused(slot, -1, 0))
          if (!free_segment(s)) break;
      }
      while (Event e = heap_.oldest_fence(slot)) {
        heap_.release_oldest(slot);
        b_.event_destroy(ctx, e);
      }
      while (Event e = heap_.take_spare(slot)) b_.event_destroy(ctx, e);
    }
    heap_.forget_context(slot, forget, arg);
  }

  /// Bytes that cuMemGetInfo may count as free for `ctx` (every context when nullptr): the
  /// segments without live blocks, which an allocation that fails in the driver releases.
  uint64_t releasable(Context ctx) {
    prim::Guard g(lock_);
    int slot = ctx == nullptr ? -1 : heap_.find_slot(ctx);
    if (ctx != nullptr && slot < 0) return 0;
    return heap_.releasable(slot);
  }

  /// Calls fn(device, kind, stats, arg) for both pool kinds of every device used.
  void for_each_pool(void (*fn)(Device, PoolKind, const PoolStats&, void*), void* arg) {
    for (unsigned d = 0; d < kMaxDevices; ++d) {
      PoolStats s[kPoolKinds];
      {
        prim::Guard g(lock_);
        if ((heap_.devices_used() >> d & 1) == 0) continue;
        for (unsigned k = 0; k < kPoolKinds; ++k) s[k] = heap_.device_stats(Device(d), PoolKind(k));
      }
      for (unsigned k = 0; k < kPoolKinds; ++k) fn(Device(d), PoolKind(k), s[k], arg);
    }
  }
  void reset_peaks() {
    prim::Guard g(lock_);
    heap_.reset_peaks();
  }

  /// Calls fn(lo, hi, arg) for the metadata mappings and the device segments, so a scan of
  /// the address space skips them. Call between lock() and unlock().
  void for_each_internal_range(void (*fn)(uintptr_t lo, uintptr_t hi, void*), void* arg) {
    heap_.for_each_range(fn, arg);
  }

  /// Holds the cache's lock (across fork, or around for_each_internal_range).
  void lock() { lock_.lock(); }
  bool try_lock() { return lock_.try_lock(); }
  void unlock() { lock_.unlock(); }

 private:
  bool capturing() const { return captures_ > 0; }
  Context context(int slot) { return heap_.pools(slot).ctx; }

  MPSHIM_NOINLINE Result alloc_slow(int slot, PoolKind k, uint64_t rounded, uint64_t size,
                                    DevPtr* out) {
    Block* blk = nullptr;
    if (opts_.cache && !capturing()) {
      blk = reuse(slot, k, rounded, size);
      if (blk == nullptr) trim();
    }
    uint64_t seg = opts_.cache ? segment_size(rounded) : rounded;
    DevPtr base = 0;
    Result r = kSuccess;
    if (blk == nullptr) {
      r = driver_alloc(slot, &base, seg);
      if (r == kErrorOutOfMemory && !capturing()) r = recover(slot, k, rounded, size, &seg, &base, &blk);
    }
    if (blk != nullptr) {
      ++heap_.stats(slot, k).hits;
      *out = blk->addr;
      return kSuccess;
    }
    if (r != kSuccess) return r == kErrorOutOfMemory ? fail(slot, size) : r;
    ++heap_.stats(slot, k).misses;
    Block* whole = heap_.add_segment(slot, k, base, seg);
    blk = whole != nullptr ? heap_.carve(whole, k, rounded, size) : nullptr;
    if (blk == nullptr) {  // no metadata: the segment cannot be tracked
      if (whole != nullptr) heap_.remove_segment(heap_.segment_of(base));
      if (!capturing()) b_.mem_free(context(slot), base);
      return fail(slot, size);
    }
    *out = blk->addr;
    return kSuccess;
  }

  // A cached block for the request once fences allow: seals the quarantine, takes what has
  // completed, and waits for pending fences while they hold enough bytes (a wait costs no
  // more than the cudaFree that an uncached program makes).
  Block* reuse(int slot, PoolKind k, uint64_t rounded, uint64_t size) {
    seal(slot, k);
    collect(slot, k);
    Block* blk = heap_.take(slot, k, rounded, size);
    while (blk == nullptr && heap_.pools(slot).sealed_bytes[int(k)] >= rounded &&
           heap_.oldest_fence(slot) != nullptr && wait_oldest(slot, k))
      blk = heap_.take(slot, k, rounded, size);
    return blk;
  }

  // The driver failed with out-of-memory: waits for every fence of the device, then gives
  // unused segments back (oversize ones first) and retries; a request that a shared 20 MiB
  // segment was asked for then gets a segment of its own size (*seg), which may still fit.
  Result recover(int slot, PoolKind k, uint64_t rounded, uint64_t size, uint64_t* seg,
                 DevPtr* base, Block** blk) {
    ++heap_.stats(slot, k).oom_retries;
    Device dev = heap_.pools(slot).dev;
    for (unsigned i = 0; i < kMaxContexts; ++i) {
      if (heap_.pools(int(i)).used && heap_.pools(int(i)).dev == dev) drain(int(i), k);
    }
    if ((*blk = heap_.take(slot, k, rounded, size)) != nullptr) return kSuccess;
    Result r = kErrorOutOfMemory;
    for (uint64_t min_size : {opts_.max_split, uint64_t(0)}) {
      bool freed = false;
      while (Segment* s = heap_.largest_unused(-1, dev, min_size)) {
        if (!free_segment(s)) break;
        freed = true;
      }
      if (freed && (r = driver_alloc(slot, base, *seg)) != kErrorOutOfMemory) return r;
    }
    uint64_t own = (rounded + kLargeRound - 1) & ~(kLargeRound - 1);
    if (k == PoolKind::Large && own < *seg && (r = driver_alloc(slot, base, own)) == kSuccess)
      *seg = own;
    return r;
  }

  Result fail(int slot, uint64_t size) {
    size_t free = 0, total = 0;
    b_.mem_get_info(context(slot), &free, &total);
    heap_.print_oom(heap_.pools(slot).dev, size, free, total);
    return kErrorOutOfMemory;
  }

  Result driver_alloc(int slot, DevPtr* base, uint64_t bytes) {
    bool relax = capturing();
    if (relax) b_.relax_capture(true);
    Result r = b_.mem_alloc(context(slot), base, bytes);
    if (relax) b_.relax_capture(false);
    return r;
  }

  bool free_segment(Segment* s) {
    if (b_.mem_free(context(int(s->slot)), s->base) != kSuccess) return false;
    heap_.remove_segment(s);
    return true;
  }

  // Without caching: cuMemFree synchronises the device, so the block needs no fence.
  void free_uncached(Block* blk) {
    Segment* s = blk->seg;
    heap_.release_live(blk);
    if (Heap::unused(s)) free_segment(s);
  }

  // Free cached bytes beyond max_cached (all of them without caching) go back to the
  // driver: whole unused segments, oversize ones first, then the largest.
  void trim() {
    uint64_t limit = opts_.cache ? opts_.max_cached : 0;
    while (heap_.cached_free() > limit) {
      Segment* s = heap_.largest_unused(-1, -1, opts_.max_split);
      if (s == nullptr) s = heap_.largest_unused(-1, -1, 0);
      if (s == nullptr || !free_segment(s)) break;
    }
  }

  // ---- fences. k is the pool whose request caused the driver call (for the counters).

  // Seals the unsealed quarantine with one fence; where the driver has no cuCtxRecordEvent
  // one context synchronisation frees the whole quarantine instead.
  void seal(int slot, PoolKind k) {
    if (!heap_.has_unsealed(slot)) return;
    if (heap_.fences_full(slot) && (!wait_oldest(slot, k) || heap_.fences_full(slot))) return;
    if (!heap_.has_unsealed(slot)) return;  // a context synchronisation took them
    Context ctx = context(slot);
    if (!no_ctx_fence_) {
      Event e = heap_.take_spare(slot);
      if (e == nullptr && b_.event_create(ctx, &e) != kSuccess) e = nullptr;
      if (e != nullptr) {
        Result r = b_.record_fence(ctx, e);
        if (r == kSuccess) {
          heap_.seal(slot, e);
          ++heap_.stats(slot, k).fences;
          return;
        }
        if (!heap_.put_spare(slot, e)) b_.event_destroy(ctx, e);
        if (r == kErrorNotSupported) no_ctx_fence_ = true;
      }
    }
    sync_context(slot, k);
  }

  // Frees the blocks of every completed fence, oldest first.
  void collect(int slot, PoolKind k) {
    while (Event e = heap_.oldest_fence(slot)) {
      Result r = b_.event_query(e);
      if (r == kErrorNotReady) return;
      if (r != kSuccess) {
        sync_context(slot, k);
        return;
      }
      retire_oldest(slot);
    }
  }

  // Waits for the oldest fence; false when nothing could be freed.
  bool wait_oldest(int slot, PoolKind k) {
    ++heap_.stats(slot, k).syncs;
    if (b_.event_synchronize(heap_.oldest_fence(slot)) == kSuccess) {
      retire_oldest(slot);
      return true;
    }
    return sync_context(slot, k);
  }

  // Synchronises the context: every quarantined block is free afterwards.
  bool sync_context(int slot, PoolKind k) {
    ++heap_.stats(slot, k).syncs;
    if (b_.ctx_synchronize(context(slot)) != kSuccess) return false;
    while (heap_.oldest_fence(slot) != nullptr) retire_oldest(slot);
    heap_.release_unsealed(slot);
    return true;
  }

  // Seals and waits until the context's quarantine is empty (or the driver fails).
  void drain(int slot, PoolKind k) {
    seal(slot, k);
    while (heap_.oldest_fence(slot) != nullptr)
      if (!wait_oldest(slot, k)) break;
  }

  void retire_oldest(int slot) {
    Event e = heap_.release_oldest(slot);
    if (!heap_.put_spare(slot, e)) b_.event_destroy(context(slot), e);
  }

  B& b_;
  prim::Lock lock_;
  Options opts_;
  Heap heap_;
  unsigned captures_ = 0;
  bool no_ctx_fence_ = false;  ///< the driver lacks cuCtxRecordEvent
};

}  // namespace mpshim::cuda
