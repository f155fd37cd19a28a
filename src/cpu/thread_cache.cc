#include "cpu/thread_cache.h"

#include <pthread.h>

#include "cpu/central.h"
#include "cpu/state.h"
#include "prim/lock.h"
#include "cpu/purge.h"
#include "prim/os.h"

namespace mpshim::cpu {

MPSHIM_TLS ThreadCache* t_cache = nullptr;

static prim::Lock g_registry_lock;
static ThreadCache* g_all = nullptr;    // every cache ever made (reused after exit)
static pthread_key_t g_exit_key;
static bool g_key_ok = false;

// Set once the thread's exit destructor ran: later allocations (other destructors) use
// the shared pools, so no cache is created again and leaked.
static MPSHIM_TLS bool t_exiting = false;

static void on_thread_exit(void* arg) {
  ThreadCache* tc = static_cast<ThreadCache*>(arg);
  t_exiting = true;
  t_cache = nullptr;
  thread_cache_flush(tc);
  prim::Guard g(g_registry_lock);
  tc->alive = false;
}


void thread_cache_init() {
  if (pthread_key_create(&g_exit_key, on_thread_exit) == 0) g_key_ok = true;
}

static void init_bins(ThreadCache* tc) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    tc->bins[c].head = nullptr;
    tc->bins[c].count = 0;
    tc->bins[c].max = kClasses.info[c].max_cached;
  }
}

ThreadCache* thread_cache_get() {
  if (t_cache != nullptr) return t_cache;
  if (t_exiting) return nullptr;
  ThreadCache* tc = nullptr;
  {
    prim::Guard g(g_registry_lock);
    for (ThreadCache* c = g_all; c != nullptr; c = c->next_all)
      if (!c->alive) { tc = c; break; }
  }
  if (tc == nullptr) {
    tc = static_cast<ThreadCache*>(prim::os_map(sizeof(ThreadCache)));
    if (tc == nullptr) return nullptr;
    prim::Guard g(g_registry_lock);
    tc->next_all = g_all;
    __atomic_store_n(&g_all, tc, __ATOMIC_RELEASE);
  }
  init_bins(tc);
  int local;
  tc->stack_addr = reinterpret_cast<uintptr_t>(&local);
  tc->tid = prim::os_gettid();
  tc->alive = true;
  tc->cached_bytes = 0;
  tc->live_delta = 0;
  t_cache = tc;
  g_counters.threads.fetch_add(1, std::memory_order_relaxed);
  // pthread_setspecific may allocate for high keys; t_cache is already set, so that
  // allocation is served from this cache.
  if (g_key_ok) pthread_setspecific(g_exit_key, tc);
  return tc;
}

void thread_cache_merge(ThreadCache* tc) {
  if (tc->live_delta != 0) {
    add_allocated(tc->live_delta);
    tc->live_delta = 0;
  }
}

static Batch detach(Bin& bin, uint32_t n, uint32_t size, ThreadCache* tc) {
  Batch b;
  b.head = bin.head;
  void* p = bin.head;
  for (uint32_t i = 1; i < n; ++i) p = *static_cast<void**>(p);
  b.tail = p;
  bin.head = *static_cast<void**>(p);
  *static_cast<void**>(p) = nullptr;
  b.count = n;
  bin.count -= n;
  tc->cached_bytes -= size_t(n) * size;
  return b;
}

void* thread_cache_refill(ThreadCache* tc, unsigned cls) {
  const ClassInfo& ci = kClasses.info[cls];
  thread_cache_merge(tc);
  Batch b = central_take(cls, ci.batch);
  if (b.count == 0) return nullptr;
  void* p = b.head;
  Bin& bin = tc->bins[cls];
  *static_cast<void**>(b.tail) = bin.head;
  bin.head = *static_cast<void**>(p);
  bin.count += b.count - 1;
  tc->cached_bytes += size_t(b.count - 1) * ci.size;
  return p;
}

void thread_cache_overflow(ThreadCache* tc, unsigned cls) {
  thread_cache_merge(tc);
  Bin& bin = tc->bins[cls];
  const ClassInfo& ci = kClasses.info[cls];
  if (bin.count > bin.max) central_give(cls, detach(bin, ci.batch, ci.size, tc));
  // Over the byte budget: trim the largest bins first.
  for (unsigned c = kNumClasses - 1; c > 0 && tc->cached_bytes > g_settings.thread_cache; --c) {
    Bin& b = tc->bins[c];
    while (b.count > 0 && tc->cached_bytes > g_settings.thread_cache / 2) {
      uint32_t n = b.count < kClasses.info[c].batch ? b.count : kClasses.info[c].batch;
      central_give(c, detach(b, n, kClasses.info[c].size, tc));
    }
  }
  maybe_start_purger();
}

void thread_cache_flush(ThreadCache* tc) {
  for (unsigned c = 1; c < kNumClasses; ++c) {
    Bin& b = tc->bins[c];
    while (b.count > 0) {
      uint32_t n = b.count < kClasses.info[c].batch ? b.count : kClasses.info[c].batch;
      central_give(c, detach(b, n, kClasses.info[c].size, tc));
    }
  }
  thread_cache_merge(tc);
  for (unsigned c = 1; c < kNumClasses; ++c) {
    g_counters.class_allocs[c].fetch_add(tc->allocs[c], std::memory_order_relaxed);
    g_counters.class_frees[c].fetch_add(tc->frees[c], std::memory_order_relaxed);
    tc->allocs[c] = tc->frees[c] = 0;
  }
}

void* direct_alloc(unsigned cls) {
  Batch b = central_take(cls, 1);
  return b.head;
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

void thread_cache_lock() { g_registry_lock.lock(); }
void thread_cache_unlock() { g_registry_lock.unlock(); }
void thread_cache_after_fork_child() { g_registry_lock.reset(); }

}  // namespace mpshim::cpu
