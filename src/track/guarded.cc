#include "track/guarded.h"

#include "prim/lock.h"
#include "prim/os.h"
#include "track/history.h"

namespace mpshim::track {

namespace {

enum class State : uint8_t { Live, Freed, Open };  // Open: reported, made accessible

struct Guarded {
  uintptr_t map;     // data pages, between two guard pages (map - page() and map + data)
  size_t data;       // bytes of data pages
  uintptr_t user;
  uint64_t size;
  uint64_t freed_at;  // order of frees, for eviction
  uint32_t alloc_stack, free_stack;
  Kind kind;
  State state;
  bool guard_open;  // a reported fault made a guard page accessible
};

prim::Lock g_lock;
Guarded* g_items = nullptr;  // sorted by map
size_t g_len = 0, g_cap = 0, g_bytes_cap = 0;
size_t g_slots = 0;
size_t g_nfreed = 0;  // records of freed blocks (their slots can be taken)
uint64_t g_freed_limit = 0, g_freed_bytes = 0, g_frees = 0;
uint64_t g_live_bytes = 0;  // pages of live blocks

// Full mode: mappings of freed blocks evicted after their time inaccessible, kept whole
// (pages resident, all inaccessible) for new blocks to take over, the oldest dropped first:
// at most the quarantine's bytes (4 x g_freed_limit) or half the pages of the live blocks,
// whichever is more, so a program of big blocks reuses their pages as the allocator
// would. A block's pages mapped afresh fault in one by one when first written, and a
// program of many big blocks spent most of its time there.
struct Spare {
  uintptr_t map;  // data pages, between guard pages, as in Guarded
  size_t data;
};
constexpr size_t kSpares = 64;
Spare g_spares[kSpares];
size_t g_nspares = 0;
uint64_t g_spare_bytes = 0;

size_t page() { return prim::page_size(); }

// g_len and g_nfreed change under the lock and are read without it (hints).
void add(size_t& counter, long d) { __atomic_store_n(&counter, counter + size_t(d), __ATOMIC_RELAXED); }

// A slot for a new block: none while every one holds a live block (sample mode). Also
// read without the lock, as a hint: a program that keeps its sampled blocks (or, at
// MPSHIM_SAMPLE_RATE=1, any program) would otherwise map, protect and unmap a block's
// pages on every sample only to find no slot.
bool has_room() {
  return g_slots == 0 || __atomic_load_n(&g_len, __ATOMIC_RELAXED) < g_slots ||
         __atomic_load_n(&g_nfreed, __ATOMIC_RELAXED) != 0;
}

// Index of the record whose mapping holds `addr`, or -1. Lock held.
long holder(uintptr_t addr) {
  size_t lo = 0, hi = g_len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g_items[mid].map <= addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo == 0) return -1;
  const Guarded& g = g_items[lo - 1];
  return addr - g.map < g.data + page() ? long(lo - 1) : -1;
}

bool grow() {
  size_t bytes = g_bytes_cap == 0 ? (size_t(64) << 10) : g_bytes_cap * 2;
  auto* items = static_cast<Guarded*>(prim::os_map(bytes));
  if (items == nullptr) return false;
  for (size_t i = 0; i < g_len; ++i) items[i] = g_items[i];
  if (g_items != nullptr) prim::os_unmap(g_items, g_bytes_cap);
  g_items = items;
  g_bytes_cap = bytes;
  g_cap = bytes / sizeof(Guarded);
  return true;
}

void remove_at(size_t i) {
  for (size_t k = i + 1; k < g_len; ++k) g_items[k - 1] = g_items[k];
  add(g_len, -1);
}

void unmap_block(uintptr_t map, size_t data) {
  prim::os_unmap(reinterpret_cast<void*>(map - page()), data + 2 * page());
}

void drop_oldest_spare() {
  unmap_block(g_spares[0].map, g_spares[0].data);
  g_spare_bytes -= g_spares[0].data;
  for (size_t i = 1; i < g_nspares; ++i) g_spares[i - 1] = g_spares[i];
  --g_nspares;
}

// Keeps an evicted block's mapping (inaccessible whole) as a spare, or unmaps it.
void keep_spare(uintptr_t map, size_t data) {
  uint64_t limit = 4 * g_freed_limit > g_live_bytes / 2 ? 4 * g_freed_limit : g_live_bytes / 2;
  if (g_slots != 0 || data > limit) return unmap_block(map, data);
  while (g_nspares != 0 && (g_nspares == kSpares || g_spare_bytes + data > limit)) drop_oldest_spare();
  g_spares[g_nspares++] = Spare{map, data};
  g_spare_bytes += data;
}

// Full mode: the smallest spare of at least `data` bytes, cut to `data` and made
// accessible; false when none. Its pages below them, less the new lower guard page, stay
// a spare with a guard page of its own when they would hold a block that is guarded too
// (above MPSHIM_GUARD_SIZE), else are unmapped. Lock held.
bool take_spare(size_t data, uintptr_t* map) {
  long best = -1;
  for (size_t i = 0; i < g_nspares; ++i)
    if (g_spares[i].data >= data && (best < 0 || g_spares[i].data < g_spares[best].data)) best = long(i);
  if (best < 0) return false;
  Spare sp = g_spares[best];
  for (size_t i = size_t(best) + 1; i < g_nspares; ++i) g_spares[i - 1] = g_spares[i];
  --g_nspares;
  g_spare_bytes -= sp.data;
  uintptr_t at = sp.map + (sp.data - data);
  size_t rest = sp.data - data;  // below the new block's lower guard page
  if (rest >= 2 * page() + g_guard_size) {
    g_spares[g_nspares++] = Spare{sp.map, rest - 2 * page()};
    g_spare_bytes += rest - 2 * page();
  } else if (rest != 0) {
    prim::os_unmap(reinterpret_cast<void*>(sp.map - page()), rest);
  }
  if (rest != 0) prim::os_guard(reinterpret_cast<void*>(at - page()), page());  // was a data page
  if (!prim::os_protect(reinterpret_cast<void*>(at), data, true)) {
    unmap_block(at, data);
    return false;
  }
  *map = at;
  return true;
}

// Evicts the freed block freed longest ago (its mapping kept as a spare or unmapped).
// Lock held.
bool evict_oldest() {
  long best = -1;
  for (size_t i = 0; i < g_len; ++i)
    if (g_items[i].state != State::Live && (best < 0 || g_items[i].freed_at < g_items[best].freed_at))
      best = long(i);
  if (best < 0) return false;
  Guarded g = g_items[best];
  remove_at(size_t(best));
  add(g_nfreed, -1);
  g_freed_bytes -= g.data;
  // A block a reported fault opened is not all inaccessible any more.
  if (g.guard_open || g.state == State::Open) unmap_block(g.map, g.data);
  else keep_spare(g.map, g.data);
  return true;
}

void fill_error(const Guarded& g, MemError* e) {
  e->block = g.user;
  e->size = g.size;
  e->alloc_kind = g.kind;
  e->alloc_stack = g.alloc_stack;
  e->freed = g.state != State::Live;
  e->free_stack = e->freed ? g.free_stack : 0;
}

// Takes over the pages of the freed block freed longest ago when it has `data` bytes of
// them and the slots are full (sample mode: the block would be evicted anyway): one
// mprotect instead of an munmap, an mmap and a guard page's mprotect. Its record becomes
// the new block's (same mapping, so the table stays sorted). Lock held.
bool reuse_oldest(size_t data, uintptr_t* map, size_t* at) {
  if (g_slots == 0 || g_len < g_slots) return false;
  long best = -1;
  for (size_t i = 0; i < g_len; ++i)
    if (g_items[i].state != State::Live && (best < 0 || g_items[i].freed_at < g_items[best].freed_at))
      best = long(i);
  if (best < 0 || g_items[best].data != data) return false;
  Guarded& g = g_items[best];
  // A reported fault may have opened its guard pages (with its data pages once freed).
  if (g.guard_open || g.state == State::Open) {
    prim::os_guard(reinterpret_cast<void*>(g.map - page()), page());
    prim::os_guard(reinterpret_cast<void*>(g.map + g.data), page());
  }
  if (!prim::os_protect(reinterpret_cast<void*>(g.map), g.data, true)) return false;
  // A one-page block kept its page (guarded_free): its pointers, before the new block or
  // inside it, would keep what it pointed to reachable. Bigger ones were purged (zeroes).
  if (g.data == page()) __builtin_memset(reinterpret_cast<void*>(g.map), 0, g.data);
  add(g_nfreed, -1);
  g_freed_bytes -= g.data;
  *map = g.map;
  *at = size_t(best);
  return true;
}

// A live guarded block's slack before and after it, verified; fills *e when one changed.
bool slack_intact(const Guarded& g, MemError* e) {
  const unsigned char* last;
  const unsigned char* tail = reinterpret_cast<const unsigned char*>(g.user + g.size);
  const unsigned char* bad = find_changed(tail, g.map + g.data - uintptr_t(tail), kRedzoneByte, &last);
  e->kind = ErrorKind::HeapOverflow;
  if (bad == nullptr) {
    bad = find_changed(reinterpret_cast<const unsigned char*>(g.map), g.user - g.map, kRedzoneByte, &last);
    e->kind = ErrorKind::HeapUnderflow;
  }
  if (bad == nullptr) return true;
  fill_error(g, e);
  e->addr = uintptr_t(bad);
  e->last = uintptr_t(last);
  return false;
}

// The bytes of a block's pages before it and the few between it and the guard page
// (alignment) get the redzone pattern, checked at free and at exit. Written before the
// block's record is live: a process forked meanwhile never finds a live one unwritten.
void fill_slack(uintptr_t map, size_t data, uintptr_t user, size_t size) {
  __builtin_memset(reinterpret_cast<void*>(map), kRedzoneByte, user - map);
  __builtin_memset(reinterpret_cast<void*>(user + size), kRedzoneByte, map + data - (user + size));
}

}  // namespace

void guarded_init(size_t slots, uint64_t freed_bytes) {
  g_slots = slots;
  g_freed_limit = freed_bytes;
}

void* guarded_alloc(size_t size, size_t align, Kind kind) {
  size_t pg = page();
  if (align > pg || size > (size_t(1) << 40)) return nullptr;
  if (align < 16) align = 16;
  size_t data = (size + pg - 1) & ~(pg - 1);
  if (data == 0) data = pg;
  auto user_at = [&](uintptr_t map) { return (map + data - size) & ~(uintptr_t(align) - 1); };
  if (!has_room()) return nullptr;
  uint32_t stack = capture_current();
  uintptr_t map = 0;
  bool spare = false;
  {
    prim::Guard l(g_lock);
    size_t at;
    if (reuse_oldest(data, &map, &at)) {
      fill_slack(map, data, user_at(map), size);
      g_items[at] = Guarded{map, data, user_at(map), size, 0, stack, 0, kind, State::Live, false};
      g_live_bytes += data;
    }
  }
  if (map == 0) {
    {
      prim::Guard l(g_lock);
      spare = g_slots == 0 && take_spare(data, &map);
    }
    if (!spare) {
      uintptr_t base = uintptr_t(prim::os_map(data + 2 * pg));
      if (base == 0) return nullptr;
      map = base + pg;
      prim::os_guard(reinterpret_cast<void*>(base), pg);
      prim::os_guard(reinterpret_cast<void*>(map + data), pg);
    }
    fill_slack(map, data, user_at(map), size);
    bool ok;
    {
      prim::Guard l(g_lock);
      while (g_slots != 0 && g_len >= g_slots && evict_oldest()) {
      }
      ok = (g_slots == 0 || g_len < g_slots) && (g_len < g_cap || grow());
      if (ok) {
        size_t at = 0;
        while (at < g_len && g_items[at].map < map) ++at;
        for (size_t k = g_len; k > at; --k) g_items[k] = g_items[k - 1];
        g_items[at] = Guarded{map, data, user_at(map), size, 0, stack, 0, kind, State::Live, false};
        add(g_len, 1);
        g_live_bytes += data;
      }
    }
    if (!ok) {
      prim::os_unmap(reinterpret_cast<void*>(map - pg), data + 2 * pg);
      return nullptr;
    }
  }
  uintptr_t user = user_at(map);
  // Full mode fills the block itself as it fills others (on fresh pages its first
  // kUninitFreshFill bytes); a spare's pages hold an old block's bytes, which calloc's must
  // not show even for a moment (a leak scan now).
  if (g_check == CheckMode::Full && kind != Kind::Calloc)
    __builtin_memset(reinterpret_cast<void*>(user), kUninitByte,
                     spare || size < kUninitFreshFill ? size : kUninitFreshFill);
  else if (spare)
    __builtin_memset(reinterpret_cast<void*>(user), 0, size);
  record_foreign(reinterpret_cast<void*>(user), size, kind, stack);
  return reinterpret_cast<void*>(user);
}

bool guarded_free(void* ptr, Dealloc how, const char* call, uint64_t sized) {
  uintptr_t p = uintptr_t(ptr);
  if (g_len == 0) return false;
  MemError errs[2];
  size_t nerr = 0;
  uint32_t free_stack = 0;
  bool release = false;
  {
    prim::Guard l(g_lock);
    long i = holder(p);
    if (i < 0) return false;
    Guarded& g = g_items[i];
    MemError& e = errs[0];
    e.addr = p;
    e.call = call;
    fill_error(g, &e);
    if (g.state != State::Live) {
      e.kind = p == g.user ? ErrorKind::DoubleFree : ErrorKind::BadFree;
      nerr = 1;
    } else if (p != g.user) {
      e.kind = ErrorKind::BadFree;
      nerr = 1;
    } else {
      release = true;
      if (mismatched(g.kind, how)) {
        e.kind = ErrorKind::Mismatch;
        nerr = 1;
      } else if (sized != kAnySize && sized != g.size) {
        e.kind = ErrorKind::SizeMismatch;
        e.call_size = sized;
        nerr = 1;
      }
      // A guard page a fault opened was reported, with the write that reached it through
      // the slack: not again.
      if (!g.guard_open && !slack_intact(g, &errs[nerr])) errs[nerr++].found = how == Dealloc::Realloc ? Found::Realloc : Found::Free;
      // Its record goes first: a leak scan (here or in a child forked meanwhile) must
      // never read pages that are about to become inaccessible.
      forget_foreign(ptr, how != Dealloc::Realloc);
      // Inaccessible from now on, kept until evicted. In sample mode its pages are given
      // back unless it has one (then at most one page a slot stays resident, and its
      // reuse does not fault); full mode keeps them for a spare (keep_spare).
      if (g_slots != 0 && g.data > page()) prim::os_purge(reinterpret_cast<void*>(g.map), g.data);
      prim::os_protect(reinterpret_cast<void*>(g.map), g.data, false);
      g.state = State::Freed;
      g_live_bytes -= g.data;
      add(g_nfreed, 1);
      g.freed_at = ++g_frees;
      g_freed_bytes += g.data;
      while (g_freed_bytes > g_freed_limit && evict_oldest()) {
      }
    }
  }
  if (nerr == 1 && errs[0].kind == ErrorKind::BadFree && errs[0].freed) {
    // Inside a freed block's pages: a block freed earlier may have started at `p` (the
    // pages a sampled block took over), and this is its double free.
    FreedBlock h;
    if (history_find_start(p, &h)) {
      errs[0].kind = ErrorKind::DoubleFree;
      describe_freed(h, &errs[0]);
    }
  }
  if (release) {
    free_stack = capture_current();
    FreedBlock rec{0, p, errs[0].size, errs[0].alloc_stack, free_stack, 0, errs[0].alloc_kind, Memory::Host};
    {
      prim::Guard l(g_lock);
      long i = holder(p);
      if (i >= 0 && g_items[i].user == p) g_items[i].free_stack = free_stack;
    }
    // A record in the history outlives the slot (evicted, unmapped): a later double free
    // is still named as one, with both stacks.
    history_push(rec);
  }
  for (size_t k = 0; k < nerr; ++k) {
    if (errs[k].kind == ErrorKind::Mismatch) {
      errs[k].access_stack = free_stack != 0 ? free_stack : capture_current();
      if (!real_mismatch(errs[k].alloc_kind, how, errs[k].alloc_stack, errs[k].access_stack)) continue;
    }
    report_error(errs[k]);
  }
  return true;
}

void guarded_verify_all() {
  if (g_len == 0) return;
  constexpr size_t kMaxErrors = 8;
  MemError errs[kMaxErrors];
  size_t n = 0;
  {
    prim::Guard l(g_lock);
    for (size_t i = 0; i < g_len && n < kMaxErrors; ++i)
      if (g_items[i].state == State::Live && !g_items[i].guard_open && !slack_intact(g_items[i], &errs[n]))
        errs[n++].found = Found::Exit;
  }
  for (size_t i = 0; i < n; ++i) report_error(errs[i]);
}

bool guarded_size(const void* p, uint64_t* size) {
  if (g_len == 0) return false;
  prim::Guard l(g_lock);
  long i = holder(uintptr_t(p));
  if (i < 0 || g_items[i].user != uintptr_t(p) || g_items[i].state != State::Live) return false;
  *size = g_items[i].size;
  return true;
}

bool guarded_fault(uintptr_t addr, bool* go_on, MemError* e) {
  prim::Guard l(g_lock);
  long i = holder(addr);
  if (i < 0) {
    // The guard page below a block's pages: an underflow past its first page.
    size_t lo = 0, hi = g_len;  // the first block mapped above addr
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (g_items[mid].map <= addr) lo = mid + 1;
      else hi = mid;
    }
    if (lo == g_len || g_items[lo].map - addr > page()) return false;
    Guarded& g = g_items[lo];
    fill_error(g, e);
    e->found = Found::Fault;
    e->addr = addr;
    e->kind = ErrorKind::HeapUnderflow;
    if (*go_on) {
      prim::os_protect(reinterpret_cast<void*>(g.map - page()), page(), true);
      g.guard_open = true;
    }
    return true;
  }
  bool recover = *go_on;
  Guarded& g = g_items[i];
  uintptr_t guard = g.map + g.data;
  fill_error(g, e);
  e->found = Found::Fault;
  e->addr = addr;
  if (g.state == State::Live) {
    if (addr < guard) return false;  // not a fault of ours
    e->kind = ErrorKind::HeapOverflow;
    if (recover) {
      prim::os_protect(reinterpret_cast<void*>(guard), page(), true);
      g.guard_open = true;
    }
    return true;
  }
  if (g.state == State::Open && addr < guard) return false;
  // A freed block's pages and guard page are all inaccessible: outside the block itself
  // the access over- or underflows it (the report says the block was freed).
  e->kind = addr < g.user            ? ErrorKind::HeapUnderflow
            : addr >= g.user + g.size ? ErrorKind::HeapOverflow
                                      : ErrorKind::UseAfterFree;
  if (recover) {
    prim::os_protect(reinterpret_cast<void*>(g.map), g.data + page(), true);
    g.state = State::Open;
  }
  return true;
}

void guarded_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  if (g_items != nullptr) fn(uintptr_t(g_items), uintptr_t(g_items) + g_bytes_cap, ctx);
}

void guarded_lock() { g_lock.lock(); }
void guarded_unlock() { g_lock.unlock(); }

bool follows_guard_page(uintptr_t addr) {
  // Items are sorted by mapping: the one whose pages and guard end at `addr`, or whose
  // pages start there (above their own lower guard page).
  size_t lo = 0, hi = g_len;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (g_items[mid].map + g_items[mid].data + page() < addr) lo = mid + 1;
    else hi = mid;
  }
  if (lo < g_len && (g_items[lo].map + g_items[lo].data + page() == addr || g_items[lo].map == addr)) return true;
  for (size_t i = 0; i < g_nspares; ++i)  // inaccessible whole: only what lies above one
    if (g_spares[i].map + g_spares[i].data + page() == addr) return true;
  return false;
}

void guarded_before_fork() { g_lock.lock(); }
void guarded_after_fork_parent() { g_lock.unlock(); }
void guarded_after_fork_child() { g_lock.reset(); }

}  // namespace mpshim::track
