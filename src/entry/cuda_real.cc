#include "entry/cuda_real.h"

#include <cstring>
#include <dlfcn.h>

#include "prim/defines.h"

namespace mpshim::entry::cuda {
namespace {

constexpr HookInfo kHooks[] = {
#define MPSHIM_CUDA_HOOK_ROW(id, base, from, until, ptsz, symbol) {base, from, until, ptsz != 0, symbol},
    MPSHIM_CUDA_HOOKS(MPSHIM_CUDA_HOOK_ROW)
#undef MPSHIM_CUDA_HOOK_ROW
};
static_assert(sizeof kHooks / sizeof kHooks[0] == size_t(kHookCount));

constexpr uint64_t kLegacyStream = 1, kPerThreadStream = 2;  // CU_GET_PROC_ADDRESS_*

std::atomic<void*> g_real[kHookCount];
std::atomic<DlsymFn> g_dlsym{nullptr};
Driver g_driver;
std::atomic<int> g_driver_state{0};  // 0 not resolved, 1 resolved, 2 resolving
MPSHIM_TLS bool t_filling;           // this thread is resolving

using GetProcFn = Result (*)(const char*, void**, int, uint64_t, int*);

// The driver's cuGetProcAddress_v2: as the program's dlsym handed it out, or from the
// loaded libcuda.so.1 (a program linked against it, or one that has not asked yet).
GetProcFn get_proc() {
  void* p = g_real[int(Hook::GetProcAddress)].load(std::memory_order_acquire);
  if (p != nullptr) return reinterpret_cast<GetProcFn>(p);
  p = real_dlsym(RTLD_NEXT, "cuGetProcAddress_v2");
  if (p == nullptr) {
    void* lib = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_NOLOAD);
    if (lib == nullptr) return nullptr;
    p = real_dlsym(lib, "cuGetProcAddress_v2");
    dlclose(lib);  // NOLOAD took a reference; the library stays loaded
  }
  if (p == nullptr || is_own(p)) return nullptr;
  set_real(Hook::GetProcAddress, p);
  return reinterpret_cast<GetProcFn>(p);
}

void* lookup(const char* base, int version, uint64_t flags) {
  GetProcFn gp = get_proc();
  void* p = nullptr;
  int status = 0;
  if (gp == nullptr || gp(base, &p, version, flags, &status) != kSuccess) return nullptr;
  return p;
}

template <typename F>
void find(F* out, const char* base, int version) {
  *out = reinterpret_cast<F>(lookup(base, version, kLegacyStream));
}

}  // namespace

const HookInfo& hook_info(Hook h) { return kHooks[int(h)]; }

DlsymFn real_dlsym_fn() {
  DlsymFn f = g_dlsym.load(std::memory_order_acquire);
  if (f != nullptr) return f;
  void* p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (p == nullptr) p = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
  f = reinterpret_cast<DlsymFn>(p);
  g_dlsym.store(f, std::memory_order_release);
  return f;
}

void* real_dlsym(void* handle, const char* name) {
  DlsymFn f = real_dlsym_fn();
  return f != nullptr ? f(handle, name) : nullptr;
}

bool is_own(const void* p) {
  Dl_info own{}, other{};
  if (dladdr(reinterpret_cast<const void*>(&is_own), &own) == 0) return false;
  return dladdr(p, &other) != 0 && other.dli_fbase == own.dli_fbase;
}

void set_real(Hook h, void* p) {
  if (p == nullptr || is_own(p)) return;
  void* expected = nullptr;
  g_real[int(h)].compare_exchange_strong(expected, p, std::memory_order_acq_rel);
}

void* real(Hook h) {
  void* p = g_real[int(h)].load(std::memory_order_acquire);
  if (p != nullptr) return p;
  const HookInfo& info = kHooks[int(h)];
  p = lookup(info.base, info.from, info.ptsz ? kPerThreadStream : kLegacyStream);
  if (p == nullptr) p = real_dlsym(RTLD_NEXT, info.symbol);
  set_real(h, p);
  return g_real[int(h)].load(std::memory_order_acquire);
}

Hook hook_by_symbol(const char* name) {
  if (name == nullptr || name[0] != 'c' || name[1] != 'u') return Hook::Count;
  for (int i = 0; i < kHookCount; ++i)
    if (strcmp(kHooks[i].symbol, name) == 0) return Hook(i);
  return Hook::Count;
}

Hook hook_by_request(const char* base, int version, uint64_t flags) {
  if (base == nullptr || base[0] != 'c' || base[1] != 'u') return Hook::Count;
  bool ptsz = (flags & kPerThreadStream) != 0;
  bool has_ptsz = false;  // the name has a per-thread variant at all
  int plain = -1;         // the variant of this version without it
  for (int i = 0; i < kHookCount; ++i) {
    const HookInfo& h = kHooks[i];
    if (strcmp(h.base, base) != 0) continue;
    has_ptsz |= h.ptsz;
    if (version < h.from || (h.until != 0 && version >= h.until)) continue;
    if (h.ptsz == ptsz) return Hook(i);
    if (!h.ptsz) plain = i;
  }
  // An entry point without a per-thread variant ignores the flag.
  return ptsz && !has_ptsz && plain >= 0 ? Hook(plain) : Hook::Count;
}

const Driver* driver() {
  int state = g_driver_state.load(std::memory_order_acquire);
  if (state == 1) return &g_driver;
  // The thread filling the table gets nullptr if the driver calls back into the shim; any
  // other waits, or its first allocations would bypass the cache.
  if (t_filling || (state == 0 && get_proc() == nullptr)) return nullptr;
  if (state == 2 || !g_driver_state.compare_exchange_strong(state, 2, std::memory_order_acq_rel)) {
    while (g_driver_state.load(std::memory_order_acquire) == 2) {
    }
    return g_driver_state.load(std::memory_order_acquire) == 1 ? &g_driver : nullptr;
  }
  t_filling = true;
  Driver& d = g_driver;
  find(&d.ctx_get_current, "cuCtxGetCurrent", 4000);
  find(&d.ctx_push, "cuCtxPushCurrent", 4000);
  find(&d.ctx_pop, "cuCtxPopCurrent", 4000);
  find(&d.ctx_get_device, "cuCtxGetDevice", 2000);
  find(&d.ctx_synchronize, "cuCtxSynchronize", 2000);
  find(&d.event_create, "cuEventCreate", 2000);
  find(&d.event_destroy, "cuEventDestroy", 4000);
  find(&d.event_query, "cuEventQuery", 2000);
  find(&d.event_synchronize, "cuEventSynchronize", 2000);
  find(&d.ctx_record_event, "cuCtxRecordEvent", 12050);
  find(&d.exchange_capture_mode, "cuThreadExchangeStreamCaptureMode", 10010);
  find(&d.primary_get_state, "cuDevicePrimaryCtxGetState", 7000);
  find(&d.primary_retain, "cuDevicePrimaryCtxRetain", 7000);
  bool ok = d.ctx_get_current && d.ctx_push && d.ctx_pop && d.ctx_get_device &&
            d.ctx_synchronize && d.event_create && d.event_destroy && d.event_query &&
            d.event_synchronize;
  t_filling = false;
  g_driver_state.store(ok ? 1 : 0, std::memory_order_release);
  return ok ? &g_driver : nullptr;
}

}  // namespace mpshim::entry::cuda
