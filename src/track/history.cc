#include "track/history.h"

#include "cpu/track_api.h"
#include "prim/defines.h"
#include "prim/lock.h"
#include "prim/os.h"

namespace mpshim::track {

namespace {

// Frees are spread over shards (one per thread, round robin) so threads rarely meet on a
// lock; each shard holds its share of the quarantine and a ring of g_ring records.
constexpr size_t kShards = 8;
// How many blocks ahead of the next to leave the quarantine its verification prefetches,
// and how many of such a block's filled bytes. Fetched much further ahead (16 blocks), the
// lines were gone again when their turn came.
constexpr uint64_t kAhead = 4;
constexpr uintptr_t kAheadBytes = 512;

struct Shard {
  prim::SpinLock lock;  // held for a push's few dozen instructions
  FreedBlock* ring = nullptr;
  uint64_t next = 0;    // records written
  uint64_t held = 0;    // first record still quarantined (held <= next)
  uint64_t bytes = 0;   // bytes quarantined
};

Shard g_shards[kShards];
FreedBlock* g_rings = nullptr;
size_t g_ring = 0;  // records a shard keeps (a power of two)
uint64_t g_quarantine = 0;  // bytes in all shards
// Bytes each shard may hold: the quarantine shared by the shards in use (a program with one
// thread that frees has all of it). It only shrinks, as threads claim shards.
std::atomic<uint64_t> g_limit{0};
std::atomic<uint32_t> g_next_shard{0};
MPSHIM_TLS uint32_t t_shard;  // shard + 1; 0 before the thread's first free
// Set while this thread holds a shard's lock: a signal handler that interrupted it and frees
// (or ends the process, freeing on the way) must not wait for that lock.
MPSHIM_TLS bool t_holding;

size_t rings_bytes() { return kShards * g_ring * sizeof(FreedBlock); }
MPSHIM_INLINE FreedBlock& at(const Shard& s, uint64_t k) { return s.ring[k & (g_ring - 1)]; }

MPSHIM_NOINLINE void claim_shard() {
  uint32_t n = g_next_shard.fetch_add(1, std::memory_order_relaxed);
  t_shard = n % kShards + 1;
  uint64_t used = n + 1 < kShards ? n + 1 : kShards;
  uint64_t limit = g_quarantine / used, cur = g_limit.load(std::memory_order_relaxed);
  while (limit < cur && !g_limit.compare_exchange_weak(cur, limit, std::memory_order_relaxed)) {
  }
}

Shard& my_shard() {
  if (MPSHIM_UNLIKELY(t_shard == 0)) claim_shard();
  return g_shards[t_shard - 1];
}

// Verifies a block leaving the quarantine; fills *e when it was written after its free.
bool verify(const FreedBlock& b, MemError* e) {
  const unsigned char* last;
  const unsigned char* bad = find_changed(reinterpret_cast<const unsigned char*>(b.user), b.fill, kFreedByte, &last);
  if (bad == nullptr) return true;
  e->kind = ErrorKind::UseAfterFree;
  e->addr = uintptr_t(bad);
  e->last = uintptr_t(last);
  describe_freed(b, e);
  return false;
}

// verify's test alone, inline: a MemError is built only for an error.
MPSHIM_INLINE bool intact(const FreedBlock& b) {
  const unsigned char* last;
  return find_changed(reinterpret_cast<const unsigned char*>(b.user), b.fill, kFreedByte, &last) == nullptr;
}

MPSHIM_NOINLINE void report_reuse(const FreedBlock& b) {
  MemError e;
  if (!verify(b, &e)) {
    e.found = Found::Reuse;
    report_error(e);
  }
}

}  // namespace

void describe_freed(const FreedBlock& b, MemError* e) {
  e->block = b.user;
  e->size = b.size;
  e->alloc_kind = b.kind;
  e->freed = true;
  e->alloc_stack = b.alloc_stack;
  e->free_stack = b.free_stack;
}

void history_init(uint64_t quarantine_bytes, size_t records) {
  g_quarantine = quarantine_bytes;
  g_limit.store(quarantine_bytes, std::memory_order_relaxed);
  for (g_ring = 1; g_ring < records; g_ring *= 2) {
  }
  g_rings = static_cast<FreedBlock*>(prim::os_map(rings_bytes()));
  if (g_rings == nullptr) return;
  for (size_t i = 0; i < kShards; ++i) g_shards[i].ring = g_rings + i * g_ring;
}

void history_push(const FreedBlock& b) {
  Shard& s = my_shard();
  if (s.ring == nullptr || MPSHIM_UNLIKELY(t_holding)) {
    if (b.slot != 0) cpu::release_block(reinterpret_cast<void*>(b.slot));
    return;
  }
  // Blocks pushed out are released after the lock is let go; a changed one is reported
  // first (the report may allocate and free).
  constexpr size_t kBatch = 16;
  FreedBlock out[kBatch];
  size_t nout = 0;
  t_holding = true;
  s.lock.lock();
  at(s, s.next) = b;
  ++s.next;
  if (b.slot != 0) s.bytes += b.size;
  else if (s.held == s.next - 1) ++s.held;  // a record only: never held
  uint64_t limit = g_limit.load(std::memory_order_relaxed);
  while (nout < kBatch && s.held < s.next && (s.bytes > limit || s.next - s.held >= g_ring)) {
    FreedBlock& old = at(s, s.held);
    ++s.held;
    if (old.slot == 0) continue;
    s.bytes -= old.size;
    out[nout++] = old;
    old.slot = 0;
  }
  // A block leaving the quarantine has been out of the cache for a while: fetch the one
  // that leaves a few frees from now, so its verification does not wait on memory.
  // Its filled lines (light fills 512 bytes at most), and the record after.
  if (s.next - s.held > kAhead) {
    const FreedBlock& soon = at(s, s.held + kAhead);
    if (soon.slot != 0 && soon.fill != 0) {
      uintptr_t end = soon.user + (soon.fill < kAheadBytes ? soon.fill : kAheadBytes);
      for (uintptr_t a = soon.user & ~uintptr_t(63); a < end; a += 64) __builtin_prefetch(reinterpret_cast<const void*>(a));
    }
    __builtin_prefetch(&at(s, s.held + 2 * kAhead));
  }
  s.lock.unlock();
  t_holding = false;
  for (size_t i = 0; i < nout; ++i) {
    if (MPSHIM_UNLIKELY(!intact(out[i]))) report_reuse(out[i]);
    cpu::release_block(reinterpret_cast<void*>(out[i].slot));
  }
}

namespace {

// Calls fn with the records of shard `s` that are still kept, newest first, under its lock,
// until fn returns true.
template <class Fn>
void newest_first(Shard& s, Fn fn) {
  if (s.ring == nullptr || t_holding) return;
  t_holding = true;
  s.lock.lock();
  uint64_t lo = s.next > g_ring ? s.next - g_ring : 0;
  for (uint64_t k = s.next; k > lo; --k)
    if (fn(at(s, k - 1))) break;
  s.lock.unlock();
  t_holding = false;
}

}  // namespace

bool history_find(uintptr_t addr, FreedBlock* out) {
  bool found = false;
  for (Shard& s : g_shards)
    newest_first(s, [&](const FreedBlock& b) {
      if (addr - b.user >= (b.size != 0 ? b.size : 1)) return false;
      // The newest record of each shard; across shards, an exact start first.
      if (!found || (addr == b.user && out->user != addr)) {
        *out = b;
        found = true;
      }
      return true;
    });
  return found;
}

bool history_find_start(uintptr_t addr, FreedBlock* out) {
  bool found = false;
  for (Shard& s : g_shards) {
    newest_first(s, [&](const FreedBlock& b) {
      if (b.user != addr) return false;
      *out = b;
      found = true;
      return true;
    });
    if (found) return true;
  }
  return false;
}

void history_verify_all() {
  for (Shard& s : g_shards) {
    if (s.ring == nullptr) continue;
    constexpr size_t kMaxErrors = 8;
    MemError errs[kMaxErrors];
    size_t n = 0;
    if (t_holding) return;
    t_holding = true;
    s.lock.lock();
    for (uint64_t k = s.held; k < s.next && n < kMaxErrors; ++k) {
      const FreedBlock& b = at(s, k);
      if (b.slot != 0 && !verify(b, &errs[n])) errs[n++].found = Found::Exit;
    }
    s.lock.unlock();
    t_holding = false;
    for (size_t i = 0; i < n; ++i) report_error(errs[i]);
  }
}

void history_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  if (g_rings != nullptr) fn(uintptr_t(g_rings), uintptr_t(g_rings) + rings_bytes(), ctx);
}

void history_before_fork() {
  for (Shard& s : g_shards) s.lock.lock();
}
void history_after_fork_parent() {
  for (Shard& s : g_shards) s.lock.unlock();
}
void history_after_fork_child() {
  for (Shard& s : g_shards) s.lock.reset();
}

}  // namespace mpshim::track
