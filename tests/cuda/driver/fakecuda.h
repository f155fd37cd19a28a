/* Control API of the fake CUDA driver (tests/cuda/driver, libcuda.so.1). Test programs
 * reach these functions with dlsym(RTLD_DEFAULT, "fakecuda_...") so that they still run on a
 * real driver, where the names are absent. Plain C, no CUDA header needed. */
#ifndef FAKECUDA_H
#define FAKECUDA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The same declaration as cuda.h's, so both headers may be included together. */
typedef struct CUstream_st* CUstream;

/* Devices whose counters are kept (FAKECUDA_DEVICES is capped at this). */
#define FAKECUDA_MAX_DEVICES 8

/* Calls counted since the driver was loaded (a call is counted even when it fails); per
 * device: memory of cuMemAlloc*, managed and stream-ordered allocations, each rounded up to
 * 512 bytes as the arena hands it out (pinned host memory is not device memory). */
struct fakecuda_counters {
  uint64_t mem_alloc;           /* cuMemAlloc_v2 and cuMemAllocPitch_v2 */
  uint64_t mem_free;            /* cuMemFree_v2 */
  uint64_t alloc_async;         /* cuMemAllocAsync(_ptsz) and cuMemAllocFromPoolAsync(_ptsz) */
  uint64_t free_async;          /* cuMemFreeAsync(_ptsz) */
  uint64_t alloc_host;          /* cuMemAllocHost_v2 and cuMemHostAlloc */
  uint64_t free_host;           /* cuMemFreeHost */
  uint64_t alloc_managed;       /* cuMemAllocManaged */
  uint64_t ctx_synchronize;     /* cuCtxSynchronize(_v2) */
  uint64_t device_synchronize;  /* whole-device synchronisations: cuCtxSynchronize, cuMemFree_v2 */
  uint64_t stream_synchronize;  /* cuStreamSynchronize(_ptsz) */
  uint64_t event_synchronize;   /* cuEventSynchronize */
  uint64_t event_records;       /* cuEventRecord(_ptsz) */
  uint64_t ctx_record_events;   /* cuCtxRecordEvent */
  uint64_t event_queries;       /* cuEventQuery */
  uint64_t stream_queries;      /* cuStreamQuery(_ptsz) */
  uint64_t stream_creates;      /* cuStreamCreate, cuStreamCreateWithPriority */
  uint64_t kernel_launches;     /* cuLaunchKernel(_ptsz) */
  uint64_t kernels_run;         /* emulated kernels executed (graph replays included) */
  uint64_t graph_launches;      /* cuGraphLaunch(_ptsz) */
  uint64_t captures_begun;
  uint64_t captures_ended;      /* cuStreamEndCapture calls that returned a graph */
  uint64_t captures_invalidated;
  uint64_t unsafe_calls_refused; /* calls answered CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED */
  uint64_t bytes_in_use[FAKECUDA_MAX_DEVICES];
  uint64_t peak_bytes_in_use[FAKECUDA_MAX_DEVICES];
  uint64_t live_allocations[FAKECUDA_MAX_DEVICES];
};

/* The struct's name is also the function's: C++ code names the struct with this. */
typedef struct fakecuda_counters fakecuda_counters_t;

/* What an emulated kernel learns about its launch. */
struct fakecuda_launch {
  unsigned grid[3];
  unsigned block[3];
  unsigned shared_mem;
  CUstream stream;  /* as passed to cuLaunchKernel */
  const char* name;
};

/* Host emulation of a kernel: args is cuLaunchKernel's kernelParams (one pointer per
 * parameter). */
typedef void (*fakecuda_kernel_fn)(void** args, const struct fakecuda_launch* launch);

/* Copies the counters into *out. */
void fakecuda_counters(struct fakecuda_counters* out);

/* Registers the host emulation of the kernel whose (mangled) device name is `name`; a later
 * registration of the same name replaces it. Returns 0. Without parameter sizes the driver
 * cannot keep a copy of the arguments, so with FAKECUDA_ASYNC=1 such a kernel runs at launch
 * (after the work its stream waits for): use fakecuda_register_kernel_params to have it
 * queued like the others. */
int fakecuda_register_kernel(const char* name, fakecuda_kernel_fn fn);

/* Same, declaring the kernel's parameters (nparams sizes in bytes, in order): the driver
 * copies the arguments at launch, so the kernel may run later (FAKECUDA_ASYNC=1). */
int fakecuda_register_kernel_params(const char* name, fakecuda_kernel_fn fn, unsigned nparams,
                                    const size_t* param_sizes);

/* Creates a stream in the current context through no exported entry point (a stream made by
 * a library on a path a shim cannot see); flags as cuStreamCreate's. Returns a CUresult. */
int fakecuda_stream_create_unseen(CUstream* stream, unsigned flags);

#ifdef __cplusplus
}
#endif

#endif
