#include "cpu/central.h"

#include "cpu/state.h"

namespace mpshim::cpu {

Central g_central[kNumClasses];

static void partial_push(Central& c, Span* sp) {
  sp->prev = nullptr;
  sp->next = c.partial;
  if (c.partial != nullptr) c.partial->prev = sp;
  c.partial = sp;
  sp->in_partial = true;
}

static void partial_remove(Central& c, Span* sp) {
  if (sp->prev != nullptr) sp->prev->next = sp->next; else c.partial = sp->next;
  if (sp->next != nullptr) sp->next->prev = sp->prev;
  sp->next = sp->prev = nullptr;
  sp->in_partial = false;
}

// Puts blocks back into their spans; spans that become empty go to the page heap.
static void return_to_spans(Central& c, void* p, uint32_t count) {
  for (uint32_t i = 0; i < count; ++i) {
    void* next = *static_cast<void**>(p);
    Span* sp = span_of(p);
    *static_cast<void**>(p) = sp->free;
    sp->free = p;
    if (--sp->used == 0) {
      if (sp->in_partial) partial_remove(c, sp);
      page_heap_free(sp);
    } else if (!sp->in_partial) {
      partial_push(c, sp);
    }
    p = next;
  }
}

Batch central_take(unsigned cls, unsigned want) {
  Central& c = g_central[cls];
  const ClassInfo& ci = kClasses.info[cls];
  prim::Guard g(c.lock);
  if (c.nbatches > 0) return c.batches[--c.nbatches];
  Batch b;
  while (b.count < want) {
    Span* sp = c.partial;
    if (sp == nullptr) {
      sp = page_heap_alloc(cls, ci.pages);
      if (sp == nullptr) break;
      partial_push(c, sp);
    }
    if (sp->free != nullptr) {
      // The span's free blocks keep their links: the list is cut after the last one taken
      // and put in front of the batch. One write, not one a block: other threads freed
      // them, and each write would pull a cache line back from them.
      void* first = sp->free;
      void* last = first;
      uint32_t n = 1;
      for (void* next; b.count + n < want && (next = *static_cast<void**>(last)) != nullptr; ++n)
        last = next;
      sp->free = *static_cast<void**>(last);
      *static_cast<void**>(last) = b.head;
      if (b.head == nullptr) b.tail = last;
      b.head = first;
      b.count += n;
      sp->used += n;
    }
    for (; b.count < want && sp->bump < sp->end; ++b.count) {
      void* p = sp->bump;
      sp->bump += ci.size;
      ++sp->used;
      *static_cast<void**>(p) = b.head;
      if (b.head == nullptr) b.tail = p;
      b.head = p;
    }
    if (sp->free == nullptr && sp->bump >= sp->end) partial_remove(c, sp);
  }
  return b;
}

void central_give(unsigned cls, Batch b) {
  if (b.count == 0) return;
  Central& c = g_central[cls];
  prim::Guard g(c.lock);
  if (c.nbatches < kClasses.info[cls].transfer && b.count == kClasses.info[cls].batch) {
    b.given_at = now_ms();
    c.batches[c.nbatches++] = b;
    request_purge();  // the batch goes back to its spans if nobody takes it
    return;
  }
  return_to_spans(c, b.head, b.count);
}

bool central_grow(void* p, unsigned cls) {
  Span* sp = span_of(p);
  Central& from = g_central[sp->cls];
  const ClassInfo& ci = kClasses.info[cls];
  {
    prim::Guard g(from.lock);
    // The free blocks of the span all lie below its carving point: if that is inside the
    // grown block, they become part of it; nothing past it was ever touched.
    if (sp->used != 1 || sp->start() != p || sp->bump > sp->start() + ci.size) return false;
    if (!page_heap_reshape(sp, cls)) return false;
    if (sp->in_partial) partial_remove(from, sp);
    sp->free = nullptr;
    sp->bump = sp->start() + ci.size;
  }
  if (sp->bump < sp->end) {
    prim::Guard g(g_central[cls].lock);
    partial_push(g_central[cls], sp);
  }
  return true;
}

bool central_drain(uint32_t now, uint32_t delay, bool all) {
  bool pending = false;
  for (unsigned cls = 1; cls < kNumClasses; ++cls) {
    Central& c = g_central[cls];
    // Racy peek: a batch missed here waits for the next round.
    if (__atomic_load_n(&c.nbatches, __ATOMIC_RELAXED) == 0) continue;
    prim::Guard g(c.lock);
    // Batches are taken from the top, so the oldest sit at the bottom.
    uint32_t old = 0;
    while (old < c.nbatches && (all || now - c.batches[old].given_at >= delay)) ++old;
    for (uint32_t i = 0; i < old; ++i) return_to_spans(c, c.batches[i].head, c.batches[i].count);
    for (uint32_t i = old; i < c.nbatches; ++i) c.batches[i - old] = c.batches[i];
    c.nbatches -= old;
    pending = pending || c.nbatches > 0;
  }
  return pending;
}

}  // namespace mpshim::cpu
