// Driver state, knobs, devices and contexts (primary and created), the calling thread's
// context stack, error strings.
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "driver.h"

namespace fakecuda {

std::recursive_mutex mu;
// Never destroyed: other libraries' destructors may still call the driver at exit, and the
// state stays reachable from this global for leak checkers.
static Driver* g_driver;

// The context stack of each thread (cuCtxPush/Pop; the top is the current context).
static thread_local Context* tl_stack[32];
static thread_local int tl_depth;
static thread_local int tl_capture_mode = CAPTURE_GLOBAL;

Driver& drv() {
  if (!g_driver) g_driver = new Driver();
  return *g_driver;
}

std::unique_lock<std::recursive_mutex> lock() { return std::unique_lock<std::recursive_mutex>(mu); }

CUresult check_init() { return drv().initialized ? CUDA_SUCCESS : CUDA_ERROR_NOT_INITIALIZED; }

Context* current_ctx() {
  Context* c = tl_depth ? tl_stack[tl_depth - 1] : nullptr;
  return c && valid_ctx(c) ? c : nullptr;
}

bool valid_ctx(Context* c) {
  if (!c || c->destroyed) return false;
  Driver& d = drv();
  for (auto& dev : d.devices)
    if (&dev->primary == c) return true;
  for (auto& x : d.contexts)
    if (x.get() == c) return true;
  return false;
}

pid_t thread_id() { return static_cast<pid_t>(syscall(SYS_gettid)); }

int& thread_capture_mode() { return tl_capture_mode; }

void busy_wait_us(unsigned us) {
  if (!us) return;
  timespec t0, t;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  do clock_gettime(CLOCK_MONOTONIC, &t);
  while ((t.tv_sec - t0.tv_sec) * 1000000000LL + (t.tv_nsec - t0.tv_nsec) < us * 1000LL);
}

// ---- knobs
static unsigned long long env_number(const char* name, unsigned long long dflt) {
  const char* v = getenv(name);
  if (!v || !*v) return dflt;
  char* end = nullptr;
  unsigned long long n = strtoull(v, &end, 10);
  switch (*end) {
    case 'k': case 'K': n <<= 10; break;
    case 'm': case 'M': n <<= 20; break;
    case 'g': case 'G': n <<= 30; break;
    default: break;
  }
  return n;
}

static void init_context(Context* c, int device, bool primary) {
  c->device = device;
  c->primary = primary;
  c->destroyed = false;
  c->streams.clear();
  c->per_thread.clear();
  c->legacy = new_stream(c, StreamKind::Legacy, 0);
  c->internal = new_stream(c, StreamKind::Internal, CU_STREAM_NON_BLOCKING);
}

// Device arenas are mapped once; NORESERVE: pages cost nothing until a kernel touches them.
static bool init_devices(Driver& d) {
  for (int i = 0; i < d.knobs.devices; ++i) {
    auto dev = std::make_unique<Device>();
    void* p = mmap(nullptr, d.knobs.memory, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return false;
    dev->base = static_cast<char*>(p);
    dev->capacity = d.knobs.memory;
    dev->free_ranges[0] = d.knobs.memory;
    init_context(&dev->primary, i, true);
    d.devices.push_back(std::move(dev));
  }
  return true;
}

static CUresult device_ok(CUdevice dev) {
  if (CUresult r = check_init()) return r;
  return dev >= 0 && dev < static_cast<int>(drv().devices.size()) ? CUDA_SUCCESS
                                                                   : CUDA_ERROR_INVALID_DEVICE;
}

// Makes c the calling thread's current context (replacing the top of its stack).
static void set_current(Context* c) {
  if (tl_depth == 0) {
    if (!c) return;
    tl_depth = 1;
  }
  tl_stack[tl_depth - 1] = c;
}

}  // namespace fakecuda

using namespace fakecuda;

// ---- initialisation and devices
FC_EXPORT CUresult cuInit(unsigned flags) {
  if (flags) return CUDA_ERROR_INVALID_VALUE;
  auto lk = lock();
  Driver& d = drv();
  if (d.initialized) return CUDA_SUCCESS;
  d.knobs.devices = static_cast<int>(env_number("FAKECUDA_DEVICES", 1));
  if (d.knobs.devices < 0) d.knobs.devices = 0;
  if (d.knobs.devices > FAKECUDA_MAX_DEVICES) d.knobs.devices = FAKECUDA_MAX_DEVICES;
  d.knobs.memory = env_number("FAKECUDA_MEMORY", size_t(1) << 30);
  d.knobs.alloc_latency_us = static_cast<unsigned>(env_number("FAKECUDA_ALLOC_LATENCY_US", 0));
  d.knobs.free_latency_us = static_cast<unsigned>(env_number("FAKECUDA_FREE_LATENCY_US", 0));
  d.knobs.async = env_number("FAKECUDA_ASYNC", 0) != 0;
  d.knobs.no_ctx_record_event = env_number("FAKECUDA_NO_CTX_RECORD_EVENT", 0) != 0;
  if (!init_devices(d)) return CUDA_ERROR_OUT_OF_MEMORY;
  d.initialized = true;
  return d.devices.empty() ? CUDA_ERROR_NO_DEVICE : CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDriverGetVersion(int* version) {
  if (!version) return CUDA_ERROR_INVALID_VALUE;
  *version = 13000;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetCount(int* count) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!count) return CUDA_ERROR_INVALID_VALUE;
  *count = static_cast<int>(drv().devices.size());
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGet(CUdevice* dev, int ordinal) {
  auto lk = lock();
  if (CUresult r = device_ok(ordinal)) return r;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  *dev = ordinal;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetName(char* name, int len, CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!name || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  snprintf(name, static_cast<size_t>(len), "Fake CUDA Device %d", dev);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!bytes) return CUDA_ERROR_INVALID_VALUE;
  *bytes = drv().devices[dev]->capacity;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDeviceGetAttribute(int* value, int attrib, CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!value) return CUDA_ERROR_INVALID_VALUE;
  switch (attrib) {
    case 1: *value = 1024; break;                   // max threads per block
    case 2: case 3: *value = 1024; break;           // max block dim x, y
    case 4: *value = 64; break;                     // max block dim z
    case 5: *value = 2147483647; break;             // max grid dim x
    case 6: case 7: *value = 65535; break;          // max grid dim y, z
    case 8: *value = 49152; break;                  // shared memory per block
    case 9: *value = 65536; break;                  // constant memory
    case 10: *value = 32; break;                    // warp size
    case 13: *value = 1500000; break;               // clock rate (kHz)
    case 16: *value = 4; break;                     // multiprocessors
    case 33: *value = dev + 1; break;               // PCI bus id
    case 19: case 31: case 41: case 83: case 89: case 115: *value = 1; break;
    case 40: *value = 2; break;                     // async engines
    case 75: *value = 8; break;                     // compute capability 8.0
    case 76: *value = 0; break;
    default: *value = 0; break;
  }
  return CUDA_SUCCESS;
}

// ---- primary contexts
FC_EXPORT CUresult cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  Device& d = *drv().devices[dev];
  ++d.primary_refs;
  d.primary_active = true;
  *pctx = reinterpret_cast<CUcontext>(&d.primary);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxRelease_v2(CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  Device& d = *drv().devices[dev];
  if (d.primary_refs == 0) return CUDA_ERROR_INVALID_CONTEXT;
  if (--d.primary_refs == 0) d.primary_active = false;  // memory stays, as the real one keeps
  return CUDA_SUCCESS;                                  // it until a reset or the exit
}

FC_EXPORT CUresult cuDevicePrimaryCtxReset_v2(CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  Device& d = *drv().devices[dev];
  sync_context(&d.primary);
  release_context_memory(&d.primary);
  d.primary_refs = 0;
  d.primary_active = false;
  d.primary.flags = 0;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxGetState(CUdevice dev, unsigned* flags, int* active) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!flags || !active) return CUDA_ERROR_INVALID_VALUE;
  *flags = drv().devices[dev]->primary.flags;
  *active = drv().devices[dev]->primary_active ? 1 : 0;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuDevicePrimaryCtxSetFlags_v2(CUdevice dev, unsigned flags) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  drv().devices[dev]->primary.flags = flags;
  return CUDA_SUCCESS;
}

// ---- created contexts
static CUresult ctx_create(CUcontext* pctx, unsigned flags, CUdevice dev) {
  auto lk = lock();
  if (CUresult r = device_ok(dev)) return r;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  auto c = std::make_unique<Context>();
  init_context(c.get(), dev, false);
  c->flags = flags;
  Context* raw = c.get();
  drv().contexts.push_back(std::move(c));
  if (tl_depth == 32) return CUDA_ERROR_INVALID_CONTEXT;
  tl_stack[tl_depth++] = raw;  // the new context is pushed
  *pctx = reinterpret_cast<CUcontext>(raw);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxCreate_v2(CUcontext* pctx, unsigned flags, CUdevice dev) {
  return ctx_create(pctx, flags, dev);
}
FC_EXPORT CUresult cuCtxCreate_v3(CUcontext* pctx, void* /*affinity*/, int /*n*/, unsigned flags,
                                  CUdevice dev) {
  return ctx_create(pctx, flags, dev);
}
FC_EXPORT CUresult cuCtxCreate_v4(CUcontext* pctx, void* /*params*/, unsigned flags,
                                  CUdevice dev) {
  return ctx_create(pctx, flags, dev);
}

FC_EXPORT CUresult cuCtxDestroy_v2(CUcontext ctx) {
  auto lk = lock();
  Context* c = reinterpret_cast<Context*>(ctx);
  if (!valid_ctx(c) || c->primary) return CUDA_ERROR_INVALID_CONTEXT;
  sync_context(c);
  release_context_memory(c);
  for (auto& s : std::vector<std::shared_ptr<Stream>>(c->streams)) drv().streams.erase(s.get());
  c->streams.clear();
  c->per_thread.clear();
  c->destroyed = true;
  for (int i = 0; i < tl_depth; ++i)
    if (tl_stack[i] == c) tl_stack[i] = nullptr;
  while (tl_depth && !tl_stack[tl_depth - 1]) --tl_depth;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetCurrent(CUcontext* pctx) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  *pctx = reinterpret_cast<CUcontext>(current_ctx());
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxSetCurrent(CUcontext ctx) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Context* c = reinterpret_cast<Context*>(ctx);
  if (c && !valid_ctx(c)) return CUDA_ERROR_INVALID_CONTEXT;
  if (!c && tl_depth) {
    --tl_depth;  // cuCtxSetCurrent(NULL) pops the current context
    return CUDA_SUCCESS;
  }
  set_current(c);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPushCurrent_v2(CUcontext ctx) {
  auto lk = lock();
  Context* c = reinterpret_cast<Context*>(ctx);
  if (!valid_ctx(c) || tl_depth == 32) return CUDA_ERROR_INVALID_CONTEXT;
  tl_stack[tl_depth++] = c;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxPopCurrent_v2(CUcontext* pctx) {
  auto lk = lock();
  if (tl_depth == 0) return CUDA_ERROR_INVALID_CONTEXT;
  Context* c = tl_stack[--tl_depth];
  if (pctx) *pctx = reinterpret_cast<CUcontext>(c);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetDevice(CUdevice* dev) {
  auto lk = lock();
  Context* c = current_ctx();
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  *dev = c->device;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxGetDevice_v2(CUdevice* dev, CUcontext ctx) {
  auto lk = lock();
  Context* c = ctx ? reinterpret_cast<Context*>(ctx) : current_ctx();
  if (!valid_ctx(c)) return CUDA_ERROR_INVALID_CONTEXT;
  if (!dev) return CUDA_ERROR_INVALID_VALUE;
  *dev = c->device;
  return CUDA_SUCCESS;
}

static CUresult ctx_synchronize(Context* c) {
  auto lk = lock();
  if (!valid_ctx(c)) return CUDA_ERROR_INVALID_CONTEXT;
  if (CUresult r = capture_guard()) return r;
  ++drv().counters.ctx_synchronize;
  ++drv().counters.device_synchronize;
  sync_context(c);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuCtxSynchronize() { return ctx_synchronize(current_ctx()); }

FC_EXPORT CUresult cuCtxSynchronize_v2(CUcontext ctx) {
  return ctx_synchronize(ctx ? reinterpret_cast<Context*>(ctx) : current_ctx());
}

// ---- errors
static const char* error_name(CUresult e, bool text) {
  switch (e) {
#define E(code, name, str) case code: return text ? str : name;
    E(0, "CUDA_SUCCESS", "no error")
    E(1, "CUDA_ERROR_INVALID_VALUE", "invalid argument")
    E(2, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory")
    E(3, "CUDA_ERROR_NOT_INITIALIZED", "initialization error")
    E(100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")
    E(101, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal")
    E(201, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context")
    E(400, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle")
    E(500, "CUDA_ERROR_NOT_FOUND", "named symbol not found")
    E(600, "CUDA_ERROR_NOT_READY", "device not ready")
    E(801, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported")
    E(900, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED", "operation not permitted when stream is capturing")
    E(901, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED", "operation failed due to a previous error during capture")
    E(903, "CUDA_ERROR_STREAM_CAPTURE_UNMATCHED", "capture was not initiated in this stream")
    E(906, "CUDA_ERROR_STREAM_CAPTURE_IMPLICIT", "operation would make the legacy stream depend on a capturing blocking stream")
    E(908, "CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD", "attempt to terminate a thread-local capture sequence from another thread")
    E(999, "CUDA_ERROR_UNKNOWN", "unknown error")
#undef E
    default: return nullptr;
  }
}

FC_EXPORT CUresult cuGetErrorString(CUresult e, const char** str) {
  if (!str) return CUDA_ERROR_INVALID_VALUE;
  *str = error_name(e, true);
  return *str ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FC_EXPORT CUresult cuGetErrorName(CUresult e, const char** str) {
  if (!str) return CUDA_ERROR_INVALID_VALUE;
  *str = error_name(e, false);
  return *str ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
