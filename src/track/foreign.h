// Records of the blocks that are not the host allocator's: device, managed and pinned
// memory that CUDA's driver hands out. Host blocks keep their record in the allocator's
// tag; these have no allocator slot, so they live here, keyed by address. The leak check
// classifies them with the host blocks: a host-accessible one (pinned, managed) is scanned
// like a host block, a device block is never read, only found by the pointers to it.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/lock.h"
#include "track/track.h"

namespace mpshim::track {

/// One foreign block.
struct ForeignBlock {
  uintptr_t start;
  uint64_t size;   ///< bytes requested
  uint32_t stack;  ///< stack id
  Kind kind;       ///< allocation function (cuMemAlloc, ...)
  Memory mem;
  bool ignored;    ///< mpshim_ignore'd: never reported, scanned as a root when readable
  bool closing = false;  ///< being freed: its memory may vanish, so a scan never reads it
  bool profiled = false;  ///< a guarded block the profile counted (not the shim's own)
};

/// A set of foreign blocks sorted by start in one array mapped with prim::os_map (never
/// malloc), guarded by a lock. Allocations of device memory are few and large, so an
/// insert or erase moves the array's tail; a lookup is a binary search.
class ForeignStore {
 public:
  constexpr ForeignStore() = default;
  ForeignStore(const ForeignStore&) = delete;
  ForeignStore& operator=(const ForeignStore&) = delete;
  // No destructor: the process-wide store must outlive static destructors (the leak
  // check at exit runs after them).

  /// Forgets every record and gives the array back.
  void release();

  /// Adds `b`, replacing a record with the same start; false when out of memory.
  bool insert(const ForeignBlock& b);
  /// Removes the record that starts at `start` (copied to `out` when not null); false
  /// when there is none.
  bool erase(uintptr_t start, ForeignBlock* out = nullptr);
  /// The record whose range holds `addr` (interior pointers included; a block of size 0
  /// holds its start only), copied to `out`; false when none.
  bool find(uintptr_t addr, ForeignBlock* out);
  /// Marks the block holding `addr` ignored; false when none.
  bool ignore(uintptr_t addr);
  /// Marks the block starting at `start` as being freed (or no longer); false when none.
  bool set_closing(uintptr_t start, bool closing);
  size_t size();

  /// For a leak check: holds the lock, so the records stay as they are while they are
  /// read with for_each_locked.
  void lock() { lock_.lock(); }
  void unlock() { lock_.unlock(); }
  /// Calls fn(block, ctx) for every record, by increasing start; the lock must be held.
  void for_each_locked(void (*fn)(const ForeignBlock& b, void* ctx), void* ctx) const;
  /// The store's own mapping [lo, hi) (lo == hi when none); the lock must be held. It holds
  /// the addresses of every block, so a scan of the address space must skip it.
  void mapping_locked(uintptr_t* lo, uintptr_t* hi) const;

  /// In a forked child: the lock is free, whatever the parent held.
  void after_fork_child() { lock_.reset(); }

 private:
  // Index of the first record whose start is >= `start`.
  size_t lower_bound(uintptr_t start) const;
  // Index of the record holding `addr`, or -1; the lock must be held.
  long holder(uintptr_t addr) const;

  prim::Lock lock_;
  ForeignBlock* items_ = nullptr;
  size_t len_ = 0, cap_ = 0;
};

}  // namespace mpshim::track
