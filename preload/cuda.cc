// The CUDA driver entry points and dlsym, exported for programs that link libcuda or look
// its functions up; each is a one-line forward to src/entry/cuda.h.
#include "entry/cuda.h"

using namespace mpshim::entry::cuda;
using H = Hook;

MPSHIM_EXPORT void* dlsym(void* handle, const char* name) { return mpshim::entry::cuda::dlsym(handle, name); }

MPSHIM_EXPORT Result cuGetProcAddress_v2(const char* n, void** f, int v, uint64_t fl, int* st) { return get_proc_address(n, f, v, fl, st); }
MPSHIM_EXPORT Result cuGetProcAddress(const char* n, void** f, int v, uint64_t fl) { return get_proc_address1(n, f, v, fl); }

MPSHIM_EXPORT Result cuMemAlloc_v2(DevPtr* p, size_t n) { return mem_alloc(p, n); }
MPSHIM_EXPORT Result cuMemAllocPitch_v2(DevPtr* p, size_t* pitch, size_t w, size_t h, unsigned e) { return mem_alloc_pitch(p, pitch, w, h, e); }
MPSHIM_EXPORT Result cuMemFree_v2(DevPtr p) { return mem_free(p); }
MPSHIM_EXPORT Result cuMemAllocManaged(DevPtr* p, size_t n, unsigned fl) { return mem_alloc_managed(p, n, fl); }
MPSHIM_EXPORT Result cuMemAllocHost_v2(void** p, size_t n) { return mem_alloc_host(p, n); }
MPSHIM_EXPORT Result cuMemHostAlloc(void** p, size_t n, unsigned fl) { return mem_host_alloc(p, n, fl); }
MPSHIM_EXPORT Result cuMemFreeHost(void* p) { return mem_free_host(p); }
MPSHIM_EXPORT Result cuMemGetInfo_v2(size_t* free, size_t* total) { return mem_get_info(free, total); }
MPSHIM_EXPORT Result cuMemAllocAsync(DevPtr* p, size_t n, Stream s) { return mem_alloc_async<H::MemAllocAsync>(p, n, s); }
MPSHIM_EXPORT Result cuMemAllocAsync_ptsz(DevPtr* p, size_t n, Stream s) { return mem_alloc_async<H::MemAllocAsyncPtsz>(p, n, s); }
MPSHIM_EXPORT Result cuMemAllocFromPoolAsync(DevPtr* p, size_t n, MemPool m, Stream s) { return mem_alloc_from_pool_async<H::MemAllocFromPoolAsync>(p, n, m, s); }
MPSHIM_EXPORT Result cuMemAllocFromPoolAsync_ptsz(DevPtr* p, size_t n, MemPool m, Stream s) { return mem_alloc_from_pool_async<H::MemAllocFromPoolAsyncPtsz>(p, n, m, s); }
MPSHIM_EXPORT Result cuMemFreeAsync(DevPtr p, Stream s) { return mem_free_async<H::MemFreeAsync>(p, s); }
MPSHIM_EXPORT Result cuMemFreeAsync_ptsz(DevPtr p, Stream s) { return mem_free_async<H::MemFreeAsyncPtsz>(p, s); }

MPSHIM_EXPORT Result cuStreamCreate(Stream* s, unsigned fl) { return stream_create(s, fl); }
MPSHIM_EXPORT Result cuStreamCreateWithPriority(Stream* s, unsigned fl, int prio) { return stream_create_with_priority(s, fl, prio); }
MPSHIM_EXPORT Result cuStreamDestroy_v2(Stream s) { return stream_destroy(s); }
MPSHIM_EXPORT Result cuStreamBeginCapture(Stream s) { return begin_capture1<H::BeginCapture1>(s); }
MPSHIM_EXPORT Result cuStreamBeginCapture_ptsz(Stream s) { return begin_capture1<H::BeginCapture1Ptsz>(s); }
MPSHIM_EXPORT Result cuStreamBeginCapture_v2(Stream s, int m) { return begin_capture<H::BeginCapture>(s, m); }
MPSHIM_EXPORT Result cuStreamBeginCapture_v2_ptsz(Stream s, int m) { return begin_capture<H::BeginCapturePtsz>(s, m); }
MPSHIM_EXPORT Result cuStreamBeginCaptureToGraph(Stream s, Graph g, const void* d, const void* e, size_t n, int m) { return begin_capture_to_graph<H::BeginCaptureToGraph>(s, g, d, e, n, m); }
MPSHIM_EXPORT Result cuStreamBeginCaptureToGraph_ptsz(Stream s, Graph g, const void* d, const void* e, size_t n, int m) { return begin_capture_to_graph<H::BeginCaptureToGraphPtsz>(s, g, d, e, n, m); }
MPSHIM_EXPORT Result cuStreamEndCapture(Stream s, Graph* g) { return end_capture<H::EndCapture>(s, g); }
MPSHIM_EXPORT Result cuStreamEndCapture_ptsz(Stream s, Graph* g) { return end_capture<H::EndCapturePtsz>(s, g); }

MPSHIM_EXPORT Result cuCtxCreate_v2(Context* c, unsigned fl, Device d) { return ctx_create2(c, fl, d); }
MPSHIM_EXPORT Result cuCtxCreate_v3(Context* c, void* a, int n, unsigned fl, Device d) { return ctx_create3(c, a, n, fl, d); }
MPSHIM_EXPORT Result cuCtxCreate_v4(Context* c, void* p, unsigned fl, Device d) { return ctx_create4(c, p, fl, d); }
MPSHIM_EXPORT Result cuCtxDestroy_v2(Context c) { return ctx_destroy(c); }
MPSHIM_EXPORT Result cuDevicePrimaryCtxRelease_v2(Device d) { return primary_release(d); }
MPSHIM_EXPORT Result cuDevicePrimaryCtxReset_v2(Device d) { return primary_reset(d); }
