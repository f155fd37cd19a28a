#include "entry/cuda.h"

#include <atomic>
#include <cstring>

#include "config/options.h"
#include "entry/cuda_cache.h"
#include "entry/entry.h"
#include "track/memcheck.h"
#include "prim/fmt.h"
#include "prim/lock.h"
#include "report/report.h"
#include "track/profile.h"

namespace mpshim::entry::cuda {
namespace {

std::atomic<bool> g_used{false};
HookStats g_stats;  // updated with relaxed atomics (__atomic builtins)

void count(uint64_t& field) { __atomic_fetch_add(&field, 1, __ATOMIC_RELAXED); }

template <typename F>
F real_fn(Hook h) {
  return reinterpret_cast<F>(real(h));
}

bool caching() { return mode() == CudaMode::On; }

void note_used() {
  if (!g_used.load(std::memory_order_relaxed)) g_used.store(true, std::memory_order_relaxed);
}

// MPSHIM_CUDA=off: the exported hooks (programs linked against libcuda) pass through too.
bool tracking_device() { return tracking() && mode() != CudaMode::Off; }

uint64_t reserved_now();

// The profile's device reserved figure follows the cache's segments.
void profile_reserved() {
  if (track::profile::on() && caching()) track::profile::set_device_reserved(reserved_now());
}

void track_alloc(const void* p, size_t size, track::Kind kind, track::Memory mem) {
  if (!tracking_device()) return;
  track::on_foreign_alloc(p, size, kind, mem);
  profile_reserved();
}
void track_free(const void* p) {
  if (!tracking_device()) return;
  track::on_foreign_free(p);
  profile_reserved();
}
const void* as_ptr(DevPtr p) { return reinterpret_cast<const void*>(uintptr_t(p)); }
// Before a driver free of host-accessible memory (pinned, managed): the driver may unmap it
// before its record goes, and a leak check meanwhile (another thread's exit, a child forked
// now) must not read it. Undone when the driver refuses the free.
void closing(const void* p, bool on) {
  if (tracking_device()) track::on_foreign_closing(p, on);
}

// A CUDA free the shim saw go wrong, under MPSHIM_CHECK: a double free, a pointer never
// returned by a CUDA allocation, or memory of another kind (malloc's, device memory passed
// to cuMemFreeHost). Returns after the report only with MPSHIM_ON_ERROR=report.
void report_bad_free(uintptr_t p, const char* call, track::Memory expected) {
  track::MemError e;
  e.kind = track::ErrorKind::BadFree;
  e.addr = p;
  e.call = call;
  e.mem = expected;
  if (track::describe_foreign(p, &e)) {
    if (e.freed && e.block == p) e.kind = track::ErrorKind::DoubleFree;
    else if (e.block == p && e.mem != expected) e.kind = track::ErrorKind::Mismatch;
  } else if (track::describe_host(p, &e) && e.block == p) {
    e.kind = track::ErrorKind::Mismatch;
  }
  track::report_error(e);
}

// The device of the calling thread's current context, remembered per thread: the cache
// keys its pools by context and records each one's device.
MPSHIM_TLS Context t_ctx;
MPSHIM_TLS Device t_dev;

bool current(Context* ctx, Device* dev) {
  const Driver* d = driver();
  if (d == nullptr || d->ctx_get_current(ctx) != kSuccess || *ctx == nullptr) return false;
  if (*ctx != t_ctx) {
    if (d->ctx_get_device(dev) != kSuccess) return false;
    t_ctx = *ctx;
    t_dev = *dev;
  }
  *dev = t_dev;
  return true;
}

// Streams in capture that the cache was told about, so that an end (or the stream's
// destruction) ends exactly the captures that began.
constexpr int kMaxCaptures = 256;
prim::Lock g_capture_lock;
Stream g_capturing[kMaxCaptures];
int g_ncapturing;
int g_overflow;  // captures beyond the table: any later unknown end ends one of them

void capture_started(Stream s) {
  g_capture_lock.lock();
  if (g_ncapturing < kMaxCaptures)
    g_capturing[g_ncapturing++] = s;
  else
    ++g_overflow;
  g_capture_lock.unlock();
  cache_capture_begin();
}

void capture_ended(Stream s) {
  g_capture_lock.lock();
  bool found = false;
  for (int i = 0; i < g_ncapturing; ++i) {
    if (g_capturing[i] == s) {
      g_capturing[i] = g_capturing[--g_ncapturing];
      found = true;
      break;
    }
  }
  if (!found && g_overflow > 0) {
    --g_overflow;
    found = true;
  }
  g_capture_lock.unlock();
  if (found) cache_capture_end();
}

void* impl(Hook h) {
  switch (h) {
    case Hook::MemAlloc: return reinterpret_cast<void*>(&mem_alloc);
    case Hook::MemFree: return reinterpret_cast<void*>(&mem_free);
    case Hook::MemAllocPitch: return reinterpret_cast<void*>(&mem_alloc_pitch);
    case Hook::MemAllocManaged: return reinterpret_cast<void*>(&mem_alloc_managed);
    case Hook::MemAllocHost: return reinterpret_cast<void*>(&mem_alloc_host);
    case Hook::MemHostAlloc: return reinterpret_cast<void*>(&mem_host_alloc);
    case Hook::MemFreeHost: return reinterpret_cast<void*>(&mem_free_host);
    case Hook::MemGetInfo: return reinterpret_cast<void*>(&mem_get_info);
    case Hook::MemAllocAsync: return reinterpret_cast<void*>(&mem_alloc_async<Hook::MemAllocAsync>);
    case Hook::MemAllocAsyncPtsz:
      return reinterpret_cast<void*>(&mem_alloc_async<Hook::MemAllocAsyncPtsz>);
    case Hook::MemAllocFromPoolAsync:
      return reinterpret_cast<void*>(&mem_alloc_from_pool_async<Hook::MemAllocFromPoolAsync>);
    case Hook::MemAllocFromPoolAsyncPtsz:
      return reinterpret_cast<void*>(&mem_alloc_from_pool_async<Hook::MemAllocFromPoolAsyncPtsz>);
    case Hook::MemFreeAsync: return reinterpret_cast<void*>(&mem_free_async<Hook::MemFreeAsync>);
    case Hook::MemFreeAsyncPtsz:
      return reinterpret_cast<void*>(&mem_free_async<Hook::MemFreeAsyncPtsz>);
    case Hook::StreamCreate: return reinterpret_cast<void*>(&stream_create);
    case Hook::StreamCreateWithPriority:
      return reinterpret_cast<void*>(&stream_create_with_priority);
    case Hook::StreamDestroy: return reinterpret_cast<void*>(&stream_destroy);
    case Hook::BeginCapture1: return reinterpret_cast<void*>(&begin_capture1<Hook::BeginCapture1>);
    case Hook::BeginCapture1Ptsz:
      return reinterpret_cast<void*>(&begin_capture1<Hook::BeginCapture1Ptsz>);
    case Hook::BeginCapture: return reinterpret_cast<void*>(&begin_capture<Hook::BeginCapture>);
    case Hook::BeginCapturePtsz:
      return reinterpret_cast<void*>(&begin_capture<Hook::BeginCapturePtsz>);
    case Hook::BeginCaptureToGraph:
      return reinterpret_cast<void*>(&begin_capture_to_graph<Hook::BeginCaptureToGraph>);
    case Hook::BeginCaptureToGraphPtsz:
      return reinterpret_cast<void*>(&begin_capture_to_graph<Hook::BeginCaptureToGraphPtsz>);
    case Hook::EndCapture: return reinterpret_cast<void*>(&end_capture<Hook::EndCapture>);
    case Hook::EndCapturePtsz: return reinterpret_cast<void*>(&end_capture<Hook::EndCapturePtsz>);
    case Hook::CtxCreate2: return reinterpret_cast<void*>(&ctx_create2);
    case Hook::CtxCreate3: return reinterpret_cast<void*>(&ctx_create3);
    case Hook::CtxCreate4: return reinterpret_cast<void*>(&ctx_create4);
    case Hook::CtxDestroy: return reinterpret_cast<void*>(&ctx_destroy);
    case Hook::PrimaryRelease: return reinterpret_cast<void*>(&primary_release);
    case Hook::PrimaryReset: return reinterpret_cast<void*>(&primary_reset);
    case Hook::GetProcAddress1: return reinterpret_cast<void*>(&get_proc_address1);
    case Hook::GetProcAddress: return reinterpret_cast<void*>(&get_proc_address);
    case Hook::Count: break;
  }
  return nullptr;
}

// The pointer to hand out for the driver's `p` of hook `h`.
void* substitute(Hook h, void* p) {
  if (h == Hook::Count || p == nullptr || is_own(p)) return p;
  set_real(h, p);
  return mode() == CudaMode::Off ? p : impl(h);
}

}  // namespace

CudaMode mode() {
  unsigned m = config::get().cuda;
  return m <= unsigned(CudaMode::Off) ? CudaMode(m) : CudaMode::On;
}

bool used() { return g_used.load(std::memory_order_relaxed); }

void hook_stats(HookStats* out) {
  uint64_t* dst = reinterpret_cast<uint64_t*>(out);
  const uint64_t* src = reinterpret_cast<const uint64_t*>(&g_stats);
  for (size_t i = 0; i < sizeof(HookStats) / sizeof(uint64_t); ++i)
    dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
}

// ---------------------------------------------------------------------------------------
// Finding the driver's entry points
// ---------------------------------------------------------------------------------------

void* dlsym_cuda(void* handle, const char* name) {
  void* p = real_dlsym(handle, name);
  return substitute(hook_by_symbol(name), p);
}

Result get_proc_address(const char* name, void** fn, int version, uint64_t flags, int* status) {
  auto real_gp = real_fn<Result (*)(const char*, void**, int, uint64_t, int*)>(Hook::GetProcAddress);
  if (real_gp == nullptr) return kErrorNotInitialized;
  Result r = real_gp(name, fn, version, flags, status);
  if (r == kSuccess && fn != nullptr) *fn = substitute(hook_by_request(name, version, flags), *fn);
  return r;
}

Result get_proc_address1(const char* name, void** fn, int version, uint64_t flags) {
  auto real_gp = real_fn<Result (*)(const char*, void**, int, uint64_t)>(Hook::GetProcAddress1);
  if (real_gp == nullptr) return kErrorNotInitialized;
  Result r = real_gp(name, fn, version, flags);
  if (r == kSuccess && fn != nullptr) *fn = substitute(hook_by_request(name, version, flags), *fn);
  return r;
}

// ---------------------------------------------------------------------------------------
// Device memory: the cache
// ---------------------------------------------------------------------------------------

namespace {

// Allocates from the cache into *r; false when the driver must answer instead (no
// current context, a null pointer, size 0: its own errors for those).
bool cached_alloc(DevPtr* out, size_t size, track::Kind kind, Result* r) {
  Context ctx;
  Device dev;
  if (out == nullptr || size == 0 || !current(&ctx, &dev)) return false;
  *r = cache_alloc(ctx, dev, size, out);
  if (*r == kSuccess) track_alloc(as_ptr(*out), size, kind, track::Memory::Device);
  return true;
}

}  // namespace

Result mem_alloc(DevPtr* out, size_t size) {
  note_used();
  Result r;
  if (caching() && cached_alloc(out, size, track::Kind::CuMemAlloc, &r)) return r;
  auto f = real_fn<Result (*)(DevPtr*, size_t)>(Hook::MemAlloc);
  if (f == nullptr) return kErrorNotInitialized;
  r = f(out, size);
  if (r == kSuccess) track_alloc(as_ptr(*out), size, track::Kind::CuMemAlloc, track::Memory::Device);
  return r;
}

Result mem_alloc_pitch(DevPtr* out, size_t* pitch, size_t width, size_t height, unsigned elem) {
  note_used();
  constexpr size_t kPitchAlign = 512;  // what the driver's pitches are multiples of
  size_t p = (width + kPitchAlign - 1) & ~(kPitchAlign - 1);
  bool valid = pitch != nullptr && width != 0 && height != 0 && p >= width &&
               (elem == 4 || elem == 8 || elem == 16) && height <= SIZE_MAX / p;
  Result r;
  if (caching() && valid && cached_alloc(out, p * height, track::Kind::CuMemAllocPitch, &r)) {
    if (r == kSuccess) *pitch = p;
    return r;
  }
  auto f = real_fn<Result (*)(DevPtr*, size_t*, size_t, size_t, unsigned)>(Hook::MemAllocPitch);
  if (f == nullptr) return kErrorNotInitialized;
  r = f(out, pitch, width, height, elem);
  if (r == kSuccess)
    track_alloc(as_ptr(*out), *pitch * height, track::Kind::CuMemAllocPitch, track::Memory::Device);
  return r;
}

Result mem_free(DevPtr p) {
  if (caching() && p != 0) {
    size_t size = 0;
    switch (cache_free(p, &size)) {
      case Freed::Yes:
        track_free(as_ptr(p));
        return kSuccess;
      case Freed::Invalid:
        // Inside a cached segment but not a live block: the driver would free the whole
        // segment under other blocks.
        count(g_stats.invalid_frees);
        if (track::checking())
          report_bad_free(p, "cuMemFree", track::Memory::Device);
        else
          prim::Writer(2).str("mpshim: cuMemFree(").hex(p).str(
              "): not a live device allocation (double free or interior pointer); ignored\n");
        return kErrorInvalidValue;
      case Freed::NotOurs: break;
    }
  }
  auto f = real_fn<Result (*)(DevPtr)>(Hook::MemFree);
  if (f == nullptr) return kErrorNotInitialized;
  track::MemError host;
  if (p != 0 && track::checking() && track::describe_host(p, &host)) {
    // malloc's memory is never the driver's to free.
    report_bad_free(p, "cuMemFree", track::Memory::Device);
    return kErrorInvalidValue;
  }
  if (p == 0) return f(p);
  closing(as_ptr(p), true);
  Result r = f(p);
  if (r == kSuccess) {
    count(g_stats.passed_frees);
    track_free(as_ptr(p));
    return r;
  }
  closing(as_ptr(p), false);
  if (r == kErrorInvalidValue && track::checking()) report_bad_free(p, "cuMemFree", track::Memory::Device);
  return r;
}

Result mem_get_info(size_t* free, size_t* total) {
  auto f = real_fn<Result (*)(size_t*, size_t*)>(Hook::MemGetInfo);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(free, total);
  Context ctx;
  Device dev;
  if (r == kSuccess && caching() && free != nullptr && current(&ctx, &dev)) {
    // Cached segments without a live block are as good as free: an allocation that needs
    // them gets them back from the cache first.
    uint64_t more = cache_releasable(ctx);
    *free += more;
    if (total != nullptr && *free > *total) *free = *total;
  }
  return r;
}

// ---------------------------------------------------------------------------------------
// Memory that is passed through and tracked
// ---------------------------------------------------------------------------------------

Result mem_alloc_managed(DevPtr* out, size_t size, unsigned flags) {
  note_used();
  auto f = real_fn<Result (*)(DevPtr*, size_t, unsigned)>(Hook::MemAllocManaged);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, size, flags);
  if (r == kSuccess) {
    count(g_stats.managed_allocs);
    track_alloc(as_ptr(*out), size, track::Kind::CuMemAllocManaged, track::Memory::Managed);
  }
  return r;
}

Result mem_alloc_host(void** out, size_t size) {
  note_used();
  auto f = real_fn<Result (*)(void**, size_t)>(Hook::MemAllocHost);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, size);
  if (r == kSuccess) {
    count(g_stats.host_allocs);
    track_alloc(*out, size, track::Kind::CuMemAllocHost, track::Memory::Pinned);
  }
  return r;
}

Result mem_host_alloc(void** out, size_t size, unsigned flags) {
  note_used();
  auto f = real_fn<Result (*)(void**, size_t, unsigned)>(Hook::MemHostAlloc);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, size, flags);
  if (r == kSuccess) {
    count(g_stats.host_allocs);
    track_alloc(*out, size, track::Kind::CuMemHostAlloc, track::Memory::Pinned);
  }
  return r;
}

Result mem_free_host(void* p) {
  auto f = real_fn<Result (*)(void*)>(Hook::MemFreeHost);
  if (f == nullptr) return kErrorNotInitialized;
  auto addr = reinterpret_cast<uintptr_t>(p);
  track::MemError host;
  if (p != nullptr && track::checking() && track::describe_host(addr, &host)) {
    report_bad_free(addr, "cuMemFreeHost", track::Memory::Pinned);
    return kErrorInvalidValue;
  }
  if (p != nullptr) closing(p, true);
  Result r = f(p);
  if (r == kSuccess) {
    track_free(p);
    return r;
  }
  if (p != nullptr) closing(p, false);
  if (r == kErrorInvalidValue && p != nullptr && track::checking())
    report_bad_free(addr, "cuMemFreeHost", track::Memory::Pinned);
  return r;
}

template <Hook H>
Result mem_alloc_async(DevPtr* out, size_t size, Stream s) {
  note_used();
  auto f = real_fn<Result (*)(DevPtr*, size_t, Stream)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, size, s);
  if (r == kSuccess) {
    count(g_stats.async_allocs);
    track_alloc(as_ptr(*out), size, track::Kind::CuMemAllocAsync, track::Memory::Device);
  }
  return r;
}

template <Hook H>
Result mem_alloc_from_pool_async(DevPtr* out, size_t size, MemPool pool, Stream s) {
  note_used();
  auto f = real_fn<Result (*)(DevPtr*, size_t, MemPool, Stream)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, size, pool, s);
  if (r == kSuccess) {
    count(g_stats.async_allocs);
    track_alloc(as_ptr(*out), size, track::Kind::CuMemAllocFromPoolAsync, track::Memory::Device);
  }
  return r;
}

template <Hook H>
Result mem_free_async(DevPtr p, Stream s) {
  auto f = real_fn<Result (*)(DevPtr, Stream)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(p, s);
  if (r == kSuccess) track_free(as_ptr(p));
  return r;
}

// ---------------------------------------------------------------------------------------
// Streams, captures and contexts
// ---------------------------------------------------------------------------------------

Result stream_create(Stream* out, unsigned flags) {
  auto f = real_fn<Result (*)(Stream*, unsigned)>(Hook::StreamCreate);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, flags);
  if (r == kSuccess) count(g_stats.streams_created);
  return r;
}

Result stream_create_with_priority(Stream* out, unsigned flags, int priority) {
  auto f = real_fn<Result (*)(Stream*, unsigned, int)>(Hook::StreamCreateWithPriority);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, flags, priority);
  if (r == kSuccess) count(g_stats.streams_created);
  return r;
}

Result stream_destroy(Stream s) {
  auto f = real_fn<Result (*)(Stream)>(Hook::StreamDestroy);
  if (f == nullptr) return kErrorNotInitialized;
  // Work still queued on the stream is covered by the context-wide fences; a capture the
  // stream was in ends with it.
  capture_ended(s);
  Result r = f(s);
  if (r == kSuccess) count(g_stats.streams_destroyed);
  return r;
}

template <Hook H>
Result begin_capture1(Stream s) {
  auto f = real_fn<Result (*)(Stream)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(s);
  if (r == kSuccess) {
    count(g_stats.captures);
    capture_started(s);
  }
  return r;
}

template <Hook H>
Result begin_capture(Stream s, int capture_mode) {
  auto f = real_fn<Result (*)(Stream, int)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(s, capture_mode);
  if (r == kSuccess) {
    count(g_stats.captures);
    capture_started(s);
  }
  return r;
}

template <Hook H>
Result begin_capture_to_graph(Stream s, Graph g, const void* deps, const void* data, size_t n,
                              int capture_mode) {
  auto f = real_fn<Result (*)(Stream, Graph, const void*, const void*, size_t, int)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(s, g, deps, data, n, capture_mode);
  if (r == kSuccess) {
    count(g_stats.captures);
    capture_started(s);
  }
  return r;
}

template <Hook H>
Result end_capture(Stream s, Graph* out) {
  auto f = real_fn<Result (*)(Stream, Graph*)>(H);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(s, out);
  capture_ended(s);  // ended (or invalidated) either way
  return r;
}

Result ctx_create2(Context* out, unsigned flags, Device dev) {
  auto f = real_fn<Result (*)(Context*, unsigned, Device)>(Hook::CtxCreate2);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, flags, dev);
  if (r == kSuccess) count(g_stats.contexts_created);
  return r;
}

Result ctx_create3(Context* out, void* affinity, int n, unsigned flags, Device dev) {
  auto f = real_fn<Result (*)(Context*, void*, int, unsigned, Device)>(Hook::CtxCreate3);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, affinity, n, flags, dev);
  if (r == kSuccess) count(g_stats.contexts_created);
  return r;
}

Result ctx_create4(Context* out, void* params, unsigned flags, Device dev) {
  auto f = real_fn<Result (*)(Context*, void*, unsigned, Device)>(Hook::CtxCreate4);
  if (f == nullptr) return kErrorNotInitialized;
  Result r = f(out, params, flags, dev);
  if (r == kSuccess) count(g_stats.contexts_created);
  return r;
}

Result ctx_destroy(Context ctx) {
  auto f = real_fn<Result (*)(Context)>(Hook::CtxDestroy);
  if (f == nullptr) return kErrorNotInitialized;
  if (ctx != nullptr) cache_drop_context(ctx, true);
  t_ctx = nullptr;
  Result r = f(ctx);
  if (r == kSuccess) count(g_stats.contexts_destroyed);
  return r;
}

namespace {

// The primary context of `dev` while it is active, without changing its reference count
// for good; nullptr when inactive.
Context active_primary(Device dev) {
  const Driver* d = driver();
  auto release = real_fn<Result (*)(Device)>(Hook::PrimaryRelease);
  unsigned flags = 0;
  int active = 0;
  Context ctx = nullptr;
  if (d == nullptr || release == nullptr || d->primary_get_state == nullptr ||
      d->primary_retain == nullptr || d->primary_get_state(dev, &flags, &active) != kSuccess ||
      !active || d->primary_retain(&ctx, dev) != kSuccess)
    return nullptr;
  release(dev);
  return ctx;
}

bool primary_active(Device dev) {
  const Driver* d = driver();
  unsigned flags = 0;
  int active = 0;
  return d != nullptr && d->primary_get_state != nullptr &&
         d->primary_get_state(dev, &flags, &active) == kSuccess && active;
}

}  // namespace

Result primary_release(Device dev) {
  auto f = real_fn<Result (*)(Device)>(Hook::PrimaryRelease);
  if (f == nullptr) return kErrorNotInitialized;
  Context ctx = caching() ? active_primary(dev) : nullptr;
  Result r = f(dev);
  // The last reference destroys the context and with it every block of the cache there.
  if (r == kSuccess && ctx != nullptr && !primary_active(dev)) {
    cache_drop_context(ctx, false);
    t_ctx = nullptr;
  }
  return r;
}

Result primary_reset(Device dev) {
  auto f = real_fn<Result (*)(Device)>(Hook::PrimaryReset);
  if (f == nullptr) return kErrorNotInitialized;
  Context ctx = caching() ? active_primary(dev) : nullptr;
  if (ctx != nullptr) cache_drop_context(ctx, true);
  t_ctx = nullptr;
  return f(dev);
}

void init() {
  const config::Config& c = config::get();
  constexpr uint64_t kNoLimit = ~uint64_t(0);
  cache_configure(c.cuda_max_split != 0 ? c.cuda_max_split : kNoLimit,
                  c.cuda_max_cached != 0 ? c.cuda_max_cached : kNoLimit);
}

}  // namespace mpshim::entry::cuda

// ---------------------------------------------------------------------------------------
// Statistics and the public API
// ---------------------------------------------------------------------------------------

namespace mpshim::entry::cuda {
namespace {

struct PublicStats {  // include/mpshim.h's mpshim_cuda_stats
  int32_t device;
  uint64_t allocated, peak_allocated, reserved, peak_reserved, hits, misses;
};

struct Collect {
  PublicStats* out;
  size_t max, size;
  int count;
};

// Pools come per device, the small one first: the public struct adds both.
void collect(Device dev, PoolKind kind, const PoolStats& s, void* arg) {
  auto* c = static_cast<Collect*>(arg);
  if (kind == PoolKind::Small) ++c->count;
  size_t i = size_t(c->count - 1);
  if (i >= c->max) return;
  PublicStats p{};
  char* dst = reinterpret_cast<char*>(c->out) + i * c->size;
  if (kind != PoolKind::Small) memcpy(&p, dst, c->size < sizeof p ? c->size : sizeof p);
  p.device = dev;
  p.allocated += s.allocated;
  p.peak_allocated += s.peak_allocated;
  p.reserved += s.reserved;
  p.peak_reserved += s.peak_reserved;
  p.hits += s.hits;
  p.misses += s.misses;
  memcpy(dst, &p, c->size < sizeof p ? c->size : sizeof p);
}

constexpr size_t kMaxRows = 16;
struct Rows {
  report::CudaPoolRow rows[kMaxRows];
  size_t n;
  uint64_t reserved;
};

void add_row(Device dev, PoolKind kind, const PoolStats& s, void* arg) {
  auto* r = static_cast<Rows*>(arg);
  r->reserved += s.reserved;
  if (r->n < kMaxRows) r->rows[r->n++] = report::CudaPoolRow{dev, kind, s};
}

uint64_t reserved_now() {
  Rows r{};
  cache_for_each_pool(add_row, &r);
  return r.reserved;
}

}  // namespace

int public_stats(void* out, size_t max, size_t size) {
  if (!caching()) return -1;
  Collect c{static_cast<PublicStats*>(out), out == nullptr || size == 0 ? 0 : max, size, 0};
  cache_for_each_pool(collect, &c);
  return c.count;
}

void reset_peaks() { cache_reset_peaks(); }

uint64_t release_cache() {
  if (!caching()) return 0;
  uint64_t before = reserved_now();
  cache_release(nullptr);
  uint64_t after = reserved_now();
  return before > after ? before - after : 0;
}

void write_stats() {
  if (!used()) return;
  Rows r{};
  if (caching()) cache_for_each_pool(add_row, &r);
  HookStats h;
  hook_stats(&h);
  report::write_cuda_stats(r.rows, r.n, h);
}

}  // namespace mpshim::entry::cuda
