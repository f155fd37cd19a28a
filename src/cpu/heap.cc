// The allocator's slow paths and the rest of heap.h.
#include "cpu/heap.h"

#include <cerrno>
#include <cstring>
#include <pthread.h>
#include <sched.h>

#include "config/options.h"
#include "cpu/central.h"
#include "cpu/fast.h"
#include "cpu/large.h"
#include "cpu/purge.h"
#include "cpu/state.h"
#include "cpu/tags.h"
#include "prim/thread.h"

namespace mpshim::cpu {

Settings g_settings;
Counters g_counters;
static std::atomic<int> g_init_state{0};  // 0 not started, 1 running, 2 done
static constexpr unsigned kLargeStat = kStatClasses - 1;

static void fork_prepare();
static void fork_parent();
static void fork_child();

static void init() {
  int expected = 0;
  if (!g_init_state.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    while (g_init_state.load(std::memory_order_acquire) != 2) sched_yield();
    return;
  }
  const config::Config& c = config::get();
  g_settings.purge_delay_ms = uint32_t(c.purge_delay_ms);
  g_settings.large_cache = c.large_cache;
  g_settings.thread_cache = c.thread_cache;
  thread_cache_init();
  g_init_state.store(2, std::memory_order_release);
  // May allocate (glibc keeps fork handlers in a growable array): after init is done.
  pthread_atfork(fork_prepare, fork_parent, fork_child);
}

static MPSHIM_INLINE void ensure_init() {
  if (MPSHIM_UNLIKELY(g_init_state.load(std::memory_order_acquire) != 2)) init();
}

void start() { ensure_init(); }

void enable_tags() { g_settings.tags = true; }
bool tags_enabled() { return g_settings.tags; }

void add_allocated(int64_t delta) {
  int64_t now = g_counters.allocated.fetch_add(delta, std::memory_order_relaxed) + delta;
  uint64_t peak = g_counters.peak.load(std::memory_order_relaxed);
  while (now > 0 && uint64_t(now) > peak &&
         !g_counters.peak.compare_exchange_weak(peak, uint64_t(now), std::memory_order_relaxed)) {
  }
}

void add_reserved(int64_t delta) {
  uint64_t now = g_counters.reserved.fetch_add(uint64_t(delta), std::memory_order_relaxed) + uint64_t(delta);
  uint64_t peak = g_counters.peak_reserved.load(std::memory_order_relaxed);
  while (now > peak && !g_counters.peak_reserved.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
  }
}

// Blocks that fill a class from this size on get a mapping of their own when they need
// slack (with_slack): 4 KiB of slack there is at most 6%, the next class 25%.
static constexpr size_t kSlackOwnMapping = 64u << 10;

namespace {

// The slow paths' callees (refills from the central pool above all) leave the address of
// the block they hand out in their frames, below the caller's stack pointer once they
// return. A later call of the program's that leaves its own slots unwritten (a thread
// waiting in the kernel) can hold such a stale copy inside a live frame, where the leak
// scan would find it and keep a lost block reachable: with tags on, the slow paths wipe
// the stack below themselves before they return.
constexpr size_t kWipeBytes = 2048;

MPSHIM_NOINLINE void wipe_stack_below() {
  char dead[kWipeBytes];
  __builtin_memset(dead, 0, sizeof dead);
  __asm__ volatile("" : : "r"(dead) : "memory");
}

}  // namespace

static void* alloc_large_block(size_t size, size_t align, size_t* dirty) {
  void* p = large_alloc(size, align, dirty);
  if (p == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  add_allocated(int64_t(large_usable(large_header(p))));
  g_counters.class_allocs[kLargeStat].fetch_add(1, std::memory_order_relaxed);
  maybe_purge();
  if (g_settings.tags) wipe_stack_below();
  return p;
}


void* alloc_slow(size_t size) {
  ensure_init();
  if (size > kMaxSmall) {
    size_t dirty;
    return alloc_large_block(size, 16, &dirty);
  }
  unsigned cls = class_of(size);
  ThreadCache* tc = thread_cache_get();
  void* p;
  if (tc == nullptr) {
    p = direct_alloc(cls);
    if (p != nullptr) {
      add_allocated(kClasses.info[cls].size);
      g_counters.class_allocs[cls].fetch_add(1, std::memory_order_relaxed);
    }
  } else if (tc->bins[cls].head != nullptr) {
    return alloc_fast(size);  // the cache was just created
  } else {
    p = thread_cache_refill(tc, cls);
    if (p != nullptr) tc->bins[cls].allocs++;
  }
  maybe_purge();
  if (p == nullptr) errno = ENOMEM;
  if (g_settings.tags) wipe_stack_below();
  return p;
}

bool free_slow(void* p) {
  ChunkKind kind = chunk_kind(p);
  if (kind == kChunkSegment) {
    Span* sp = span_of(p);
    if (sp == nullptr) return false;
    const ClassInfo& ci = kClasses.info[sp->cls];
    size_t off = size_t(static_cast<char*>(p) - sp->start());
    if (block_index(off, ci) * ci.size != off) return false;
    ThreadCache* tc = thread_cache_get();
    if (tc != nullptr) return free_fast(p);
    unsigned cls = sp->cls;
    add_allocated(-int64_t(kClasses.info[cls].size));
    g_counters.class_frees[cls].fetch_add(1, std::memory_order_relaxed);
    direct_free(cls, p);
    return true;
  }
  if (kind == kChunkLarge || kind == kChunkLargeTail) {
    LargeHeader* h = large_header(p);
    if (h == nullptr || !h->live || large_ptr(h) != p) return false;
    add_allocated(-int64_t(large_usable(h)));
    g_counters.class_frees[kLargeStat].fetch_add(1, std::memory_order_relaxed);
    large_free(h);
    maybe_purge();
    return true;
  }
  return false;
}

void* alloc(size_t size) { return alloc_fast(size); }

static bool fills_class(size_t size) {
  return size != 0 && size <= kMaxSmall && kClasses.info[class_of(size)].size == size;
}

size_t with_slack(size_t size) { return fills_class(size) ? size + 1 : size; }

void* alloc_with_slack(size_t size) {
  if (!fills_class(size)) return alloc_fast(size);
  if (size < kSlackOwnMapping) return alloc_fast(size + 1);
  ensure_init();
  size_t dirty;
  return alloc_large_block(size, 16, &dirty);
}

bool free(void* p) { return free_fast(p); }

void* alloc_aligned(size_t align, size_t size) {
  if (align <= 16) return alloc_fast(size);
  if (size > (size_t(1) << 46) || align > (size_t(1) << 40)) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t want = size > align ? size : align;
  if (align <= kPageSize && want <= kMaxSmall) {
    // Blocks of a class whose size is a multiple of `align` are aligned (spans start on
    // a 64 KiB boundary). A power of two class always exists.
    unsigned cls = class_of(want);
    while (kClasses.info[cls].size % align != 0) ++cls;
    if (cls < kNumClasses) return alloc_fast(kClasses.info[cls].size);
  }
  ensure_init();
  size_t dirty;
  return alloc_large_block(size, align, &dirty);
}

void* alloc_zeroed(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) {
    errno = ENOMEM;
    return nullptr;
  }
  if (total > kMaxSmall) {
    ensure_init();
    size_t dirty;
    void* p = alloc_large_block(total, 16, &dirty);
    // Pages the block never had are zero: a mapping grown to hold it is cleared only where
    // it was written before, so a big calloc costs what the program touches.
    if (p != nullptr) memset(p, 0, dirty < total ? dirty : total);
    return p;
  }
  void* p = alloc_fast(total);
  if (p != nullptr) memset(p, 0, total);
  return p;
}

size_t usable_size(const void* p) {
  ChunkKind kind = chunk_kind(p);
  if (kind == kChunkSegment) {
    Span* sp = span_of(p);
    return sp == nullptr ? 0 : kClasses.info[sp->cls].size;
  }
  if (kind == kChunkLarge || kind == kChunkLargeTail) {
    LargeHeader* h = large_header(p);
    return h == nullptr || !h->live ? 0 : large_usable(h);
  }
  return 0;
}

// Blocks from this size on try to grow in place. Smaller ones share their span with many
// others, so they are seldom alone in it, and copying them costs little.
static constexpr size_t kGrowInPlaceMin = 16u << 10;

// A big block grows where it is when the pages after its span are free, as glibc's heap
// grows a chunk into a free neighbour: nothing is copied, and a buffer growing step by
// step does not leave a freed block behind in every class it passes.
static bool grow_in_place(void* p, size_t size) {
  unsigned from = class_at(p), to = class_of(size);
  if (!central_grow(p, to)) return false;
  // For the statistics: a free of the old class and an allocation of the new one.
  ThreadCache* tc = t_cache;
  if (tc != nullptr) {
    tc->bins[from].frees++;
    tc->bins[to].allocs++;
  } else {
    add_allocated(int64_t(kClasses.info[to].size) - int64_t(kClasses.info[from].size));
    g_counters.class_frees[from].fetch_add(1, std::memory_order_relaxed);
    g_counters.class_allocs[to].fetch_add(1, std::memory_order_relaxed);
  }
  return true;
}

bool resize_in_place(void* p, size_t size) {
  if (chunk_kind(p) != kChunkSegment) return false;
  size_t old = usable_size(p);
  // Stay in place unless the block would be less than half used.
  if (size <= old) return size > old / 2 || old <= 16;
  return old >= kGrowInPlaceMin && size <= kMaxSmall && grow_in_place(p, size);
}

void* realloc(void* p, size_t size) {
  if (size > (size_t(1) << 46)) {
    errno = ENOMEM;
    return nullptr;
  }
  size_t old = usable_size(p);
  ChunkKind kind = chunk_kind(p);
  if (kind != kChunkSegment && size > kMaxSmall) {
    LargeHeader* h = large_header(p);
    void* n = large_realloc(h, size);
    if (n == nullptr) {
      errno = ENOMEM;
      return nullptr;
    }
    add_allocated(int64_t(large_usable(large_header(n))) - int64_t(old));
    return n;
  }
  if (kind == kChunkSegment && resize_in_place(p, size)) return p;
  void* n = alloc_fast(size);
  if (n == nullptr) return nullptr;
  memcpy(n, p, size < old ? size : old);
  free_fast(p);
  return n;
}

void ensure_thread_cache() { thread_cache_get(); }

bool owns(const void* p) {
  ChunkKind kind = chunk_kind(p);
  if (kind == kChunkSegment) return true;
  return kind != kChunkNone && large_header(p) != nullptr;
}

uint64_t* tag_of(const void* p) {
  ChunkKind kind = chunk_kind(p);
  if (kind == kChunkSegment) {
    // The page's entry, found from p alone, gives the block and whether p is its start
    // (one multiplication): no look at the span or the class first.
    uintptr_t base = chunk_base(p);
    const PageTags& e = reinterpret_cast<const Segment*>(base)->page_tags[(reinterpret_cast<uintptr_t>(p) >> kPageShift) & (kPagesPerSegment - 1)];
    uint64_t* tags = e.tags();
    if (tags == nullptr) return nullptr;
    size_t off = reinterpret_cast<uintptr_t>(p) - base - (e.first() << kPageShift);
    size_t idx = block_index(off, e.inverse());
    if (!at_block_start(off, e.inverse()) || idx >= e.objects()) return nullptr;
    return &tags[idx];
  }
  if (kind == kChunkLarge || kind == kChunkLargeTail) {
    LargeHeader* h = large_header(p);
    return h != nullptr && large_ptr(h) == p ? &h->tag : nullptr;
  }
  return nullptr;
}

bool find_block(const void* addr, void** start, size_t* usable, uint64_t** tag) {
  ChunkKind kind = chunk_kind(addr);
  if (kind == kChunkSegment) {
    // As tag_of: the page's entry first, the class's size and the span's bump beside it.
    uintptr_t base = chunk_base(addr);
    const auto* seg = reinterpret_cast<const Segment*>(base);
    size_t page = (reinterpret_cast<uintptr_t>(addr) >> kPageShift) & (kPagesPerSegment - 1);
    const PageTags& e = seg->page_tags[page];
    uint64_t* tags = e.tags();
    if (tags == nullptr) return false;
    char* span_start = reinterpret_cast<char*>(base) + (e.first() << kPageShift);
    size_t idx = block_index(size_t(static_cast<const char*>(addr) - span_start), e.inverse());
    uint32_t size = kClasses.info[seg->page_class[page]].size;
    char* s = span_start + idx * size;
    if (idx >= e.objects() || s >= seg->spans[e.first()].bump) return false;  // never handed out
    *start = s;
    *usable = size;
    *tag = &tags[idx];
    return true;
  }
  if (kind == kChunkLarge || kind == kChunkLargeTail) {
    LargeHeader* h = large_header(addr);
    if (h == nullptr || !h->live || static_cast<const char*>(addr) < static_cast<char*>(large_ptr(h))) return false;
    *start = large_ptr(h);
    *usable = large_usable(h);
    *tag = &h->tag;
    return true;
  }
  return false;
}

struct TaggedCtx {
  void (*fn)(void*, size_t, uint64_t*, void*);
  void* ctx;
};

static void tagged_in_segment(Segment* seg, void* arg) {
  TaggedCtx* t = static_cast<TaggedCtx*>(arg);
  for (unsigned first = 1; first < kPagesPerSegment;) {
    Span* sp = &seg->spans[first];
    if (sp->cls == 0 || seg->page_span[first] != first || (seg->free_mask >> first & 1)) {
      ++first;
      continue;
    }
    uint32_t size = kClasses.info[sp->cls].size;
    size_t carved = sp->tags == nullptr ? 0 : size_t(sp->bump - sp->start()) / size;
    for (size_t i = 0; i < carved; ++i) {
      uint64_t* tag = &sp->tags[i];
      if (*tag != 0) t->fn(sp->start() + i * size, size, tag, t->ctx);
    }
    first += sp->pages;
  }
}

static void tagged_large(LargeHeader* h, void* arg) {
  TaggedCtx* t = static_cast<TaggedCtx*>(arg);
  if (h->tag != 0) t->fn(large_ptr(h), large_usable(h), &h->tag, t->ctx);
}

void for_each_tagged(void (*fn)(void*, size_t, uint64_t*, void*), void* ctx) {
  TaggedCtx t{fn, ctx};
  page_heap_for_each(tagged_in_segment, &t);
  large_for_each_live(tagged_large, &t);
}

struct RangeCtx {
  void (*fn)(uintptr_t, uintptr_t, void*);
  void* ctx;
};

static void range_segment(Segment* seg, void* arg) {
  RangeCtx* r = static_cast<RangeCtx*>(arg);
  uintptr_t lo = reinterpret_cast<uintptr_t>(seg);
  r->fn(lo, lo + kChunkSize, r->ctx);
}

static void range_large(LargeHeader* h, void* arg) {
  RangeCtx* r = static_cast<RangeCtx*>(arg);
  uintptr_t lo = reinterpret_cast<uintptr_t>(h);
  r->fn(lo, lo + h->map_size, r->ctx);
}

static void range_thread_cache(ThreadCache* tc, void* arg) {
  RangeCtx* r = static_cast<RangeCtx*>(arg);
  auto lo = reinterpret_cast<uintptr_t>(tc);
  r->fn(lo, lo + sizeof(ThreadCache), r->ctx);
}

void for_each_heap_range(void (*fn)(uintptr_t, uintptr_t, void*), void* ctx) {
  RangeCtx r{fn, ctx};
  // The chunk table holds no pointers; scanning its 32 MiB would only cost time.
  uintptr_t map = reinterpret_cast<uintptr_t>(&g_chunk_kind[0]);
  fn(map, map + sizeof g_chunk_kind, ctx);
  // The central pools' transfer caches point at free blocks, and a slot above the count
  // still names the head of a batch handed out since, which may be a leaked block now.
  uintptr_t central = reinterpret_cast<uintptr_t>(&g_central[0]);
  fn(central, central + sizeof g_central, ctx);
  page_heap_for_each(range_segment, &r);
  tags_for_each_mapping(fn, ctx);
  // Thread caches hold free-list heads and the tracker's stack-walk memos: no live pointers.
  thread_cache_for_each_unlocked(range_thread_cache, &r);
  large_for_each_live(range_large, &r);
  large_for_each_cached(range_large, &r);
}

struct ThreadCtx {
  void (*fn)(uintptr_t, bool, int, void*);
  void* ctx;
};

static void each_thread(ThreadCache* tc, void* arg) {
  ThreadCtx* t = static_cast<ThreadCtx*>(arg);
  if (tc->alive) t->fn(tc->stack_addr, true, tc->tid, t->ctx);
}

static void each_dead_stack(uintptr_t addr, void* arg) {
  ThreadCtx* t = static_cast<ThreadCtx*>(arg);
  t->fn(addr, false, 0, t->ctx);
}

void for_each_thread(void (*fn)(uintptr_t, bool, int, void*), void* ctx) {
  ThreadCtx t{fn, ctx};
  // The registry lock is held by lock_all() during a scan; walk without it then.
  thread_cache_for_each_unlocked(each_thread, &t);
  thread_cache_for_each_dead_stack(each_dead_stack, &t);
}

void lock_all() {
  for (unsigned c = 1; c < kNumClasses; ++c) g_central[c].lock.lock();
  g_page_heap_lock.lock();
  large_lock();
  thread_cache_lock();
}

void unlock_all() {
  thread_cache_unlock();
  large_unlock();
  g_page_heap_lock.unlock();
  for (unsigned c = kNumClasses - 1; c > 0; --c) g_central[c].lock.unlock();
}

// No other thread can hold a lock in a single-threaded process, but the code a signal
// handler's fork interrupted may: take none then, and leave the child's as they are for
// that code to finish (prim::single_threaded).
static bool g_fork_locked = false;

static void fork_prepare() {
  g_fork_locked = !prim::single_threaded();
  if (g_fork_locked) lock_all();
}

static void fork_parent() {
  if (g_fork_locked) unlock_all();
}

static void fork_child() {
  if (!g_fork_locked) return;
  purge_after_fork_child();
  thread_cache_after_fork_child();
  large_after_fork_child();
  g_page_heap_lock.reset();
  for (unsigned c = 1; c < kNumClasses; ++c) g_central[c].lock.reset();
}

void flush_thread_cache() {
  if (t_cache != nullptr) thread_cache_flush(t_cache);
}

bool trim() {
  flush_thread_cache();
  uint64_t before = g_counters.purged.load(std::memory_order_relaxed);
  purge_now(true);
  return g_counters.purged.load(std::memory_order_relaxed) != before;
}

}  // namespace mpshim::cpu
