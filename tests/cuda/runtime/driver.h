// The driver entry points the fake runtime calls, fetched as the real runtime does: dlopen of
// libcuda.so.1, dlsym of cuGetProcAddress_v2 on that handle, then cuGetProcAddress_v2 for each
// entry point by base name and the CUDA version of the signature used here. Two tables: one
// fetched with the legacy-stream flag, one with the per-thread-default-stream flag (the _ptsz
// and _ptds exports of the runtime use the second).
#pragma once

#include "types.h"

namespace fakecudart {

// X(field, CUDA version of the signature, return type, parameters)
#define FAKECUDART_DRIVER_ENTRIES(X)                                                        \
  X(cuInit, 2000, CUresult, (unsigned))                                                    \
  X(cuDriverGetVersion, 2020, CUresult, (int*))                                            \
  X(cuDeviceGet, 2000, CUresult, (CUdevice*, int))                                         \
  X(cuDeviceGetCount, 2000, CUresult, (int*))                                              \
  X(cuDeviceGetAttribute, 2000, CUresult, (int*, int, CUdevice))                           \
  X(cuDeviceGetName, 2000, CUresult, (char*, int, CUdevice))                               \
  X(cuDeviceTotalMem, 3020, CUresult, (size_t*, CUdevice))                                 \
  X(cuDevicePrimaryCtxRetain, 7000, CUresult, (CUcontext*, CUdevice))                      \
  X(cuDevicePrimaryCtxReset, 11000, CUresult, (CUdevice))                                  \
  X(cuCtxGetCurrent, 4000, CUresult, (CUcontext*))                                         \
  X(cuCtxSetCurrent, 4000, CUresult, (CUcontext))                                          \
  X(cuCtxGetDevice, 2000, CUresult, (CUdevice*))                                           \
  X(cuCtxSynchronize, 2000, CUresult, ())                                                  \
  X(cuMemAlloc, 3020, CUresult, (CUdeviceptr*, size_t))                                    \
  X(cuMemAllocPitch, 3020, CUresult, (CUdeviceptr*, size_t*, size_t, size_t, unsigned))    \
  X(cuMemFree, 3020, CUresult, (CUdeviceptr))                                              \
  X(cuMemGetInfo, 3020, CUresult, (size_t*, size_t*))                                      \
  X(cuMemAllocManaged, 6000, CUresult, (CUdeviceptr*, size_t, unsigned))                   \
  X(cuMemAllocHost, 3020, CUresult, (void**, size_t))                                      \
  X(cuMemHostAlloc, 2020, CUresult, (void**, size_t, unsigned))                            \
  X(cuMemFreeHost, 2000, CUresult, (void*))                                                \
  X(cuMemAllocAsync, 11020, CUresult, (CUdeviceptr*, size_t, CUstream))                    \
  X(cuMemFreeAsync, 11020, CUresult, (CUdeviceptr, CUstream))                              \
  X(cuMemAllocFromPoolAsync, 11020, CUresult, (CUdeviceptr*, size_t, CUmemoryPool, CUstream)) \
  X(cuDeviceGetDefaultMemPool, 11020, CUresult, (CUmemoryPool*, CUdevice))                 \
  X(cuMemsetD8, 3020, CUresult, (CUdeviceptr, unsigned char, size_t))                      \
  X(cuMemsetD8Async, 3020, CUresult, (CUdeviceptr, unsigned char, size_t, CUstream))       \
  X(cuMemcpy, 4000, CUresult, (CUdeviceptr, CUdeviceptr, size_t))                          \
  X(cuMemcpyAsync, 4000, CUresult, (CUdeviceptr, CUdeviceptr, size_t, CUstream))           \
  X(cuPointerGetAttributes, 7000, CUresult, (unsigned, int*, void**, CUdeviceptr))         \
  X(cuStreamCreate, 2000, CUresult, (CUstream*, unsigned))                                 \
  X(cuStreamCreateWithPriority, 5050, CUresult, (CUstream*, unsigned, int))                \
  X(cuStreamDestroy, 4000, CUresult, (CUstream))                                           \
  X(cuStreamSynchronize, 2000, CUresult, (CUstream))                                       \
  X(cuStreamQuery, 2000, CUresult, (CUstream))                                             \
  X(cuStreamWaitEvent, 3020, CUresult, (CUstream, CUevent, unsigned))                      \
  X(cuStreamBeginCapture, 10010, CUresult, (CUstream, int))                                \
  X(cuStreamEndCapture, 10000, CUresult, (CUstream, CUgraph*))                             \
  X(cuStreamIsCapturing, 10000, CUresult, (CUstream, int*))                                \
  X(cuThreadExchangeStreamCaptureMode, 10010, CUresult, (int*))                            \
  X(cuEventCreate, 2000, CUresult, (CUevent*, unsigned))                                   \
  X(cuEventDestroy, 4000, CUresult, (CUevent))                                             \
  X(cuEventRecord, 2000, CUresult, (CUevent, CUstream))                                    \
  X(cuEventQuery, 2000, CUresult, (CUevent))                                               \
  X(cuEventSynchronize, 2000, CUresult, (CUevent))                                         \
  X(cuEventElapsedTime, 2000, CUresult, (float*, CUevent, CUevent))                        \
  X(cuGraphInstantiateWithFlags, 11040, CUresult, (CUgraphExec*, CUgraph, unsigned long long)) \
  X(cuGraphLaunch, 10000, CUresult, (CUgraphExec, CUstream))                               \
  X(cuGraphDestroy, 10000, CUresult, (CUgraph))                                            \
  X(cuGraphExecDestroy, 10000, CUresult, (CUgraphExec))                                    \
  X(cuModuleLoadData, 2000, CUresult, (CUmodule*, const void*))                            \
  X(cuModuleUnload, 2000, CUresult, (CUmodule))                                            \
  X(cuModuleGetFunction, 2000, CUresult, (CUfunction*, CUmodule, const char*))             \
  X(cuLaunchKernel, 4000, CUresult,                                                        \
    (CUfunction, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,     \
     CUstream, void**, void**))

/// One set of driver entry points; a field the driver lacks stays null.
struct Driver {
#define FAKECUDART_FIELD(name, version, ret, params) ret(*name) params;
  FAKECUDART_DRIVER_ENTRIES(FAKECUDART_FIELD)
#undef FAKECUDART_FIELD
};

/// Loads the driver and fetches both tables once; cudaSuccess, or the runtime error that
/// every call reports when there is no usable driver.
cudaError_t load_driver();

/// The legacy-stream table (ptsz false) or the per-thread-default-stream one; valid after
/// load_driver() succeeded.
const Driver& driver(bool ptsz);

}  // namespace fakecudart
