#include "cpu/large.h"

#include "cpu/chunk_map.h"
#include "cpu/segment.h"
#include "cpu/state.h"
#include "prim/lock.h"
#include "prim/os.h"

namespace mpshim::cpu {

static prim::Lock g_large_lock;
static LargeHeader* g_cached = nullptr;  // most recently freed first
static LargeHeader* g_live = nullptr;
static size_t g_cached_bytes = 0;

static size_t round_up(size_t n, size_t a) { return (n + a - 1) & ~(a - 1); }

static void list_push(LargeHeader** list, LargeHeader* h) {
  h->prev = nullptr;
  h->next = *list;
  if (*list != nullptr) (*list)->prev = h;
  *list = h;
}

static void list_remove(LargeHeader** list, LargeHeader* h) {
  if (h->prev != nullptr) h->prev->next = h->next; else *list = h->next;
  if (h->next != nullptr) h->next->prev = h->prev;
  h->next = h->prev = nullptr;
}

static void unmap(LargeHeader* h) {
  size_t size = h->map_size;
  mark_chunks(reinterpret_cast<uintptr_t>(h), size, kChunkNone, kChunkNone);
  prim::os_unmap(h, size);
  add_reserved(-int64_t(size));
}

static size_t offset_for(size_t align) { return align < 64 ? 64 : align; }

// Moves the pages of `h` to a new mapping of `size` bytes aligned like a fresh one.
static LargeHeader* remap(LargeHeader* h, size_t size, size_t user_align) {
  size_t old = h->map_size;
  size_t align = user_align > kChunkSize ? user_align : kChunkSize;
  void* target = prim::os_map_aligned(size, align);
  if (target == nullptr) return nullptr;
  mark_chunks(reinterpret_cast<uintptr_t>(h), old, kChunkNone, kChunkNone);
  void* moved = prim::os_remap(h, old, size, target);
  if (moved == nullptr) {
    prim::os_unmap(target, size);
    mark_chunks(reinterpret_cast<uintptr_t>(h), old, kChunkLarge, kChunkLargeTail);
    return nullptr;
  }
  LargeHeader* n = static_cast<LargeHeader*>(moved);
  n->map_size = size;
  mark_chunks(reinterpret_cast<uintptr_t>(n), size, kChunkLarge, kChunkLargeTail);
  add_reserved(int64_t(size) - int64_t(old));
  return n;
}

void* large_alloc(size_t size, size_t align, size_t* dirty) {
  size_t offset = offset_for(align);
  if (size > (size_t(1) << 46)) return nullptr;
  // At least one byte past the offset, so the user pointer lies inside the mapping.
  size_t need = round_up((size == 0 ? 1 : size) + offset, prim::page_size());
  LargeHeader* h = nullptr;
  {
    prim::Guard g(g_large_lock);
    // Best fit among cached mappings that are not much bigger than needed.
    LargeHeader* best = nullptr;
    LargeHeader* biggest_smaller = nullptr;
    for (LargeHeader* c = g_cached; c != nullptr; c = c->next) {
      if (c->map_size >= need) {
        // Reused in place: its base must already suit the alignment.
        if ((reinterpret_cast<uintptr_t>(c) + offset) % align != 0) continue;
        if (c->map_size <= 2 * need + (32u << 20) && (best == nullptr || c->map_size < best->map_size)) best = c;
      } else if (biggest_smaller == nullptr || c->map_size > biggest_smaller->map_size) {
        biggest_smaller = c;
      }
    }
    if (best == nullptr) best = biggest_smaller;
    if (best != nullptr) {
      list_remove(&g_cached, best);
      g_cached_bytes -= best->map_size;
      h = best;
    }
  }
  if (h != nullptr) {
    *dirty = h->map_size - offset;
    if (h->map_size < need) {
      // Grow by moving the committed pages: only the new tail faults.
      LargeHeader* n = remap(h, need, align);
      if (n == nullptr) {
        unmap(h);
        h = nullptr;
      } else {
        h = n;
      }
    } else {
      g_counters.large_cache_hits.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (h == nullptr) {
    size_t map_align = align > kChunkSize ? align : kChunkSize;
    h = static_cast<LargeHeader*>(prim::os_map_aligned(need, map_align));
    if (h == nullptr) return nullptr;
    h->map_size = need;
    mark_chunks(reinterpret_cast<uintptr_t>(h), need, kChunkLarge, kChunkLargeTail);
    add_reserved(int64_t(need));
    *dirty = 0;
  }
  h->offset = offset;
  h->align = align;
  h->tag = 0;
  h->live = true;
  {
    prim::Guard g(g_large_lock);
    list_push(&g_live, h);
  }
  g_counters.large_mallocs.fetch_add(1, std::memory_order_relaxed);
  return large_ptr(h);
}

LargeHeader* large_header(const void* p) {
  uintptr_t c = chunk_base(p);
  ChunkKind k = chunk_kind(p);
  while (k == kChunkLargeTail) {
    c -= kChunkSize;
    k = chunk_kind(reinterpret_cast<void*>(c));
  }
  if (k != kChunkLarge) return nullptr;
  // The last chunk of a mapping is ours only up to the mapping's end: other mappings may
  // follow it inside the same 4 MiB.
  LargeHeader* h = reinterpret_cast<LargeHeader*>(c);
  return reinterpret_cast<uintptr_t>(p) - c < h->map_size ? h : nullptr;
}

void large_free(LargeHeader* h) {
  g_counters.large_frees.fetch_add(1, std::memory_order_relaxed);
  size_t budget = g_settings.large_cache;
  bool keep = g_settings.purge_delay_ms != 0 && h->map_size <= budget;
  LargeHeader* evict = nullptr;
  {
    prim::Guard g(g_large_lock);
    list_remove(&g_live, h);
    h->live = false;
    if (keep) {
      h->freed_at = now_ms();
      list_push(&g_cached, h);
      g_cached_bytes += h->map_size;
      // Over budget: unmap the least recently freed mappings.
      while (g_cached_bytes > budget) {
        LargeHeader* last = g_cached;
        while (last->next != nullptr) last = last->next;
        list_remove(&g_cached, last);
        g_cached_bytes -= last->map_size;
        last->next = evict;
        evict = last;
      }
    }
  }
  if (!keep) {
    unmap(h);
    return;
  }
  while (evict != nullptr) {
    LargeHeader* next = evict->next;
    unmap(evict);
    evict = next;
  }
  request_purge();
}

void* large_realloc(LargeHeader* h, size_t size) {
  if (size > (size_t(1) << 46)) return nullptr;
  size_t need = round_up(size + h->offset, prim::page_size());
  if (need <= h->map_size) {
    if (need >= h->map_size / 2) return large_ptr(h);
    // Shrink in place: give the tail back.
    size_t tail = h->map_size - need;
    mark_chunks(reinterpret_cast<uintptr_t>(h), h->map_size, kChunkNone, kChunkNone);
    prim::os_unmap(reinterpret_cast<char*>(h) + need, tail);
    h->map_size = need;
    mark_chunks(reinterpret_cast<uintptr_t>(h), need, kChunkLarge, kChunkLargeTail);
    add_reserved(-int64_t(tail));
    return large_ptr(h);
  }
  // Grow with headroom so repeated growth does not move every time.
  size_t grown = need + need / 4;
  prim::Guard g(g_large_lock);
  LargeHeader* prev = h->prev;
  LargeHeader* next = h->next;
  LargeHeader* n = remap(h, round_up(grown, prim::page_size()), h->align);
  if (n == nullptr) return nullptr;
  // Relink: the header moved with the pages.
  if (prev != nullptr) prev->next = n; else g_live = n;
  if (next != nullptr) next->prev = n;
  return large_ptr(n);
}

// Unmaps a list of blocks taken out of the cache (outside its lock).
static void unmap_evicted(LargeHeader* evict) {
  while (evict != nullptr) {
    LargeHeader* next = evict->next;
    g_counters.purged.fetch_add(evict->map_size, std::memory_order_relaxed);
    unmap(evict);
    evict = next;
  }
}

bool large_purge(uint32_t now, uint32_t delay, bool all) {
  LargeHeader* evict = nullptr;
  bool pending = false;
  {
    prim::Guard g(g_large_lock);
    for (LargeHeader* c = g_cached, *next; c != nullptr; c = next) {
      next = c->next;
      if (all || now - c->freed_at >= delay) {
        list_remove(&g_cached, c);
        g_cached_bytes -= c->map_size;
        c->next = evict;
        evict = c;
      } else {
        pending = true;
      }
    }
  }
  unmap_evicted(evict);
  return pending;
}

void large_release(size_t bytes) {
  LargeHeader* evict = nullptr;
  {
    prim::Guard g(g_large_lock);
    LargeHeader* last = g_cached;  // the least recently freed, then those before it
    while (last != nullptr && last->next != nullptr) last = last->next;
    for (size_t released = 0; released < bytes && last != nullptr;) {
      LargeHeader* newer = last->prev;
      list_remove(&g_cached, last);
      g_cached_bytes -= last->map_size;
      released += last->map_size;
      last->next = evict;
      evict = last;
      last = newer;
    }
  }
  unmap_evicted(evict);
}

void large_for_each_live(void (*fn)(LargeHeader* h, void* ctx), void* ctx) {
  for (LargeHeader* h = g_live; h != nullptr; h = h->next) fn(h, ctx);
}

void large_for_each_cached(void (*fn)(LargeHeader* h, void* ctx), void* ctx) {
  for (LargeHeader* h = g_cached; h != nullptr; h = h->next) fn(h, ctx);
}

void large_lock() { g_large_lock.lock(); }
void large_unlock() { g_large_lock.unlock(); }
void large_after_fork_child() { g_large_lock.reset(); }

}  // namespace mpshim::cpu
