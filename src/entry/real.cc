#include "entry/real.h"

#include <atomic>
#include <cstdint>
#include <dlfcn.h>

namespace mpshim::entry {

RealMalloc g_real;

alignas(64) static char g_bootstrap[256 << 10];
static std::atomic<size_t> g_bootstrap_used{0};

void* bootstrap_alloc(size_t size, size_t align) {
  if (align < 16) align = 16;
  size_t cur = g_bootstrap_used.load(std::memory_order_relaxed);
  for (;;) {
    size_t start = (cur + align - 1) & ~(align - 1);
    if (start + size > sizeof g_bootstrap || start + size < start) return nullptr;
    if (g_bootstrap_used.compare_exchange_weak(cur, start + size, std::memory_order_relaxed))
      return g_bootstrap + start;  // static storage is zeroed and never reused
  }
}

bool is_bootstrap(const void* p) {
  auto a = reinterpret_cast<uintptr_t>(p), lo = reinterpret_cast<uintptr_t>(g_bootstrap);
  return a >= lo && a < lo + sizeof g_bootstrap;
}

size_t bootstrap_tail(const void* p) {
  return size_t(g_bootstrap + sizeof g_bootstrap - static_cast<const char*>(p));
}

template <typename F>
static bool resolve(F* out, const char* name) {
  *out = reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
  return *out != nullptr;
}

bool resolve_real() {
  bool ok = resolve(&g_real.malloc, "__libc_malloc") && resolve(&g_real.free, "__libc_free") &&
            resolve(&g_real.calloc, "__libc_calloc") && resolve(&g_real.realloc, "__libc_realloc") &&
            resolve(&g_real.memalign, "__libc_memalign") &&
            resolve(&g_real.usable_size, "malloc_usable_size");
  resolve(&g_real.trim, "malloc_trim");
  return ok;
}

}  // namespace mpshim::entry
