#include "cpu/thread_cache.h"

#include <pthread.h>

#include <cstring>

#include "cpu/central.h"
#include "cpu/state.h"
#include "cpu/track_api.h"
#include "prim/lock.h"
#include "cpu/purge.h"
#include "prim/os.h"

namespace mpshim::cpu {

MPSHIM_TLS ThreadCache* t_cache = nullptr;
MPSHIM_TLS unsigned char* t_tracker_room = nullptr;  // t_cache->tracker, for an inline lookup

static prim::Lock g_registry_lock;
// The first thread's cache is in .bss: one system call fewer for every process.
alignas(64) static char g_first_cache[sizeof(ThreadCache)];
static ThreadCache* g_all = nullptr;    // every cache ever made (reused after exit)
static pthread_key_t g_exit_key;
static bool g_key_ok = false;

// Set once the thread's exit destructor ran: later allocations (other destructors) use
// the shared pools, so no cache is created again and leaked.
static MPSHIM_TLS bool t_exiting = false;

// Stack addresses of the last exited threads: their records are reused by new threads,
// but a leak scan must still know these stacks hold only stale data.
constexpr size_t kDeadStacks = 1024;
static uintptr_t g_dead_stacks[kDeadStacks];
static size_t g_dead_count = 0;

static void on_thread_exit(void* arg) {
  ThreadCache* tc = static_cast<ThreadCache*>(arg);
  t_exiting = true;
  t_cache = nullptr;
  t_tracker_room = nullptr;
  thread_cache_flush(tc);
  prim::Guard g(g_registry_lock);
  tc->alive = false;
  g_dead_stacks[g_dead_count++ % kDeadStacks] = tc->stack_addr;
}

void thread_cache_init() {
  if (pthread_key_create(&g_exit_key, on_thread_exit) == 0) g_key_ok = true;
}

static void init_bins(ThreadCache* tc) {
  tc->live = 0;
  tc->budget_tick = 0;
  for (unsigned c = 1; c < kNumClasses; ++c) {
    tc->class_live[c] = 0;
    tc->bins[c].head = nullptr;
    tc->bins[c].count = 0;
    tc->bins[c].max = kClasses.info[c].max_cached;
    tc->bins[c].allocs = tc->bins[c].frees = 0;
    size_t first = 4096 / kClasses.info[c].size;
    tc->refill[c] = uint16_t(first < 1 ? 1 : first < kClasses.info[c].batch ? first : kClasses.info[c].batch);
  }
}

ThreadCache* thread_cache_get() {
  if (t_cache != nullptr) return t_cache;
  if (t_exiting) return nullptr;
  ThreadCache* tc = nullptr;
  bool reused = false;
  {
    // Claimed under the lock: two starting threads must not take the same record.
    prim::Guard g(g_registry_lock);
    for (ThreadCache* c = g_all; c != nullptr; c = c->next_all)
      if (!c->alive) {
        tc = c;
        reused = true;
        tc->alive = true;
        break;
      }
  }
  if (tc == nullptr) {
    prim::Guard g(g_registry_lock);
    tc = static_cast<ThreadCache*>(g_all == nullptr ? g_first_cache : prim::os_map(sizeof(ThreadCache)));
    if (tc == nullptr) return nullptr;
    tc->alive = true;
    tc->next_all = g_all;
    __atomic_store_n(&g_all, tc, __ATOMIC_RELEASE);
  }
  init_bins(tc);
  if (reused) memset(tc->tracker, 0, sizeof tc->tracker);  // fresh mappings are zero
  int local;
  tc->stack_addr = reinterpret_cast<uintptr_t>(&local);
  tc->tid = prim::os_gettid();
  tc->alive = true;
  tc->merged_live = 0;
  tc->flush_epoch = g_flush_epoch.load(std::memory_order_relaxed);
  t_cache = tc;
  t_tracker_room = tc->tracker;
  g_counters.threads.fetch_add(1, std::memory_order_relaxed);
  // pthread_setspecific may allocate for high keys; t_cache is already set, so that
  // allocation is served from this cache.
  if (g_key_ok) pthread_setspecific(g_exit_key, tc);
  return tc;
}

size_t thread_cache_bytes(const ThreadCache* tc) {
  size_t n = 0;
  for (unsigned c = 1; c < kNumClasses; ++c) n += size_t(tc->bins[c].count) * kClasses.info[c].size;
  return n;
}

void thread_cache_merge(ThreadCache* tc) {
  int64_t live = 0;
  for (unsigned c = 1; c < kNumClasses; ++c) {
    tc->class_live[c] = int64_t(tc->bins[c].allocs - tc->bins[c].frees) * kClasses.info[c].size;
    live += tc->class_live[c];
  }
  tc->live = live;
  if (live != tc->merged_live) {
    add_allocated(live - tc->merged_live);
    tc->merged_live = live;
  }
}

// The global live counter is shared by every thread: a slow path updates this thread's
// figure for its own class only, and the global one when it moved by kMergeBytes since
// (a snapshot adds what is not merged yet, so statistics stay exact; only the peak is
// sampled that coarsely between snapshots).
static constexpr int64_t kMergeBytes = 64u << 10;

static void merge_class(ThreadCache* tc, unsigned cls) {
  const Bin& b = tc->bins[cls];
  int64_t now = int64_t(b.allocs - b.frees) * kClasses.info[cls].size;
  tc->live += now - tc->class_live[cls];
  tc->class_live[cls] = now;
  int64_t delta = tc->live - tc->merged_live;
  if (delta >= kMergeBytes || delta <= -kMergeBytes) {
    add_allocated(delta);
    tc->merged_live = tc->live;
  }
}

static Batch detach(Bin& bin, uint32_t n) {
  Batch b;
  b.head = bin.head;
  void* p = bin.head;
  for (uint32_t i = 1; i < n; ++i) p = *static_cast<void**>(p);
  b.tail = p;
  bin.head = *static_cast<void**>(p);
  *static_cast<void**>(p) = nullptr;
  b.count = n;
  bin.count -= n;
  return b;
}

// Empties the cache when a purge pass ran since it was last emptied.
static void flush_if_purged(ThreadCache* tc) {
  uint32_t epoch = g_flush_epoch.load(std::memory_order_relaxed);
  if (MPSHIM_LIKELY(tc->flush_epoch == epoch)) return;
  tc->flush_epoch = epoch;
  thread_cache_flush(tc);
}

void* thread_cache_refill(ThreadCache* tc, unsigned cls) {
  const ClassInfo& ci = kClasses.info[cls];
  flush_if_purged(tc);
  merge_class(tc, cls);
  unsigned want = tc->refill[cls];
  tc->refill[cls] = uint16_t(2 * want < ci.batch ? 2 * want : ci.batch);
  Batch b = central_take(cls, want);
  if (b.count == 0) return nullptr;
  void* p = b.head;
  Bin& bin = tc->bins[cls];
  *static_cast<void**>(b.tail) = bin.head;
  bin.head = *static_cast<void**>(p);
  bin.count += b.count - 1;
  return p;
}

void thread_cache_overflow(ThreadCache* tc, unsigned cls) {
  merge_class(tc, cls);
  Bin& bin = tc->bins[cls];
  const ClassInfo& ci = kClasses.info[cls];
  if (bin.count > bin.max) central_give(cls, detach(bin, ci.batch));
  flush_if_purged(tc);
  // Over the byte budget: trim the largest bins first. Summing the bins costs a pass over
  // every class, so small classes (whose bins hold little each) check every 16th overflow.
  if (ci.size < 1024 && (++tc->budget_tick & 15) != 0) {
    maybe_purge();
    return;
  }
  size_t bytes = thread_cache_bytes(tc);
  for (unsigned c = kNumClasses - 1; c > 0 && bytes > g_settings.thread_cache; --c) {
    Bin& b = tc->bins[c];
    while (b.count > 0 && bytes > g_settings.thread_cache / 2) {
      uint32_t n = b.count < kClasses.info[c].batch ? b.count : kClasses.info[c].batch;
      central_give(c, detach(b, n));
      bytes -= size_t(n) * kClasses.info[c].size;
    }
  }
  maybe_purge();
}

void thread_cache_flush(ThreadCache* tc) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    Bin& b = tc->bins[c];
    while (b.count > 0) {
      uint32_t n = b.count < kClasses.info[c].batch ? b.count : kClasses.info[c].batch;
      central_give(c, detach(b, n));
    }
  }
  // Hand the counters to the process totals; the live bytes are merged already.
  thread_cache_merge(tc);
  tc->merged_live = 0;
  tc->live = 0;
  for (unsigned c = 1; c < kNumClasses; ++c) {
    tc->class_live[c] = 0;
    g_counters.class_allocs[c].fetch_add(tc->bins[c].allocs, std::memory_order_relaxed);
    g_counters.class_frees[c].fetch_add(tc->bins[c].frees, std::memory_order_relaxed);
    tc->bins[c].allocs = tc->bins[c].frees = 0;
  }
}

void* direct_alloc(unsigned cls) {
  Batch b = central_take(cls, 1);
  if (b.count <= 1) return b.head;
  // A whole transfer batch came back: keep one block, return the others.
  void* p = b.head;
  b.head = *static_cast<void**>(p);
  b.count -= 1;
  central_give(cls, b);
  return p;
}

void direct_free(unsigned cls, void* p) {
  *static_cast<void**>(p) = nullptr;
  central_give(cls, Batch{p, p, 1});
}

void thread_cache_for_each(void (*fn)(ThreadCache* tc, void* ctx), void* ctx) {
  prim::Guard g(g_registry_lock);
  for (ThreadCache* c = g_all; c != nullptr; c = c->next_all) fn(c, ctx);
}

void thread_cache_for_each_unlocked(void (*fn)(ThreadCache* tc, void* ctx), void* ctx) {
  for (ThreadCache* c = __atomic_load_n(&g_all, __ATOMIC_ACQUIRE); c != nullptr; c = c->next_all) fn(c, ctx);
}

void thread_cache_for_each_dead_stack(void (*fn)(uintptr_t addr, void* ctx), void* ctx) {
  size_t n = g_dead_count < kDeadStacks ? g_dead_count : kDeadStacks;
  for (size_t i = 0; i < n; ++i) fn(g_dead_stacks[i], ctx);
}

void thread_cache_lock() { g_registry_lock.lock(); }
void thread_cache_unlock() { g_registry_lock.unlock(); }
void thread_cache_after_fork_child() { g_registry_lock.reset(); }

}  // namespace mpshim::cpu
