// The public C API of include/mpshim.h, and the dlopen and dlclose hooks.
#define MPSHIM_BUILDING 1
#include "mpshim.h"

#include <cstring>

#include "cpu/heap.h"
#include "cpu/stats.h"
#include "entry/check.h"
#include "entry/cuda.h"
#include "entry/entry.h"

using namespace mpshim;

MPSHIM_EXPORT const char* mpshim_version(void) { return MPSHIM_VERSION_STRING; }
MPSHIM_EXPORT int mpshim_get_stats(mpshim_stats* out, size_t size) { return entry::public_stats(out, size); }
MPSHIM_EXPORT int mpshim_leak_check(void) { return entry::leak_check(false); }
MPSHIM_EXPORT void mpshim_ignore(const void* p) { if (entry::tracking()) track::ignore(p); }
MPSHIM_EXPORT void mpshim_disable_tracking(void) { if (entry::tracking()) track::disable_thread(); }
MPSHIM_EXPORT void mpshim_enable_tracking(void) { if (entry::tracking()) track::enable_thread(); }
MPSHIM_EXPORT int mpshim_trim(void) { return entry::trim(0); }
MPSHIM_EXPORT int mpshim_cuda_get_stats(mpshim_cuda_stats* out, size_t max, size_t size) { return entry::cuda::public_stats(out, max, size); }
MPSHIM_EXPORT void mpshim_cuda_reset_peaks(void) { entry::cuda::reset_peaks(); }
MPSHIM_EXPORT uint64_t mpshim_cuda_release_cache(void) { return entry::cuda::release_cache(); }
MPSHIM_EXPORT void* dlopen(const char* file, int mode) { return entry::dlopen(file, mode); }
MPSHIM_EXPORT int dlclose(void* handle) { return entry::dlclose(handle); }
