// glibc's malloc introspection calls, answered from mpshim's statistics.
#include <malloc.h>

#include "entry/info.h"
#include "prim/defines.h"

using namespace mpshim;

MPSHIM_EXPORT int mallopt(int, int) { return 1; }  // accepted: mpshim has no glibc tunables
MPSHIM_EXPORT struct mallinfo2 mallinfo2() { return entry::info2(); }
MPSHIM_EXPORT struct mallinfo mallinfo() { return entry::info1(); }
MPSHIM_EXPORT void malloc_stats() { entry::print_stats(); }
