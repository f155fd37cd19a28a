// What the shim's CUDA driver hooks do (issue: device memory through a cache, tracked for
// the leak report). preload/cuda.cc exports them under the driver's names; dlsym and
// cuGetProcAddress hand them out in place of the driver's own (entry/cuda_real.h).
#pragma once
#include <cstddef>
#include <cstdint>

#include "cuda/stats.h"
#include "cuda/types.h"
#include "entry/cuda_real.h"
#include "prim/defines.h"

namespace mpshim::entry::cuda {

/// MPSHIM_CUDA: cache and track, track only, or pass every call through untouched.
enum class CudaMode : unsigned { On = 0, Track = 1, Off = 2 };
CudaMode mode();

/// dlsym for a name that may be a hooked driver entry point (the caller checked "cu").
MPSHIM_NOINLINE void* dlsym_cuda(void* handle, const char* name);

/// The exported dlsym: driver entry points go to dlsym_cuda; everything else is a tail call
/// of glibc's dlsym, so that RTLD_NEXT still means "after the caller".
MPSHIM_INLINE void* dlsym(void* handle, const char* name) {
  if (MPSHIM_UNLIKELY(name != nullptr && name[0] == 'c' && name[1] == 'u'))
    return dlsym_cuda(handle, name);
  return real_dlsym_fn()(handle, name);
}

Result get_proc_address(const char* name, void** fn, int version, uint64_t flags, int* status);
Result get_proc_address1(const char* name, void** fn, int version, uint64_t flags);

Result mem_alloc(DevPtr* out, size_t size);
Result mem_alloc_pitch(DevPtr* out, size_t* pitch, size_t width, size_t height, unsigned elem);
Result mem_free(DevPtr p);
Result mem_alloc_managed(DevPtr* out, size_t size, unsigned flags);
Result mem_alloc_host(void** out, size_t size);
Result mem_host_alloc(void** out, size_t size, unsigned flags);
Result mem_free_host(void* p);
Result mem_get_info(size_t* free, size_t* total);
template <Hook H>
Result mem_alloc_async(DevPtr* out, size_t size, Stream s);
template <Hook H>
Result mem_alloc_from_pool_async(DevPtr* out, size_t size, MemPool pool, Stream s);
template <Hook H>
Result mem_free_async(DevPtr p, Stream s);

Result stream_create(Stream* out, unsigned flags);
Result stream_create_with_priority(Stream* out, unsigned flags, int priority);
Result stream_destroy(Stream s);
template <Hook H>
Result begin_capture1(Stream s);
template <Hook H>
Result begin_capture(Stream s, int mode);
template <Hook H>
Result begin_capture_to_graph(Stream s, Graph g, const void* deps, const void* data, size_t n,
                              int mode);
template <Hook H>
Result end_capture(Stream s, Graph* out);

Result ctx_create2(Context* out, unsigned flags, Device dev);
Result ctx_create3(Context* out, void* affinity, int n, unsigned flags, Device dev);
Result ctx_create4(Context* out, void* params, unsigned flags, Device dev);
Result ctx_destroy(Context ctx);
Result primary_release(Device dev);
Result primary_reset(Device dev);

/// Counters of the hooks themselves (the cache keeps its own per pool).
void hook_stats(HookStats* out);
/// True once any hook ran (the statistics table shows a CUDA part only then).
bool used();

/// Start-up: the cache's options.
void init();

/// mpshim_cuda_get_stats: per device, into the public struct (`size` bytes each).
int public_stats(void* out, size_t max, size_t size);
void reset_peaks();
/// Gives unused cached segments back; returns the bytes.
uint64_t release_cache();
/// The MPSHIM_STATS table's CUDA part (only when a hook ran).
void write_stats();

}  // namespace mpshim::entry::cuda
