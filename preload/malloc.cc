// The C allocation functions glibc lets a replacement provide, and the __libc_ aliases.
#include <malloc.h>

#include "entry/entry.h"

using namespace mpshim;

MPSHIM_EXPORT void* malloc(size_t n) { return entry::alloc(n, track::Kind::Malloc); }
MPSHIM_EXPORT void free(void* p) { entry::free(p); }
MPSHIM_EXPORT void* calloc(size_t n, size_t size) { return entry::calloc(n, size); }
MPSHIM_EXPORT void* realloc(void* p, size_t n) { return entry::realloc(p, n); }
// `&realloc` is read from the GOT: the process's realloc, which is not this one when the
// program defines its own (entry.h).
MPSHIM_EXPORT void* reallocarray(void* p, size_t n, size_t size) { return entry::reallocarray(p, n, size, &realloc); }
MPSHIM_EXPORT int posix_memalign(void** out, size_t align, size_t n) { return entry::posix_memalign(out, align, n); }
MPSHIM_EXPORT void* aligned_alloc(size_t align, size_t n) { return entry::aligned_alloc(align, n); }
MPSHIM_EXPORT void* memalign(size_t align, size_t n) { return entry::memalign(align, n); }
MPSHIM_EXPORT void* valloc(size_t n) { return entry::valloc(n); }
MPSHIM_EXPORT void* pvalloc(size_t n) { return entry::pvalloc(n); }
MPSHIM_EXPORT size_t malloc_usable_size(void* p) { return entry::usable_size(p); }
MPSHIM_EXPORT int malloc_trim(size_t pad) { return entry::trim(pad); }

MPSHIM_EXPORT void* __libc_malloc(size_t n) { return entry::alloc(n, track::Kind::Malloc); }
MPSHIM_EXPORT void __libc_free(void* p) { entry::free(p); }
MPSHIM_EXPORT void* __libc_calloc(size_t n, size_t size) { return entry::calloc(n, size); }
MPSHIM_EXPORT void* __libc_realloc(void* p, size_t n) { return entry::realloc(p, n); }
MPSHIM_EXPORT void* __libc_memalign(size_t align, size_t n) { return entry::memalign(align, n); }
MPSHIM_EXPORT void* __libc_valloc(size_t n) { return entry::valloc(n); }
MPSHIM_EXPORT void* __libc_pvalloc(size_t n) { return entry::pvalloc(n); }
