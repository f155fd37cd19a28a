// The one instantiation of the caching allocator on the real driver. Built a second time
// with MPSHIM_CUDA_UNFENCED for the test library that shows what an unfenced cache does.
#include "entry/cuda_cache.h"

#include <sched.h>

#include "cuda/cache.h"
#include "entry/cuda_backend.h"
#include "prim/os.h"
#include "prim/thread.h"

namespace mpshim::entry::cuda {
namespace {

DriverBackend g_backend;
mpshim::cuda::Cache<DriverBackend> g_cache{g_backend};

}  // namespace

void cache_configure(uint64_t max_split, uint64_t max_cached) {
  mpshim::cuda::CacheOptions o;
  o.max_split = max_split;
  o.max_cached = max_cached;
  g_cache.configure(o);
}

Result cache_alloc(Context ctx, Device dev, size_t size, DevPtr* out) {
  return g_cache.alloc(ctx, dev, size, out);
}

Freed cache_free(DevPtr p, size_t* size) {
  switch (g_cache.free(p, size)) {
    case mpshim::cuda::FreeResult::Freed: return Freed::Yes;
    case mpshim::cuda::FreeResult::Invalid: return Freed::Invalid;
    case mpshim::cuda::FreeResult::NotOurs: break;
  }
  return Freed::NotOurs;
}

void cache_capture_begin() { g_cache.capture_begin(); }
void cache_capture_end() { g_cache.capture_end(); }
void cache_release(Context ctx) { g_cache.release(ctx); }
void cache_drop_context(Context ctx, bool alive) { g_cache.drop_context(ctx, alive, nullptr, nullptr); }
uint64_t cache_releasable(Context ctx) { return g_cache.releasable(ctx); }
void cache_internal_ranges(void (*fn)(uintptr_t lo, uintptr_t hi, void* arg), void* arg) {
  // The leak check calls this with the host allocator's locks held, and a thread holding
  // the cache's lock may be inside the driver waiting for one of them: wait a while, never
  // for ever. Without the ranges the scan reads the records, which can only make a device
  // leak look reachable.
  uint64_t deadline = prim::now_ns() + 200'000'000;
  while (!g_cache.try_lock()) {
    if (prim::now_ns() > deadline) return;
    sched_yield();
  }
  g_cache.for_each_internal_range(fn, arg);
  g_cache.unlock();
}
void cache_for_each_pool(void (*fn)(Device, PoolKind, const PoolStats&, void*), void* arg) {
  g_cache.for_each_pool(fn, arg);
}
void cache_reset_peaks() { g_cache.reset_peaks(); }
// fork's handlers: no lock in a single-threaded process (prim::single_threaded).
static bool g_fork_locked = false;
void cache_lock() {
  g_fork_locked = !prim::single_threaded();
  if (g_fork_locked) g_cache.lock();
}
void cache_unlock() {
  if (g_fork_locked) g_cache.unlock();
}

}  // namespace mpshim::entry::cuda
