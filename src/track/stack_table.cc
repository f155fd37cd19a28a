#include "track/stack_table.h"

#include <sched.h>

#include "prim/defines.h"
#include "prim/os.h"

namespace mpshim::track {

// One hash table of the chain. `reserved` counts claims: the first `limit` succeed, later
// ones are refused (the table is closed). `settled` counts successful claims that have
// finished (their stack is in the table, or was found there): a closed table is final once
// all `limit` have. Refused claims must not count, or a late refusal could stand in for a
// claim still in flight, and a thread would move on without seeing its stack land.
struct StackTable::Table {
  uint64_t mask;
  uint64_t limit;
  size_t bytes;
  std::atomic<uint64_t> reserved;
  std::atomic<uint64_t> settled;
  std::atomic<uint64_t> slots[1];
};

namespace {

constexpr uint64_t kChunkBytes = uint64_t(1) << 22;
constexpr size_t kDirPageBytes = (size_t(1) << 16) * sizeof(uint64_t);

MPSHIM_INLINE uint64_t mix(uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h;
}

MPSHIM_INLINE uint32_t slot_id(uint64_t v) { return uint32_t(v); }
MPSHIM_INLINE uint32_t slot_hash(uint64_t v) { return uint32_t(v >> 32); }

void wait_settled(std::atomic<uint64_t>& settled, uint64_t target) {
  for (int spins = 0; settled.load(std::memory_order_acquire) < target; ++spins) {
    if (spins < 64)
      __builtin_ia32_pause();
    else
      sched_yield();
  }
}

}  // namespace

uint64_t hash_stack(const uintptr_t* pcs, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  for (size_t i = 0; i < n; ++i) h = (h ^ pcs[i]) * 0x9fb21c651e98df25ull + (h >> 29);
  return mix(h);
}

uint32_t RecentStacks::intern(StackTable& table, const uintptr_t* pcs, size_t n) {
  if (n == 0 || n > kFrames) return table.intern(pcs, n);
  // Two-way sets chosen by the innermost two frames, which tell most sites apart; the
  // compare of every frame settles it.
  uintptr_t key = (pcs[0] ^ (n > 1 ? pcs[1] << 17 : 0)) * 0x9e3779b97f4a7c15ull;
  size_t set = size_t(key >> 62);  // kSlots / 2 sets
  for (size_t way = 0; way < 2; ++way) {
    Slot& s = slots_[2 * set + way];
    bool same = s.n == n && s.id != 0;
    for (size_t i = 0; same && i < n; ++i) same = s.pcs[i] == pcs[i];
    if (same) {
      newest_[set] = uint8_t(way);
      return s.id;
    }
  }
  uint32_t id = table.intern(pcs, n);
  size_t way = newest_[set] ^ 1u;
  Slot& s = slots_[2 * set + way];
  newest_[set] = uint8_t(way);
  s.n = uint32_t(n);
  s.id = id;
  for (size_t i = 0; i < n; ++i) s.pcs[i] = pcs[i];
  return id;
}

void StackTable::unmap_all() {
  for (auto& d : dir_) {
    auto* p = d.load();
    if (p != nullptr) prim::os_unmap(p, kDirPageBytes);
  }
  for (auto& t : tables_) {
    Table* p = t.load();
    if (p != nullptr) prim::os_unmap(p, p->bytes);
  }
  for (auto& c : chunks_) {
    char* p = c.load();
    if (p != nullptr) prim::os_unmap(p, kChunkBytes);
  }
}

char* StackTable::chunk(size_t index) {
  char* c = chunks_[index].load(std::memory_order_acquire);
  if (MPSHIM_LIKELY(c != nullptr)) return c;
  char* fresh = static_cast<char*>(prim::os_map(kChunkBytes));
  if (fresh == nullptr) return nullptr;
  if (chunks_[index].compare_exchange_strong(c, fresh, std::memory_order_acq_rel)) return fresh;
  prim::os_unmap(fresh, kChunkBytes);
  return c;
}

std::atomic<uint64_t>* StackTable::dir_page(size_t index) {
  auto* d = dir_[index].load(std::memory_order_acquire);
  if (MPSHIM_LIKELY(d != nullptr)) return d;
  auto* fresh = static_cast<std::atomic<uint64_t>*>(prim::os_map(kDirPageBytes));
  if (fresh == nullptr) return nullptr;
  if (dir_[index].compare_exchange_strong(d, fresh, std::memory_order_acq_rel)) return fresh;
  prim::os_unmap(fresh, kDirPageBytes);
  return d;
}

// The record of `id` (its frame count, then the frames), or nullptr.
uintptr_t* StackTable::record(uint32_t id) const {
  auto* d = dir_[id >> kDirShift].load(std::memory_order_acquire);
  if (d == nullptr) return nullptr;
  uint64_t off = d[id & ((size_t(1) << kDirShift) - 1)].load(std::memory_order_acquire);
  if (off == 0) return nullptr;
  char* c = chunks_[off >> kChunkShift].load(std::memory_order_acquire);
  return c == nullptr ? nullptr : reinterpret_cast<uintptr_t*>(c + (off & (kChunkBytes - 1)));
}

StackTable::Table* StackTable::table(int k) {
  Table* t = tables_[k].load(std::memory_order_acquire);
  if (MPSHIM_LIKELY(t != nullptr)) return t;
  uint64_t cap = uint64_t(1) << (kFirstTableBits + k);
  size_t bytes = sizeof(Table) + (cap - 1) * sizeof(uint64_t);
  Table* fresh = static_cast<Table*>(prim::os_map(bytes));
  if (fresh == nullptr) return nullptr;
  fresh->mask = cap - 1;
  fresh->limit = cap / 2;
  fresh->bytes = bytes;
  // Only store() asks for table k, once table k - 1 is final.
  Table* before = k > 0 ? tables_[k - 1].load(std::memory_order_acquire) : nullptr;
  if (before != nullptr) copy_into(fresh, before);
  if (!tables_[k].compare_exchange_strong(t, fresh, std::memory_order_acq_rel)) {
    prim::os_unmap(fresh, bytes);  // another thread's copy won
    return t;
  }
  int newest = newest_.load(std::memory_order_relaxed);
  while (newest < k && !newest_.compare_exchange_weak(newest, k, std::memory_order_release)) {
  }
  if (before != nullptr) release_slots(before);  // the copy answers for it now
  return fresh;
}

// Gives the whole pages of a copied table's slots back to the OS (its header stays). A
// thread still probing it reads zeros there, which is "not in this table" to lookup() and
// store() alike, and store() then goes on to the newer table.
void StackTable::release_slots(const Table* t) {
  uintptr_t page = prim::page_size();
  uintptr_t lo = (uintptr_t(&t->slots[0]) + page - 1) & ~(page - 1);
  uintptr_t hi = (uintptr_t(t) + t->bytes) & ~(page - 1);
  if (lo < hi) prim::os_purge(reinterpret_cast<void*>(lo), hi - lo);
}

// Fills the unpublished table `to` with every stack of `from`, a final table (at most a
// quarter of `to`'s slots: a copy never closes it). A slot keeps only 32 bits of its hash,
// so the place in `to` comes from the hash of the record.
void StackTable::copy_into(Table* to, const Table* from) const {
  uint64_t copied = 0;
  for (uint64_t i = 0; i <= from->mask; ++i) {
    uint64_t v = from->slots[i].load(std::memory_order_relaxed);
    const uintptr_t* r = v != 0 ? record(slot_id(v)) : nullptr;
    if (r == nullptr) continue;
    uint64_t j = hash_stack(r + 1, r[0]) & to->mask;
    while (to->slots[j].load(std::memory_order_relaxed) != 0) j = (j + 1) & to->mask;
    to->slots[j].store(v, std::memory_order_relaxed);
    ++copied;
  }
  to->reserved.store(copied, std::memory_order_relaxed);
  to->settled.store(copied, std::memory_order_relaxed);
}

bool StackTable::equal(uint32_t id, const uintptr_t* pcs, size_t n) const {
  const uintptr_t* r = record(id);
  if (r[0] != n) return false;
  for (size_t i = 0; i < n; ++i)
    if (r[1 + i] != pcs[i]) return false;
  return true;
}

// 0 when the newest table seen lacks the stack (it may be in a newer one: store() looks).
uint32_t StackTable::lookup(uint64_t h, const uintptr_t* pcs, size_t n) const {
  uint32_t hh = uint32_t(h >> 32);
  const Table* t = tables_[newest_.load(std::memory_order_acquire)].load(std::memory_order_acquire);
  if (t == nullptr) return 0;
  for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
    uint64_t v = t->slots[i].load(std::memory_order_acquire);
    if (v == 0) return 0;
    if (slot_hash(v) == hh && equal(slot_id(v), pcs, n)) return slot_id(v);
  }
}

uint32_t StackTable::store(uint64_t h, const uintptr_t* pcs, size_t n) {
  // Write the record first; it is published by the slot CAS (release).
  uint64_t bytes = (n + 1) * sizeof(uintptr_t);
  uint64_t off;
  for (;;) {
    off = top_.fetch_add(bytes, std::memory_order_relaxed);
    if ((off >> kChunkShift) >= kMaxChunks) return 0;
    if ((off >> kChunkShift) == ((off + bytes - 1) >> kChunkShift)) break;  // else skip the tail
  }
  char* c = chunk(off >> kChunkShift);
  if (c == nullptr) return 0;
  auto* r = reinterpret_cast<uintptr_t*>(c + (off & (kChunkBytes - 1)));
  r[0] = n;
  for (size_t i = 0; i < n; ++i) r[1 + i] = pcs[i];
  uint32_t mine = next_id_.fetch_add(1, std::memory_order_acq_rel);
  if (mine >= kMaxDirPages << kDirShift) return 0;
  std::atomic<uint64_t>* page = dir_page(mine >> kDirShift);
  if (page == nullptr) return 0;
  page[mine & ((size_t(1) << kDirShift) - 1)].store(off, std::memory_order_release);
  uint64_t mine_slot = (h >> 32 << 32) | mine;
  uint32_t hh = uint32_t(h >> 32);

  // The newest table holds every stack of the older ones.
  for (int k = newest_.load(std::memory_order_acquire); k < kMaxTables; ++k) {
    Table* t = table(k);
    if (t == nullptr) return 0;
    bool held = false, final = false;
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
      uint64_t v = t->slots[i].load(std::memory_order_acquire);
      if (v == 0) {
        if (!held) {
          if (final) break;  // the table is full and final: go on to the next one
          if (t->reserved.fetch_add(1, std::memory_order_acq_rel) >= t->limit) {
            // Closed. Wait for every successful claim to land, then look once more.
            wait_settled(t->settled, t->limit);
            final = true;
            i = (h & t->mask) - 1;
            continue;
          }
          held = true;
        }
        if (t->slots[i].compare_exchange_strong(v, mine_slot, std::memory_order_acq_rel)) {
          t->settled.fetch_add(1, std::memory_order_release);
          count_.fetch_add(1, std::memory_order_relaxed);
          return mine;
        }
        // Lost the slot: v now holds the winner, which may be our stack.
      }
      if (slot_hash(v) == hh && equal(slot_id(v), pcs, n)) {
        if (held) t->settled.fetch_add(1, std::memory_order_release);
        return slot_id(v);
      }
    }
  }
  return 0;
}

uint32_t StackTable::intern(const uintptr_t* pcs, size_t n) {
  if (n == 0) return 0;
  if (n > kMaxFrames) n = kMaxFrames;
  uint64_t h = hash_stack(pcs, n);
  uint32_t id = lookup(h, pcs, n);
  return id != 0 ? id : store(h, pcs, n);
}

size_t StackTable::frames(uint32_t id, const uintptr_t** pcs) const {
  const uintptr_t* r = id == 0 || id >= id_limit() ? nullptr : record(id);
  if (r == nullptr) {
    *pcs = nullptr;
    return 0;
  }
  *pcs = r + 1;
  return r[0];
}

void StackTable::for_each_mapping(void (*fn)(uintptr_t, uintptr_t, void*), void* ctx) const {
  for (const auto& t : tables_) {
    const Table* p = t.load(std::memory_order_acquire);
    if (p != nullptr) fn(uintptr_t(p), uintptr_t(p) + p->bytes, ctx);
  }
  for (const auto& c : chunks_) {
    const char* p = c.load(std::memory_order_acquire);
    if (p != nullptr) fn(uintptr_t(p), uintptr_t(p) + kChunkBytes, ctx);
  }
  for (const auto& d : dir_) {
    const auto* p = d.load(std::memory_order_acquire);
    if (p != nullptr) fn(uintptr_t(p), uintptr_t(p) + kDirPageBytes, ctx);
  }
}

void StackTable::after_fork_child() {
  for (auto& t : tables_) {
    Table* p = t.load(std::memory_order_relaxed);
    // Claims in flight in other threads of the parent never land: count them as settled.
    if (p != nullptr) {
      uint64_t claimed = p->reserved.load(std::memory_order_relaxed);
      p->settled.store(claimed < p->limit ? claimed : p->limit);
    }
  }
}

}  // namespace mpshim::track
