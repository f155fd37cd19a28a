// The registration and launch ABI that nvcc's host code calls. Each fat binary is loaded into a
// context (cuModuleLoadData) on the first launch of one of its kernels there, and each kernel
// is looked up by its device name (cuModuleGetFunction), as the real runtime's lazy loading
// does; the launch is the driver's cuLaunchKernel. State lives in fixed arrays: no heap.
#include <mutex>

#include "state.h"

using namespace fakecudart;

namespace {

constexpr int kMaxFatBins = 64;
constexpr int kMaxKernels = 1024;
constexpr int kMaxContexts = 8;
constexpr int kMaxConfigDepth = 16;

struct FatBin {
  void* wrapper;  // first, so that the handle nvcc keeps (void**) points at it
  const void* image;
  bool live;
  CUcontext ctx[kMaxContexts];
  CUmodule module[kMaxContexts];
};

struct Kernel {
  const void* host;  // the host stub's address, which the program launches by
  const char* name;  // the mangled device name
  int fatbin;
  CUcontext ctx[kMaxContexts];
  CUfunction fn[kMaxContexts];
};

struct LaunchConfig {
  dim3 grid, block;
  size_t shared;
  cudaStream_t stream;
};

FatBin g_fatbins[kMaxFatBins];
int g_fatbin_count = 0;
Kernel g_kernels[kMaxKernels];
int g_kernel_count = 0;
std::mutex g_lock;  // guards both tables

thread_local LaunchConfig t_configs[kMaxConfigDepth];
thread_local int t_config_depth = 0;

int fatbin_index(void** handle) {
  return static_cast<int>(reinterpret_cast<FatBin*>(handle) - g_fatbins);
}

Kernel* find_kernel(const void* host) {
  std::lock_guard<std::mutex> hold(g_lock);
  for (int i = 0; i < g_kernel_count; ++i)
    if (g_kernels[i].host == host && g_fatbins[g_kernels[i].fatbin].live) return &g_kernels[i];
  return nullptr;
}

// The module of `fb` in `ctx`, loaded on first use.
cudaError_t module_in(const Driver* d, FatBin& fb, CUcontext ctx, CUmodule& out) {
  int free_slot = -1;
  for (int i = 0; i < kMaxContexts; ++i) {
    if (fb.ctx[i] == ctx) {
      out = fb.module[i];
      return cudaSuccess;
    }
    if (!fb.ctx[i] && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return cudaErrorNotSupported;
  if (cudaError_t e = FAKECUDART_CALL(d, cuModuleLoadData, &out, fb.image)) return e;
  fb.ctx[free_slot] = ctx;
  fb.module[free_slot] = out;
  return cudaSuccess;
}

// The driver function of `k` in the current context.
cudaError_t function_of(const Driver* d, Kernel& k, CUfunction& out) {
  CUcontext ctx = nullptr;
  if (cudaError_t e = FAKECUDART_CALL(d, cuCtxGetCurrent, &ctx)) return e;
  std::lock_guard<std::mutex> hold(g_lock);
  int free_slot = -1;
  for (int i = 0; i < kMaxContexts; ++i) {
    if (k.ctx[i] == ctx) {
      out = k.fn[i];
      return cudaSuccess;
    }
    if (!k.ctx[i] && free_slot < 0) free_slot = i;
  }
  if (free_slot < 0) return cudaErrorNotSupported;
  CUmodule module = nullptr;
  if (cudaError_t e = module_in(d, g_fatbins[k.fatbin], ctx, module)) return e;
  if (d->cuModuleGetFunction(&out, module, k.name) != CUDA_SUCCESS)
    return fail(cudaErrorInvalidDeviceFunction);
  k.ctx[free_slot] = ctx;
  k.fn[free_slot] = out;
  return cudaSuccess;
}

cudaError_t launch(bool pt, Kernel* k, dim3 grid, dim3 block, void** args, size_t shared,
                   cudaStream_t stream) {
  FAKECUDART_ENTER(pt);
  if (!k) return fail(cudaErrorInvalidDeviceFunction);
  CUfunction fn = nullptr;
  if (cudaError_t e = function_of(d, *k, fn)) return e;
  return FAKECUDART_CALL(d, cuLaunchKernel, fn, grid.x, grid.y, grid.z, block.x, block.y,
                         block.z, static_cast<unsigned>(shared), stream, args, nullptr);
}

}  // namespace

// --- Registration ----------------------------------------------------------------------
FAKECUDART_API void** __cudaRegisterFatBinary(void* fat_cubin) {
  std::lock_guard<std::mutex> hold(g_lock);
  if (g_fatbin_count == kMaxFatBins) return nullptr;
  FatBin& fb = g_fatbins[g_fatbin_count++];
  auto* wrapper = static_cast<const FatBinWrapper*>(fat_cubin);
  fb.wrapper = fat_cubin;
  fb.image = wrapper->magic == kFatBinWrapperMagic ? static_cast<const void*>(wrapper->data)
                                                   : fat_cubin;
  fb.live = true;
  return reinterpret_cast<void**>(&fb);
}

FAKECUDART_API void __cudaRegisterFatBinaryEnd(void**) {}

FAKECUDART_API void __cudaUnregisterFatBinary(void** handle) {
  if (!handle) return;
  std::lock_guard<std::mutex> hold(g_lock);
  FatBin& fb = g_fatbins[fatbin_index(handle)];
  fb.live = false;
  if (load_driver() != cudaSuccess) return;
  const Driver& d = driver(false);
  for (int i = 0; i < kMaxContexts; ++i)
    if (fb.ctx[i] && d.cuModuleUnload) d.cuModuleUnload(fb.module[i]);
}

FAKECUDART_API void __cudaRegisterFunction(void** handle, const char* host_fun, char*,
                                           const char* device_name, int, uint3*, uint3*,
                                           dim3*, dim3*, int*) {
  std::lock_guard<std::mutex> hold(g_lock);
  if (!handle || g_kernel_count == kMaxKernels) return;
  Kernel& k = g_kernels[g_kernel_count++];
  k.host = host_fun;
  k.name = device_name;
  k.fatbin = fatbin_index(handle);
}

// Device variables have no host emulation in the fake: registration is accepted and ignored.
FAKECUDART_API void __cudaRegisterVar(void**, char*, char*, const char*, int, size_t, int, int) {}
FAKECUDART_API void __cudaRegisterManagedVar(void**, void**, char*, const char*, int, size_t,
                                             int, int) {}
FAKECUDART_API char __cudaInitModule(void**) { return 1; }

// --- Launch ----------------------------------------------------------------------------
FAKECUDART_API unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shared,
                                                    CUstream stream) {
  if (t_config_depth == kMaxConfigDepth) return cudaErrorMissingConfiguration;
  t_configs[t_config_depth++] = LaunchConfig{grid, block, shared, stream};
  return cudaSuccess;
}

FAKECUDART_API cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* shared,
                                                      void* stream) {
  if (t_config_depth == 0) return fail(cudaErrorMissingConfiguration);
  const LaunchConfig& c = t_configs[--t_config_depth];
  *grid = c.grid;
  *block = c.block;
  *shared = c.shared;
  *static_cast<cudaStream_t*>(stream) = c.stream;
  return cudaSuccess;
}

FAKECUDART_API cudaError_t __cudaGetKernel(cudaKernel_t* out, const void* host_fun) {
  Kernel* k = find_kernel(host_fun);
  if (!k) return fail(cudaErrorInvalidDeviceFunction);
  *out = reinterpret_cast<cudaKernel_t>(k);
  return cudaSuccess;
}

FAKECUDART_API cudaError_t __cudaLaunchKernel(cudaKernel_t k, dim3 grid, dim3 block,
                                              void** args, size_t shared, cudaStream_t s) {
  return launch(false, reinterpret_cast<Kernel*>(k), grid, block, args, shared, s);
}
FAKECUDART_API cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t k, dim3 grid, dim3 block,
                                                   void** args, size_t shared, cudaStream_t s) {
  return launch(true, reinterpret_cast<Kernel*>(k), grid, block, args, shared, s);
}
FAKECUDART_API cudaError_t cudaLaunchKernel(const void* fn, dim3 grid, dim3 block, void** args,
                                            size_t shared, cudaStream_t s) {
  return launch(false, find_kernel(fn), grid, block, args, shared, s);
}
FAKECUDART_API cudaError_t cudaLaunchKernel_ptsz(const void* fn, dim3 grid, dim3 block,
                                                 void** args, size_t shared, cudaStream_t s) {
  return launch(true, find_kernel(fn), grid, block, args, shared, s);
}
