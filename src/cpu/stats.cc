#include "cpu/stats.h"

#include "cpu/size_class.h"
#include "cpu/state.h"
#include "cpu/thread_cache.h"

namespace mpshim::cpu {

static void add_thread(ThreadCache* tc, void* arg) {
  Stats* s = static_cast<Stats*>(arg);
  if (!tc->alive) return;
  // Counts not merged yet; differences may be negative and wrap back when summed.
  int64_t live = 0;
  for (unsigned c = 1; c < kNumClasses; ++c) {
    const Bin& b = tc->bins[c];
    s->class_count[c] += b.allocs;
    s->class_live[c] += b.allocs - b.frees;
    live += int64_t(b.allocs - b.frees) * kClasses.info[c].size;
  }
  s->allocated += uint64_t(live - tc->merged_live);
}

void snapshot(Stats* out) {
  *out = Stats{};
  const Counters& g = g_counters;
  out->allocated = uint64_t(g.allocated.load(std::memory_order_relaxed));
  out->peak = g.peak.load(std::memory_order_relaxed);
  out->reserved = g.reserved.load(std::memory_order_relaxed);
  out->peak_reserved = g.peak_reserved.load(std::memory_order_relaxed);
  out->large_mallocs = g.large_mallocs.load(std::memory_order_relaxed);
  out->large_cache_hits = g.large_cache_hits.load(std::memory_order_relaxed);
  out->purged = g.purged.load(std::memory_order_relaxed);
  out->foreign_frees = g.foreign_frees.load(std::memory_order_relaxed);
  out->threads = g.threads.load(std::memory_order_relaxed);
  for (unsigned c = 1; c < kStatClasses; ++c) {
    out->class_size[c] = c < kNumClasses ? kClasses.info[c].size : 0;
    uint64_t a = g.class_allocs[c].load(std::memory_order_relaxed);
    uint64_t f = g.class_frees[c].load(std::memory_order_relaxed);
    out->class_count[c] = a;
    out->class_live[c] = a - f;
  }
  thread_cache_for_each_unlocked(add_thread, out);
  if (int64_t(out->allocated) < 0) out->allocated = 0;
  if (out->allocated > out->peak) out->peak = out->allocated;
  for (unsigned c = 1; c < kStatClasses; ++c) {
    out->mallocs += out->class_count[c];
    out->frees += out->class_count[c] - out->class_live[c];
  }
}

}  // namespace mpshim::cpu
