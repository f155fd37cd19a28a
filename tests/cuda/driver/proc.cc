// cuGetProcAddress: a base name, the CUDA version the caller was built for and the
// per-thread-default-stream flag pick one exported variant, as the real driver's table does
// (versions from cudaTypedefs.h: "cuMemAlloc" 3020 is cuMemAlloc_v2).
#include <cstring>

#include "driver.h"

// name as asked for, first CUDA version of the variant, per-thread variant?, symbol
#define PROC_TABLE(X)                                                         \
  X("cuGetErrorString", 6000, 0, cuGetErrorString)                            \
  X("cuGetErrorName", 6000, 0, cuGetErrorName)                                \
  X("cuInit", 2000, 0, cuInit)                                                \
  X("cuDriverGetVersion", 2020, 0, cuDriverGetVersion)                        \
  X("cuDeviceGet", 2000, 0, cuDeviceGet)                                      \
  X("cuDeviceGetCount", 2000, 0, cuDeviceGetCount)                            \
  X("cuDeviceGetName", 2000, 0, cuDeviceGetName)                              \
  X("cuDeviceTotalMem", 3020, 0, cuDeviceTotalMem_v2)                         \
  X("cuDeviceGetAttribute", 2000, 0, cuDeviceGetAttribute)                    \
  X("cuDevicePrimaryCtxRetain", 7000, 0, cuDevicePrimaryCtxRetain)            \
  X("cuDevicePrimaryCtxRelease", 11000, 0, cuDevicePrimaryCtxRelease_v2)      \
  X("cuDevicePrimaryCtxReset", 11000, 0, cuDevicePrimaryCtxReset_v2)          \
  X("cuDevicePrimaryCtxSetFlags", 11000, 0, cuDevicePrimaryCtxSetFlags_v2)    \
  X("cuDevicePrimaryCtxGetState", 7000, 0, cuDevicePrimaryCtxGetState)        \
  X("cuCtxCreate", 3020, 0, cuCtxCreate_v2)                                   \
  X("cuCtxCreate", 11040, 0, cuCtxCreate_v3)                                  \
  X("cuCtxCreate", 12050, 0, cuCtxCreate_v4)                                  \
  X("cuCtxDestroy", 4000, 0, cuCtxDestroy_v2)                                 \
  X("cuCtxPushCurrent", 4000, 0, cuCtxPushCurrent_v2)                         \
  X("cuCtxPopCurrent", 4000, 0, cuCtxPopCurrent_v2)                           \
  X("cuCtxSetCurrent", 4000, 0, cuCtxSetCurrent)                              \
  X("cuCtxGetCurrent", 4000, 0, cuCtxGetCurrent)                              \
  X("cuCtxGetDevice", 2000, 0, cuCtxGetDevice)                                \
  X("cuCtxGetDevice", 13000, 0, cuCtxGetDevice_v2)                            \
  X("cuCtxSynchronize", 2000, 0, cuCtxSynchronize)                            \
  X("cuCtxSynchronize", 13000, 0, cuCtxSynchronize_v2)                        \
  X("cuCtxRecordEvent", 12050, 0, fc_ctx_record_event)                        \
  X("cuCtxWaitEvent", 12050, 0, cuCtxWaitEvent)                               \
  X("cuModuleLoadData", 2000, 0, cuModuleLoadData)                            \
  X("cuModuleLoadFatBinary", 2000, 0, cuModuleLoadFatBinary)                  \
  X("cuModuleUnload", 2000, 0, cuModuleUnload)                                \
  X("cuModuleGetFunction", 2000, 0, cuModuleGetFunction)                      \
  X("cuLibraryLoadData", 12000, 0, cuLibraryLoadData)                         \
  X("cuLibraryUnload", 12000, 0, cuLibraryUnload)                             \
  X("cuLibraryGetKernel", 12000, 0, cuLibraryGetKernel)                       \
  X("cuKernelGetFunction", 12000, 0, cuKernelGetFunction)                     \
  X("cuMemGetInfo", 3020, 0, cuMemGetInfo_v2)                                 \
  X("cuMemAlloc", 3020, 0, cuMemAlloc_v2)                                     \
  X("cuMemAllocPitch", 3020, 0, cuMemAllocPitch_v2)                           \
  X("cuMemFree", 3020, 0, cuMemFree_v2)                                       \
  X("cuMemGetAddressRange", 3020, 0, cuMemGetAddressRange_v2)                 \
  X("cuMemAllocHost", 3020, 0, cuMemAllocHost_v2)                             \
  X("cuMemFreeHost", 2000, 0, cuMemFreeHost)                                  \
  X("cuMemHostAlloc", 2020, 0, cuMemHostAlloc)                                \
  X("cuMemAllocManaged", 6000, 0, cuMemAllocManaged)                          \
  X("cuMemAllocAsync", 11020, 0, cuMemAllocAsync)                             \
  X("cuMemAllocAsync", 11020, 1, cuMemAllocAsync_ptsz)                        \
  X("cuMemFreeAsync", 11020, 0, cuMemFreeAsync)                               \
  X("cuMemFreeAsync", 11020, 1, cuMemFreeAsync_ptsz)                          \
  X("cuMemAllocFromPoolAsync", 11020, 0, cuMemAllocFromPoolAsync)             \
  X("cuMemAllocFromPoolAsync", 11020, 1, cuMemAllocFromPoolAsync_ptsz)        \
  X("cuPointerGetAttribute", 4000, 0, cuPointerGetAttribute)                  \
  X("cuPointerGetAttributes", 7000, 0, cuPointerGetAttributes)                \
  X("cuMemcpy", 4000, 0, cuMemcpy)                                            \
  X("cuMemcpy", 7000, 1, cuMemcpy_ptds)                                       \
  X("cuMemcpyAsync", 4000, 0, cuMemcpyAsync)                                  \
  X("cuMemcpyAsync", 7000, 1, cuMemcpyAsync_ptsz)                             \
  X("cuMemcpyHtoD", 3020, 0, cuMemcpyHtoD_v2)                                 \
  X("cuMemcpyHtoD", 7000, 1, cuMemcpyHtoD_v2_ptds)                            \
  X("cuMemcpyDtoH", 3020, 0, cuMemcpyDtoH_v2)                                 \
  X("cuMemcpyDtoH", 7000, 1, cuMemcpyDtoH_v2_ptds)                            \
  X("cuMemcpyDtoD", 3020, 0, cuMemcpyDtoD_v2)                                 \
  X("cuMemcpyDtoD", 7000, 1, cuMemcpyDtoD_v2_ptds)                            \
  X("cuMemcpyHtoDAsync", 3020, 0, cuMemcpyHtoDAsync_v2)                       \
  X("cuMemcpyHtoDAsync", 7000, 1, cuMemcpyHtoDAsync_v2_ptsz)                  \
  X("cuMemcpyDtoHAsync", 3020, 0, cuMemcpyDtoHAsync_v2)                       \
  X("cuMemcpyDtoHAsync", 7000, 1, cuMemcpyDtoHAsync_v2_ptsz)                  \
  X("cuMemcpyDtoDAsync", 3020, 0, cuMemcpyDtoDAsync_v2)                       \
  X("cuMemcpyDtoDAsync", 7000, 1, cuMemcpyDtoDAsync_v2_ptsz)                  \
  X("cuMemsetD8", 3020, 0, cuMemsetD8_v2)                                     \
  X("cuMemsetD8", 7000, 1, cuMemsetD8_v2_ptds)                                \
  X("cuMemsetD32", 3020, 0, cuMemsetD32_v2)                                   \
  X("cuMemsetD32", 7000, 1, cuMemsetD32_v2_ptds)                              \
  X("cuMemsetD8Async", 3020, 0, cuMemsetD8Async)                              \
  X("cuMemsetD8Async", 7000, 1, cuMemsetD8Async_ptsz)                         \
  X("cuMemsetD32Async", 3020, 0, cuMemsetD32Async)                            \
  X("cuMemsetD32Async", 7000, 1, cuMemsetD32Async_ptsz)                       \
  X("cuStreamCreate", 2000, 0, cuStreamCreate)                                \
  X("cuStreamCreateWithPriority", 5050, 0, cuStreamCreateWithPriority)        \
  X("cuStreamDestroy", 4000, 0, cuStreamDestroy_v2)                           \
  X("cuStreamGetFlags", 5050, 0, cuStreamGetFlags)                            \
  X("cuStreamGetFlags", 7000, 1, cuStreamGetFlags_ptsz)                       \
  X("cuStreamGetCtx", 9020, 0, cuStreamGetCtx)                                \
  X("cuStreamGetCtx", 9020, 1, cuStreamGetCtx_ptsz)                           \
  X("cuStreamWaitEvent", 3020, 0, cuStreamWaitEvent)                          \
  X("cuStreamWaitEvent", 7000, 1, cuStreamWaitEvent_ptsz)                     \
  X("cuStreamQuery", 2000, 0, cuStreamQuery)                                  \
  X("cuStreamQuery", 7000, 1, cuStreamQuery_ptsz)                             \
  X("cuStreamSynchronize", 2000, 0, cuStreamSynchronize)                      \
  X("cuStreamSynchronize", 7000, 1, cuStreamSynchronize_ptsz)                 \
  X("cuStreamBeginCapture", 10000, 0, cuStreamBeginCapture)                   \
  X("cuStreamBeginCapture", 10000, 1, cuStreamBeginCapture_ptsz)              \
  X("cuStreamBeginCapture", 10010, 0, cuStreamBeginCapture_v2)                \
  X("cuStreamBeginCapture", 10010, 1, cuStreamBeginCapture_v2_ptsz)           \
  X("cuStreamEndCapture", 10000, 0, cuStreamEndCapture)                       \
  X("cuStreamEndCapture", 10000, 1, cuStreamEndCapture_ptsz)                  \
  X("cuStreamIsCapturing", 10000, 0, cuStreamIsCapturing)                     \
  X("cuStreamIsCapturing", 10000, 1, cuStreamIsCapturing_ptsz)                \
  X("cuThreadExchangeStreamCaptureMode", 10010, 0, cuThreadExchangeStreamCaptureMode) \
  X("cuEventCreate", 2000, 0, cuEventCreate)                                  \
  X("cuEventRecord", 2000, 0, cuEventRecord)                                  \
  X("cuEventRecord", 7000, 1, cuEventRecord_ptsz)                             \
  X("cuEventQuery", 2000, 0, cuEventQuery)                                    \
  X("cuEventSynchronize", 2000, 0, cuEventSynchronize)                        \
  X("cuEventDestroy", 4000, 0, cuEventDestroy_v2)                             \
  X("cuLaunchKernel", 4000, 0, cuLaunchKernel)                                \
  X("cuLaunchKernel", 7000, 1, cuLaunchKernel_ptsz)                           \
  X("cuGraphInstantiateWithFlags", 11040, 0, cuGraphInstantiateWithFlags)     \
  X("cuGraphLaunch", 10000, 0, cuGraphLaunch)                                 \
  X("cuGraphLaunch", 10000, 1, cuGraphLaunch_ptsz)                            \
  X("cuGraphDestroy", 10000, 0, cuGraphDestroy)                               \
  X("cuGraphExecDestroy", 10000, 0, cuGraphExecDestroy)

// Only the addresses are needed here; the definitions carry the real signatures.
#define DECLARE(name, version, per_thread, symbol) extern "C" void symbol();
PROC_TABLE(DECLARE)
#undef DECLARE

FC_EXPORT CUresult cuGetProcAddress(const char* sym, void** pfn, int version, cuuint64_t flags);
FC_EXPORT CUresult cuGetProcAddress_v2(const char* sym, void** pfn, int version, cuuint64_t flags,
                                       int* status);

namespace {

struct Entry {
  const char* name;
  int version;
  bool per_thread;
  const char* symbol;
  void (*fn)();
};

#define ENTRY(name, version, per_thread, symbol) {name, version, per_thread != 0, #symbol, symbol},
const Entry kTable[] = {
    PROC_TABLE(ENTRY)
    {"cuGetProcAddress", 11030, false, "cuGetProcAddress", reinterpret_cast<void (*)()>(cuGetProcAddress)},
    {"cuGetProcAddress", 12000, false, "cuGetProcAddress_v2", reinterpret_cast<void (*)()>(cuGetProcAddress_v2)},
};
#undef ENTRY

enum { kFound = 0, kSymbolNotFound = 1, kVersionNotSufficient = 2 };
constexpr cuuint64_t kPerThreadFlag = 2;  // CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM

bool hidden(const Entry& e) {
  // FAKECUDA_NO_CTX_RECORD_EVENT: a driver older than 12.5.
  if (strcmp(e.name, "cuCtxRecordEvent") != 0) return false;
  fakecuda::Driver& d = fakecuda::drv();
  if (d.initialized) return d.knobs.no_ctx_record_event;
  const char* v = getenv("FAKECUDA_NO_CTX_RECORD_EVENT");
  return v && *v && *v != '0';
}

CUresult get_proc(const char* sym, void** pfn, int version, cuuint64_t flags, int* status) {
  if (!sym || !pfn) return CUDA_ERROR_INVALID_VALUE;
  *pfn = nullptr;
  const Entry* best[2] = {nullptr, nullptr};  // plain, per-thread
  bool named = false;
  for (const Entry& e : kTable) {
    if (strcmp(e.name, sym) != 0 || hidden(e)) continue;
    named = true;
    const Entry*& b = best[e.per_thread];
    if (e.version <= version && (!b || e.version > b->version)) b = &e;
  }
  const Entry* pick = (flags & kPerThreadFlag) && best[1] ? best[1] : best[0];
  if (!named)  // an exact exported name is accepted too
    for (const Entry& e : kTable)
      if (strcmp(e.symbol, sym) == 0 && !hidden(e)) pick = &e;
  if (pick) {
    *pfn = reinterpret_cast<void*>(pick->fn);
    if (status) *status = kFound;
    return CUDA_SUCCESS;
  }
  if (status) *status = named ? kVersionNotSufficient : kSymbolNotFound;
  return CUDA_ERROR_NOT_FOUND;
}

}  // namespace

FC_EXPORT CUresult cuGetProcAddress_v2(const char* sym, void** pfn, int version, cuuint64_t flags,
                                       int* status) {
  return get_proc(sym, pfn, version, flags, status);
}

FC_EXPORT CUresult cuGetProcAddress(const char* sym, void** pfn, int version, cuuint64_t flags) {
  return get_proc(sym, pfn, version, flags, nullptr);
}
