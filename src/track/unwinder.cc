#include "track/unwinder.h"

#include <atomic>

#include "prim/os.h"

// A libunwind name as a string, after libunwind.h's macros (UNW_LOCAL_ONLY, the target).
#define MPSHIM_STR2(x) #x
#define MPSHIM_STR(x) MPSHIM_STR2(x)

namespace mpshim::track {
namespace {

Unwinder g_unwinder;
// 0: not loaded; 1: one thread fills g_unwinder; 2: ready; 3: libunwind is missing.
std::atomic<int> g_state{0};

template <class F>
bool find(void* lib, const char* name, F* out) {
  *out = reinterpret_cast<F>(prim::library_symbol(lib, name));
  return *out != nullptr;
}

}  // namespace

const Unwinder* unwinder() {
  int state = g_state.load(std::memory_order_acquire);
  if (state == 2) return &g_unwinder;
  if (state != 0) return nullptr;  // missing, or another thread is filling it in
  void* lib = prim::load_library(MPSHIM_LIBUNWIND);
  if (lib == nullptr) return nullptr;
  Unwinder u;
  int (*set_caching)(unw_addr_space_t, unw_caching_policy_t);
  unw_addr_space_t* local;
  bool ok = find(lib, MPSHIM_STR(unw_tdep_getcontext), &u.getcontext) &&
            find(lib, MPSHIM_STR(unw_init_local), &u.init_local) &&
            find(lib, MPSHIM_STR(unw_step), &u.step) && find(lib, MPSHIM_STR(unw_get_reg), &u.get_reg) &&
            find(lib, MPSHIM_STR(unw_get_proc_info), &u.get_proc_info) &&
            find(lib, "unw_backtrace", &u.backtrace) &&
            find(lib, MPSHIM_STR(unw_set_caching_policy), &set_caching) &&
            find(lib, MPSHIM_STR(unw_local_addr_space), &local);
  int expected = 0;
  if (!g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel))
    return expected == 2 ? &g_unwinder : nullptr;
  if (!ok) {
    g_state.store(3, std::memory_order_release);
    return nullptr;
  }
  // Per-thread caches keep libunwind free of locks when several threads unwind.
  set_caching(*local, UNW_CACHE_PER_THREAD);
  g_unwinder = u;
  g_state.store(2, std::memory_order_release);
  return &g_unwinder;
}

}  // namespace mpshim::track
