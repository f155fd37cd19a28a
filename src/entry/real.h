// libc's own allocator, for MPSHIM_HOST=off: resolved once with dlsym(RTLD_NEXT). dlsym
// itself allocates, so calls made while resolving are served from a static bump area.
#pragma once
#include <cstddef>

namespace mpshim::entry {

struct RealMalloc {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  void* (*memalign)(size_t, size_t);
  size_t (*usable_size)(void*);
  int (*trim)(size_t);
};
extern RealMalloc g_real;

/// Resolves g_real; false when some symbol is missing.
bool resolve_real();
/// Bump allocation from the bootstrap area (never freed); nullptr when exhausted.
void* bootstrap_alloc(size_t size, size_t align);
/// True for pointers into the bootstrap area.
bool is_bootstrap(const void* p);
/// Bytes from `p` (in the bootstrap area) to the end of the area.
size_t bootstrap_tail(const void* p);

}  // namespace mpshim::entry
