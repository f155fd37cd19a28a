// The allocation history of the memory-error checks: freed blocks held back from reuse
// (the quarantine), and after they leave it, their records (where they were allocated and
// freed) until newer frees overwrite them, so a late double free still names both stacks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "track/memcheck.h"
#include "track/pattern.h"

namespace mpshim::track {

/// A freed block.
struct FreedBlock {
  uintptr_t slot;   ///< allocator slot held in quarantine; 0: a record only (nothing to release)
  uintptr_t user;   ///< the block as the program had it
  uint64_t size;
  uint32_t alloc_stack, free_stack;
  uint32_t fill;    ///< bytes from `user` filled with kFreedByte, verified on leaving
  Kind kind;
  Memory mem;
};

/// Fills what `e` says of the block (its start, size, kind and stacks; freed) from `b`.
void describe_freed(const FreedBlock& b, MemError* e);

/// Sets the quarantine's size in bytes (0: records only) and the records each of the 8
/// shards keeps (rounded up to a power of two) before the first push.
void history_init(uint64_t quarantine_bytes, size_t records);
/// Adds `b` (its fill already written). Blocks pushed out of the quarantine are verified
/// (a changed byte is reported as a use after free) and given back to the allocator.
void history_push(const FreedBlock& b);
/// The newest record whose block holds `addr` (its start, or inside it), copied to `out`.
bool history_find(uintptr_t addr, FreedBlock* out);
/// The newest record of a freed block that started at `addr` (of its shard, shards in
/// turn); false when there is none.
bool history_find_start(uintptr_t addr, FreedBlock* out);
/// Verifies every block still in quarantine (at exit).
void history_verify_all();
/// The mappings of the records (they hold block addresses: never a root of the leak scan).
void history_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx);
void history_before_fork();
void history_after_fork_parent();
void history_after_fork_child();

}  // namespace mpshim::track
