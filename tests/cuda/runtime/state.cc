#include "state.h"

#include <atomic>
#include <mutex>

namespace fakecudart {
namespace {

thread_local int t_device = 0;
thread_local cudaError_t t_last_error = cudaSuccess;

// Primary contexts retained once per device and kept for the life of the process.
std::atomic<CUcontext> g_primary[kMaxDevices];
std::mutex g_primary_lock;

cudaError_t primary(int device, CUcontext& ctx) {
  ctx = g_primary[device].load(std::memory_order_acquire);
  if (ctx) return cudaSuccess;
  std::lock_guard<std::mutex> hold(g_primary_lock);
  ctx = g_primary[device].load(std::memory_order_relaxed);
  if (ctx) return cudaSuccess;
  const Driver& d = driver(false);
  CUdevice dev = 0;
  if (CUresult r = d.cuDeviceGet(&dev, device)) return r;
  if (CUresult r = d.cuDevicePrimaryCtxRetain(&ctx, dev)) return r;
  g_primary[device].store(ctx, std::memory_order_release);
  return cudaSuccess;
}

cudaError_t bind(int device) {
  int count = 0;
  if (driver(false).cuDeviceGetCount(&count) != CUDA_SUCCESS || count == 0)
    return cudaErrorNoDevice;
  if (device < 0 || device >= count || device >= kMaxDevices) return cudaErrorInvalidDevice;
  CUcontext ctx = nullptr;
  if (cudaError_t e = primary(device, ctx)) return e;
  if (CUresult r = driver(false).cuCtxSetCurrent(ctx)) return r;
  t_device = device;
  return cudaSuccess;
}

}  // namespace

cudaError_t enter(bool ptsz, const Driver*& d) {
  if (cudaError_t e = load_driver()) return e;
  d = &driver(ptsz);
  CUcontext cur = nullptr;
  if (d->cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur) return cudaSuccess;
  return bind(t_device);
}

cudaError_t set_device(int device) {
  if (cudaError_t e = load_driver()) return e;
  return bind(device);
}

int current_device() {
  const Driver& d = driver(false);
  CUcontext cur = nullptr;
  CUdevice dev = 0;
  if (load_driver() == cudaSuccess && d.cuCtxGetCurrent(&cur) == CUDA_SUCCESS && cur &&
      d.cuCtxGetDevice(&dev) == CUDA_SUCCESS)
    return dev;
  return t_device;
}

cudaError_t fail(cudaError_t e) {
  if (e != cudaSuccess) t_last_error = e;
  return e;
}

cudaError_t last_error(bool reset) {
  cudaError_t e = t_last_error;
  if (reset) t_last_error = cudaSuccess;
  return e;
}

}  // namespace fakecudart
