// Deduplication of call stacks into 32-bit ids, lock-free and allocation-free.
//
// Stacks are stored once in an append-only arena of 4 MiB chunks mapped on demand. Ids are
// dense (handed out by a counter; a directory of pages maps id -> record), so a report can
// walk them all. Id 0 is the empty stack. Ids are found through a chain of open-addressing
// hash tables (linear probing, 8-byte slots holding 32 hash bits and the id); table k has
// 2^(14+k) slots, so memory follows the number of distinct stacks. Inserts claim a slot
// with CAS. A table is closed at half load: a thread that finds it full waits until every
// insert that reserved a slot in it has landed before moving on to the next table, so two
// threads inserting the same new stack always meet in the same table and get the same id.
// Each table starts as a copy of the one before it, closed and final by then: the newest
// table holds every stack, a lookup probes it alone (one cache miss, not one a table), and
// the older tables' slot pages go back to the OS.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace mpshim::track {

class StackTable {
 public:
  static constexpr size_t kMaxFrames = 256;

  constexpr StackTable() = default;
  StackTable(const StackTable&) = delete;
  StackTable& operator=(const StackTable&) = delete;
  /// Unmaps everything (tests only). There is deliberately no destructor: the
  /// process-wide table must outlive every static destructor, since allocations go on after
  /// the shim's own destructor has run.
  void unmap_all();

  /// The id of the stack `pcs[0..n)` (innermost first), inserting it if new. Returns 0
  /// (the empty stack) for n == 0 or when the arena is exhausted. n <= kMaxFrames.
  uint32_t intern(const uintptr_t* pcs, size_t n);
  /// The frames of stack `id`; returns their count (0 for id 0 or an unknown id).
  size_t frames(uint32_t id, const uintptr_t** pcs) const;
  /// Number of distinct non-empty stacks stored.
  size_t count() const { return count_.load(std::memory_order_relaxed); }
  /// Every id handed out is below this. A few ids (of racing inserts of one new stack) are
  /// never used by a block; their frames are a copy of the winner's.
  uint32_t id_limit() const { return next_id_.load(std::memory_order_acquire); }
  /// Calls fn for every mapping the table owns (so a memory scan can skip them).
  void for_each_mapping(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) const;
  /// In a forked child: inserts that other threads of the parent had in flight never land.
  void after_fork_child();

 private:
  struct Table;
  static constexpr int kChunkShift = 22;  // 4 MiB arena chunks
  static constexpr size_t kMaxChunks = size_t(1) << (35 - kChunkShift);  // 32 GiB
  static constexpr int kDirShift = 16;  // ids per directory page
  static constexpr size_t kMaxDirPages = size_t(1) << (28 - kDirShift);  // 2^28 ids
  static constexpr int kMaxTables = 24;
  static constexpr int kFirstTableBits = 14;

  uint32_t lookup(uint64_t h, const uintptr_t* pcs, size_t n) const;
  void copy_into(Table* to, const Table* from) const;
  static void release_slots(const Table* t);
  uint32_t store(uint64_t h, const uintptr_t* pcs, size_t n);
  bool equal(uint32_t id, const uintptr_t* pcs, size_t n) const;
  Table* table(int k);
  uintptr_t* record(uint32_t id) const;
  char* chunk(size_t index);
  std::atomic<uint64_t>* dir_page(size_t index);

  std::atomic<uint64_t> top_{8};  // arena offset 0 means "no record"
  std::atomic<size_t> count_{0};
  std::atomic<uint32_t> next_id_{1};
  std::atomic<int> newest_{0};  // the newest table published (all tables below it are final)
  std::atomic<std::atomic<uint64_t>*> dir_[kMaxDirPages] = {};
  std::atomic<Table*> tables_[kMaxTables] = {};
  std::atomic<char*> chunks_[kMaxChunks] = {};
};

/// A thread's front to a StackTable: the stacks it interned last (up to kFrames frames),
/// so an allocation site in a loop costs a compare of its frames instead of a hash and a
/// probe of the shared table. Zero-filled is a valid empty cache; it belongs to one thread.
class RecentStacks {
 public:
  static constexpr size_t kSlots = 8;  // 4 sets of 2
  static constexpr size_t kFrames = 16;

  /// Same result as table.intern(pcs, n).
  uint32_t intern(StackTable& table, const uintptr_t* pcs, size_t n);

 private:
  struct Slot {
    uint32_t n, id;
    uintptr_t pcs[kFrames];
  };
  Slot slots_[kSlots];
  uint8_t newest_[kSlots / 2];  ///< per set, the way used last
};

/// 64-bit hash of a stack (also used to spread ids in tests).
uint64_t hash_stack(const uintptr_t* pcs, size_t n);

}  // namespace mpshim::track
