#include "track/unwinder.h"

#include <link.h>

#include <atomic>
#include <iterator>

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

// libunwind's writable segments, when the shim loaded it.
struct Range {
  uintptr_t lo, hi;
};
Range g_data[4];
std::atomic<size_t> g_ndata{0};

// Records the writable segments of the object whose code holds `code` (dl_iterate_phdr).
int record_data(dl_phdr_info* info, size_t, void* code) {
  auto pc = reinterpret_cast<uintptr_t>(code);
  bool holds = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    holds |= ph.p_type == PT_LOAD && (ph.p_flags & PF_X) != 0 && pc - lo < ph.p_memsz;
  }
  if (!holds) return 0;
  size_t n = 0;
  for (int i = 0; i < info->dlpi_phnum && n < std::size(g_data); ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W) == 0) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    g_data[n++] = Range{lo, lo + ph.p_memsz};
  }
  g_ndata.store(n, std::memory_order_release);
  return 1;
}

}  // namespace

void for_each_unwinder_data(void (*fn)(uintptr_t, uintptr_t, void*), void* ctx) {
  size_t n = g_ndata.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) fn(g_data[i].lo, g_data[i].hi, ctx);
}

const Unwinder* unwinder() {
  int state = g_state.load(std::memory_order_acquire);
  if (state == 2) return &g_unwinder;
  if (state != 0) return nullptr;  // missing, or another thread is filling it in
  bool ours = !prim::library_loaded(MPSHIM_LIBUNWIND);
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
  if (ours) dl_iterate_phdr(record_data, reinterpret_cast<void*>(u.step));
  g_unwinder = u;
  g_state.store(2, std::memory_order_release);
  return &g_unwinder;
}

}  // namespace mpshim::track
