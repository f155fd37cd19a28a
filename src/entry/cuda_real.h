// The real CUDA driver behind the shim's hooks: one real pointer per hooked entry point
// variant (name, version range, per-thread-default-stream flag), and the driver functions
// the caching allocator's backend calls. Nothing here links CUDA: every pointer is found at
// run time, through the driver's own cuGetProcAddress_v2 where it can be.
#pragma once
#include <atomic>
#include <cstdint>

#include "cuda/types.h"

namespace mpshim::entry::cuda {

using namespace mpshim::cuda;

// X(id, base name, first version, version it was superseded (0: none), per-thread flag,
//   exported symbol)
#define MPSHIM_CUDA_HOOKS(X)                                                                      \
  X(MemAlloc, "cuMemAlloc", 3020, 0, 0, "cuMemAlloc_v2")                                        \
  X(MemFree, "cuMemFree", 3020, 0, 0, "cuMemFree_v2")                                           \
  X(MemAllocPitch, "cuMemAllocPitch", 3020, 0, 0, "cuMemAllocPitch_v2")                         \
  X(MemAllocManaged, "cuMemAllocManaged", 6000, 0, 0, "cuMemAllocManaged")                      \
  X(MemAllocHost, "cuMemAllocHost", 3020, 0, 0, "cuMemAllocHost_v2")                            \
  X(MemHostAlloc, "cuMemHostAlloc", 2020, 0, 0, "cuMemHostAlloc")                               \
  X(MemFreeHost, "cuMemFreeHost", 2000, 0, 0, "cuMemFreeHost")                                  \
  X(MemGetInfo, "cuMemGetInfo", 3020, 0, 0, "cuMemGetInfo_v2")                                  \
  X(MemAllocAsync, "cuMemAllocAsync", 11020, 0, 0, "cuMemAllocAsync")                           \
  X(MemAllocAsyncPtsz, "cuMemAllocAsync", 11020, 0, 1, "cuMemAllocAsync_ptsz")                  \
  X(MemAllocFromPoolAsync, "cuMemAllocFromPoolAsync", 11020, 0, 0, "cuMemAllocFromPoolAsync")   \
  X(MemAllocFromPoolAsyncPtsz, "cuMemAllocFromPoolAsync", 11020, 0, 1,                          \
    "cuMemAllocFromPoolAsync_ptsz")                                                              \
  X(MemFreeAsync, "cuMemFreeAsync", 11020, 0, 0, "cuMemFreeAsync")                              \
  X(MemFreeAsyncPtsz, "cuMemFreeAsync", 11020, 0, 1, "cuMemFreeAsync_ptsz")                     \
  X(StreamCreate, "cuStreamCreate", 2000, 0, 0, "cuStreamCreate")                               \
  X(StreamCreateWithPriority, "cuStreamCreateWithPriority", 5050, 0, 0,                         \
    "cuStreamCreateWithPriority")                                                                \
  X(StreamDestroy, "cuStreamDestroy", 4000, 0, 0, "cuStreamDestroy_v2")                         \
  X(BeginCapture1, "cuStreamBeginCapture", 10000, 10010, 0, "cuStreamBeginCapture")             \
  X(BeginCapture1Ptsz, "cuStreamBeginCapture", 10000, 10010, 1, "cuStreamBeginCapture_ptsz")    \
  X(BeginCapture, "cuStreamBeginCapture", 10010, 0, 0, "cuStreamBeginCapture_v2")               \
  X(BeginCapturePtsz, "cuStreamBeginCapture", 10010, 0, 1, "cuStreamBeginCapture_v2_ptsz")      \
  X(BeginCaptureToGraph, "cuStreamBeginCaptureToGraph", 12030, 0, 0,                            \
    "cuStreamBeginCaptureToGraph")                                                               \
  X(BeginCaptureToGraphPtsz, "cuStreamBeginCaptureToGraph", 12030, 0, 1,                        \
    "cuStreamBeginCaptureToGraph_ptsz")                                                          \
  X(EndCapture, "cuStreamEndCapture", 10000, 0, 0, "cuStreamEndCapture")                        \
  X(EndCapturePtsz, "cuStreamEndCapture", 10000, 0, 1, "cuStreamEndCapture_ptsz")               \
  X(CtxCreate2, "cuCtxCreate", 3020, 11040, 0, "cuCtxCreate_v2")                                \
  X(CtxCreate3, "cuCtxCreate", 11040, 12050, 0, "cuCtxCreate_v3")                               \
  X(CtxCreate4, "cuCtxCreate", 12050, 0, 0, "cuCtxCreate_v4")                                   \
  X(CtxDestroy, "cuCtxDestroy", 4000, 0, 0, "cuCtxDestroy_v2")                                  \
  X(PrimaryRelease, "cuDevicePrimaryCtxRelease", 11000, 0, 0, "cuDevicePrimaryCtxRelease_v2")   \
  X(PrimaryReset, "cuDevicePrimaryCtxReset", 11000, 0, 0, "cuDevicePrimaryCtxReset_v2")         \
  X(GetProcAddress1, "cuGetProcAddress", 11030, 12000, 0, "cuGetProcAddress")                   \
  X(GetProcAddress, "cuGetProcAddress", 12000, 0, 0, "cuGetProcAddress_v2")

enum class Hook : uint8_t {
#define MPSHIM_CUDA_HOOK_ID(id, base, from, until, ptsz, symbol) id,
  MPSHIM_CUDA_HOOKS(MPSHIM_CUDA_HOOK_ID)
#undef MPSHIM_CUDA_HOOK_ID
  Count
};
constexpr int kHookCount = int(Hook::Count);

/// One row of the hook table.
struct HookInfo {
  const char* base;    ///< name as cuGetProcAddress is asked for it
  int from, until;     ///< versions [from, until) that resolve to this variant (until 0: open)
  bool ptsz;           ///< the per-thread-default-stream variant
  const char* symbol;  ///< the exported name
};
const HookInfo& hook_info(Hook h);

/// The real driver's pointer for hook `h`, found on first use (nullptr when the process has
/// no driver or the driver lacks it).
void* real(Hook h);
/// Records `p` as the real pointer of `h` unless one is known already.
void set_real(Hook h, void* p);

/// The hook whose exported symbol is `name`, or Hook::Count.
Hook hook_by_symbol(const char* name);
/// The hook cuGetProcAddress resolves (`base`, `version`, `flags`) to, or Hook::Count.
Hook hook_by_request(const char* base, int version, uint64_t flags);

/// glibc's dlsym, found with dlvsym (never through the shim's own export).
void* real_dlsym(void* handle, const char* name);
using DlsymFn = void* (*)(void*, const char*);
DlsymFn real_dlsym_fn();
/// True for an address inside libmpshim.so itself.
bool is_own(const void* p);

/// Driver functions the shim calls itself (not hooked), with the signatures of the
/// versions they were asked for.
struct Driver {
  Result (*ctx_get_current)(Context*);
  Result (*ctx_push)(Context);
  Result (*ctx_pop)(Context*);
  Result (*ctx_get_device)(Device*);
  Result (*ctx_synchronize)();
  Result (*event_create)(Event*, unsigned);
  Result (*event_destroy)(Event);
  Result (*event_query)(Event);
  Result (*event_synchronize)(Event);
  Result (*ctx_record_event)(Context, Event);  ///< nullptr before CUDA 12.5
  Result (*exchange_capture_mode)(int*);
  Result (*primary_get_state)(Device, unsigned*, int*);
  Result (*primary_retain)(Context*, Device);
};
/// The driver table, resolved on first use; nullptr while no driver is loaded.
const Driver* driver();

}  // namespace mpshim::entry::cuda
