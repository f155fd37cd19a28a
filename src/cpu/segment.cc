#include "cpu/segment.h"

#include "cpu/large.h"
#include "cpu/state.h"
#include "cpu/tags.h"
#include "prim/os.h"

namespace mpshim::cpu {

prim::Lock g_page_heap_lock;
static Segment* g_segments = nullptr;
static size_t g_dirty_pages = 0;  // free pages still committed, over all segments

// Free committed pages beyond this wait for no delay: a quarter of the reserved memory,
// at least 16 MiB, so churn reuses pages without faults while RSS stays near the live size.
static size_t dirty_budget_pages() {
  size_t reserved = g_counters.reserved.load(std::memory_order_relaxed);
  size_t budget = reserved / 4 > (16u << 20) ? reserved / 4 : (16u << 20);
  return budget >> kPageShift;
}


constexpr uint64_t kAllPages = ~uint64_t(1);  // every page but the header page

uint32_t now_ms() { return uint32_t(prim::now_ns() / 1000000); }

// Lowest start of `n` consecutive set bits in `mask`, or 64.
static unsigned find_run(uint64_t mask, unsigned n) {
  uint64_t m = mask;
  for (unsigned i = 1; i < n && m != 0; ++i) m &= mask >> i;
  return m == 0 ? 64 : unsigned(__builtin_ctzll(m));
}

static uint64_t run_mask(unsigned first, unsigned n) {
  return (n == 64 ? ~uint64_t(0) : ((uint64_t(1) << n) - 1)) << first;
}

static void purge_pages(Segment* seg, unsigned first, unsigned n) {
  prim::os_purge(reinterpret_cast<char*>(seg) + (size_t(first) << kPageShift), size_t(n) << kPageShift);
  g_counters.purged.fetch_add(size_t(n) << kPageShift, std::memory_order_relaxed);
  seg->dirty_mask &= ~run_mask(first, n);
  g_dirty_pages -= n;
}

static Segment* segment_new() {
  // Freed large blocks wait in their cache, resident, in case a large block is asked for
  // again; a program whose small blocks grow instead would keep both, so the segment takes
  // the place of the oldest (tesseract's peak RSS: 1.28 x glibc's before, 1.17 x).
  large_release(kChunkSize);
  Segment* seg = static_cast<Segment*>(prim::os_map_aligned(kChunkSize, kChunkSize));
  if (seg == nullptr) return nullptr;
  seg->free_mask = kAllPages;
  seg->dirty_mask = 0;  // fresh pages are not committed yet
  seg->next = g_segments;
  if (g_segments != nullptr) g_segments->prev = seg;
  g_segments = seg;
  mark_chunks(reinterpret_cast<uintptr_t>(seg), kChunkSize, kChunkSegment, kChunkSegment);
  add_reserved(int64_t(kChunkSize));
  return seg;
}

static void segment_delete(Segment* seg) {
  if (seg->prev != nullptr) seg->prev->next = seg->next; else g_segments = seg->next;
  if (seg->next != nullptr) seg->next->prev = seg->prev;
  mark_chunks(reinterpret_cast<uintptr_t>(seg), kChunkSize, kChunkNone, kChunkNone);
  g_dirty_pages -= size_t(__builtin_popcountll(seg->dirty_mask));
  prim::os_unmap(seg, kChunkSize);
  add_reserved(-int64_t(kChunkSize));
}

// Points the entries of the pages of `sp` (all of its carved pages, the rest zero) at its
// tags, or clears them when it has none.
static void set_page_tags(Segment* seg, const Span* sp, const ClassInfo& ci) {
  static_assert(kPagesPerSegment <= 64 && alignof(Span) >= 64);
  size_t carved = sp->tags == nullptr ? 0 : (size_t(ci.objects) * ci.size + kPageSize - 1) >> kPageShift;
  PageTags e{reinterpret_cast<uintptr_t>(sp->tags) | sp->first, ci.inverse | uint64_t(ci.objects) << 40};
  for (unsigned i = sp->first; i < unsigned(sp->first) + sp->pages; ++i)
    seg->page_tags[i] = i - sp->first < carved ? e : PageTags{};
}

Span* page_heap_alloc(unsigned cls, unsigned pages) {
  prim::Guard g(g_page_heap_lock);
  const ClassInfo& ci = kClasses.info[cls];
  uint64_t* tags = nullptr;
  if (g_settings.tags && (tags = tags_take(cls)) == nullptr) return nullptr;
  Segment* found = nullptr;
  unsigned first = 64;
  // Prefer pages that are still committed: reusing them costs no page faults.
  for (Segment* s = g_segments; s != nullptr && found == nullptr; s = s->next) {
    first = find_run(s->free_mask & s->dirty_mask, pages);
    if (first < 64) found = s;
  }
  for (Segment* s = g_segments; s != nullptr && found == nullptr; s = s->next) {
    first = find_run(s->free_mask, pages);
    if (first < 64) found = s;
  }
  if (found == nullptr) {
    found = segment_new();
    if (found == nullptr) {
      tags_give(tags, cls);
      return nullptr;
    }
    first = 1;
  }
  uint64_t run = run_mask(first, pages);
  found->free_mask &= ~run;
  g_dirty_pages -= size_t(__builtin_popcountll(found->dirty_mask & run));
  found->dirty_mask &= ~run;
  for (unsigned i = first; i < first + pages; ++i) {
    found->page_span[i] = uint8_t(first);
    found->page_class[i] = uint8_t(cls);
  }
  Span* sp = &found->spans[first];
  sp->free = nullptr;
  sp->tags = tags;
  sp->first = uint8_t(first);
  sp->pages = uint8_t(pages);
  sp->bump = sp->start();
  sp->end = sp->bump + size_t(ci.objects) * ci.size;
  sp->next = sp->prev = nullptr;
  sp->used = 0;
  sp->in_partial = false;
  sp->inverse = ci.inverse;
  sp->cls = uint8_t(cls);
  set_page_tags(found, sp, ci);
  return sp;
}

void page_heap_free(Span* sp) {
  {
    prim::Guard g(g_page_heap_lock);
    Segment* seg = sp->segment();
    uint64_t run = run_mask(sp->first, sp->pages);
    // Only the carved part was ever touched.
    size_t touched = size_t(sp->bump - sp->start());
    unsigned touched_pages = unsigned((touched + kPageSize - 1) >> kPageShift);
    uint64_t dirty = touched_pages == 0 ? 0 : run_mask(sp->first, touched_pages);
    uint32_t now = now_ms();
    for (unsigned i = sp->first; i < unsigned(sp->first) + sp->pages; ++i) {
      seg->freed_at[i] = now;
      seg->page_class[i] = 0;
      seg->page_tags[i] = PageTags{};
    }
    tags_give(sp->tags, sp->cls);
    sp->tags = nullptr;
    sp->cls = 0;
    seg->free_mask |= run;
    seg->dirty_mask |= dirty;
    g_dirty_pages += touched_pages;
    if (g_settings.purge_delay_ms == 0 || g_dirty_pages > dirty_budget_pages()) {
      if (touched_pages != 0) purge_pages(seg, sp->first, touched_pages);
      if (seg->free_mask == kAllPages) segment_delete(seg);
      if (g_settings.purge_delay_ms == 0) return;
    }
  }
  request_purge();
}

bool page_heap_reshape(Span* sp, unsigned cls) {
  const ClassInfo& ci = kClasses.info[cls];
  // A span never shrinks: when the bigger class needs fewer pages, the last ones stay unused.
  unsigned first = sp->first, have = sp->pages, want = ci.pages > have ? ci.pages : have;
  if (first + want > kPagesPerSegment) return false;
  prim::Guard g(g_page_heap_lock);
  Segment* seg = sp->segment();
  uint64_t extra = want > have ? run_mask(first + have, want - have) : 0;
  if ((seg->free_mask & extra) != extra) return false;
  if (sp->tags != nullptr) {
    // The bigger class has another block count: a tag array of its own, where the grown
    // block keeps its tag (block 0).
    uint64_t* tags = tags_take(cls);
    if (tags == nullptr) return false;
    tags[0] = sp->tags[0];
    tags_give(sp->tags, sp->cls);
    sp->tags = tags;
  }
  if (want > have) {
    seg->free_mask &= ~extra;
    g_dirty_pages -= size_t(__builtin_popcountll(seg->dirty_mask & extra));
    seg->dirty_mask &= ~extra;
  }
  for (unsigned i = first; i < first + want; ++i) {
    seg->page_span[i] = uint8_t(first);
    seg->page_class[i] = uint8_t(cls);
  }
  sp->inverse = ci.inverse;
  sp->cls = uint8_t(cls);
  sp->pages = uint8_t(want);
  sp->end = sp->start() + size_t(ci.objects) * ci.size;
  set_page_tags(seg, sp, ci);
  return true;
}

bool page_heap_purge(uint32_t now, uint32_t delay, bool all) {
  prim::Guard g(g_page_heap_lock);
  bool pending = false;
  for (Segment* s = g_segments, *next; s != nullptr; s = next) {
    next = s->next;
    uint64_t dirty = s->dirty_mask & s->free_mask;
    for (unsigned i = 1; i < 64 && dirty != 0;) {
      if (!(dirty >> i & 1)) { ++i; continue; }
      unsigned j = i;
      while (j < 64 && (dirty >> j & 1) && (all || now - s->freed_at[j] >= delay)) ++j;
      if (j > i) {
        purge_pages(s, i, j - i);
        i = j;
      } else {
        pending = true;
        ++i;
      }
    }
    if (s->free_mask == kAllPages && s->dirty_mask == 0) {
      // An empty segment whose pages are all purged goes back to the OS.
      segment_delete(s);
    }
  }
  return pending;
}

void page_heap_for_each(void (*fn)(Segment* seg, void* ctx), void* ctx) {
  for (Segment* s = g_segments; s != nullptr; s = s->next) fn(s, ctx);
}

}  // namespace mpshim::cpu
