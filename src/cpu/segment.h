// Segments and the page heap: 4 MiB aligned chunks cut into 64 KiB pages; runs of pages
// (spans) serve one size class each. Free pages are given back to the OS after a delay.
#pragma once
#include <cstddef>
#include <cstdint>

#include "cpu/chunk_map.h"
#include "cpu/size_class.h"
#include "prim/lock.h"

namespace mpshim::cpu {

struct Segment;

/// A run of pages serving one class. Lives in its segment's header, indexed by first page,
/// on a cache line of its own: the central pools of other classes write its neighbours.
struct alignas(64) Span {
  void* free;          ///< blocks returned to this span (linked through their first word)
  char* bump;          ///< next never-used block
  char* end;           ///< end of the carvable area
  Span* next;          ///< central partial list
  Span* prev;
  uint64_t* tags;      ///< per-block tags (cpu/tags.h), or nullptr when tags are off
  uint64_t inverse;    ///< its class's ClassInfo::inverse, on the line tag_of reads anyway
  uint32_t used;       ///< blocks handed out of the span
  uint8_t cls;         ///< 0 when the pages are free
  uint8_t pages;
  uint8_t first;       ///< first page index in the segment
  bool in_partial;
  char* start() const;
  Segment* segment() const;
};
static_assert(sizeof(Span) == 64);

/// Where the tags of the blocks on one page are (tag_of): the tag array, first page and
/// class inverse of the page's span, copied per page so that a tag is found from the
/// block's address without a look at its span first. Zero for a page without tags.
struct PageTags {
  uintptr_t tags_first;  ///< the span's tag array (64-byte aligned) | its first page
  uint64_t inverse_objects;  ///< the class's inverse (below 2^40) | its blocks per span << 40
  uint64_t* tags() const { return reinterpret_cast<uint64_t*>(tags_first & ~uintptr_t(63)); }
  size_t first() const { return tags_first & 63; }
  uint64_t inverse() const { return inverse_objects & ((uint64_t(1) << 40) - 1); }
  size_t objects() const { return size_t(inverse_objects >> 40); }
};

struct Segment {
  uint64_t free_mask;   ///< pages not in any span
  uint64_t dirty_mask;  ///< free pages still committed (not purged yet)
  Segment* next;        ///< all segments
  Segment* prev;
  uint32_t freed_at[kPagesPerSegment];  ///< coarse time (ms) a free page was freed
  uint8_t page_span[kPagesPerSegment];  ///< first page of the span covering each page
  uint8_t page_class[kPagesPerSegment]; ///< class of the span covering each page (0: none)
  Span spans[kPagesPerSegment];
  PageTags page_tags[kPagesPerSegment];
};

static_assert(sizeof(Segment) <= kPageSize, "segment header must fit page 0");

inline char* Span::start() const {
  return reinterpret_cast<char*>(chunk_base(this)) + (size_t(first) << kPageShift);
}
inline Segment* Span::segment() const { return reinterpret_cast<Segment*>(chunk_base(this)); }

/// The span holding address `p` of a segment chunk (nullptr when p is on no span).
inline Span* span_of(const void* p) {
  Segment* seg = reinterpret_cast<Segment*>(chunk_base(p));
  size_t page = (reinterpret_cast<uintptr_t>(p) - reinterpret_cast<uintptr_t>(seg)) >> kPageShift;
  Span* sp = &seg->spans[seg->page_span[page]];
  if (page == 0 || sp->cls == 0 || page < sp->first || page >= size_t(sp->first) + sp->pages) return nullptr;
  return sp;
}

/// Class of the block at `p` in a segment chunk; 0 when p is on no span (one load).
MPSHIM_INLINE unsigned class_at(const void* p) {
  const Segment* seg = reinterpret_cast<const Segment*>(chunk_base(p));
  return seg->page_class[(reinterpret_cast<uintptr_t>(p) >> kPageShift) & (kPagesPerSegment - 1)];
}

/// Takes a span of `pages` pages for class `cls`; nullptr when the OS refuses memory.
Span* page_heap_alloc(unsigned cls, unsigned pages);
/// Returns a span whose blocks are all back.
void page_heap_free(Span* sp);
/// Turns span `sp` into a span of class `cls` at the same first page (the caller holds the
/// span's central lock), taking the free pages that follow it when the class needs more.
/// False, changing nothing, when those pages are not free.
bool page_heap_reshape(Span* sp, unsigned cls);
/// Purges free pages freed before `now_ms - delay_ms` and unmaps empty segments; with
/// `all`, purges everything free now. Returns true while free committed pages remain.
bool page_heap_purge(uint32_t now_ms, uint32_t delay_ms, bool all);
/// Calls fn for every segment's range.
void page_heap_for_each(void (*fn)(Segment* seg, void* ctx), void* ctx);
extern prim::Lock g_page_heap_lock;

/// Coarse monotonic milliseconds.
uint32_t now_ms();

}  // namespace mpshim::cpu
