// Memory API: allocation, copies, sets and pointer queries, each a forward to the driver.
#include "state.h"

using namespace fakecudart;

namespace {

CUdeviceptr dptr(const void* p) { return reinterpret_cast<CUdeviceptr>(p); }

cudaError_t memcpy_sync(bool pt, void* dst, const void* src, size_t n) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuMemcpy, dptr(dst), dptr(src), n);
}

cudaError_t memcpy_async(bool pt, void* dst, const void* src, size_t n, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuMemcpyAsync, dptr(dst), dptr(src), n, s);
}

cudaError_t memset_sync(bool pt, void* p, int value, size_t n) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuMemsetD8, dptr(p), static_cast<unsigned char>(value), n);
}

cudaError_t memset_async(bool pt, void* p, int value, size_t n, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuMemsetD8Async, dptr(p), static_cast<unsigned char>(value), n, s);
}

cudaError_t malloc_async(bool pt, void** p, size_t n, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  CUdeviceptr out = 0;
  cudaError_t e = FAKECUDART_CALL(d, cuMemAllocAsync, &out, n, s);
  if (e == cudaSuccess) *p = reinterpret_cast<void*>(out);
  return e;
}

cudaError_t malloc_from_pool_async(bool pt, void** p, size_t n, cudaMemPool_t pool,
                                   cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  CUdeviceptr out = 0;
  cudaError_t e = FAKECUDART_CALL(d, cuMemAllocFromPoolAsync, &out, n, pool, s);
  if (e == cudaSuccess) *p = reinterpret_cast<void*>(out);
  return e;
}

cudaError_t free_async(bool pt, void* p, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuMemFreeAsync, dptr(p), s);
}

}  // namespace

FAKECUDART_API cudaError_t cudaMalloc(void** p, size_t n) {
  FAKECUDART_ENTER(false);
  if (!p) return fail(cudaErrorInvalidValue);
  if (n == 0) {
    *p = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr out = 0;
  cudaError_t e = FAKECUDART_CALL(d, cuMemAlloc, &out, n);
  if (e == cudaSuccess) *p = reinterpret_cast<void*>(out);
  return e;
}

FAKECUDART_API cudaError_t cudaFree(void* p) {
  FAKECUDART_ENTER(false);
  if (!p) return cudaSuccess;  // cudaFree(0) only initialises the context
  return FAKECUDART_CALL(d, cuMemFree, dptr(p));
}

FAKECUDART_API cudaError_t cudaMallocPitch(void** p, size_t* pitch, size_t width, size_t height) {
  FAKECUDART_ENTER(false);
  CUdeviceptr out = 0;
  cudaError_t e = FAKECUDART_CALL(d, cuMemAllocPitch, &out, pitch, width, height, 16);
  if (e == cudaSuccess) *p = reinterpret_cast<void*>(out);
  return e;
}

FAKECUDART_API cudaError_t cudaMallocManaged(void** p, size_t n, unsigned flags) {
  FAKECUDART_ENTER(false);
  CUdeviceptr out = 0;
  cudaError_t e = FAKECUDART_CALL(d, cuMemAllocManaged, &out, n, flags);
  if (e == cudaSuccess) *p = reinterpret_cast<void*>(out);
  return e;
}

FAKECUDART_API cudaError_t cudaMallocHost(void** p, size_t n) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuMemAllocHost, p, n);
}

FAKECUDART_API cudaError_t cudaHostAlloc(void** p, size_t n, unsigned flags) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuMemHostAlloc, p, n, flags);
}

FAKECUDART_API cudaError_t cudaFreeHost(void* p) {
  FAKECUDART_ENTER(false);
  if (!p) return cudaSuccess;
  return FAKECUDART_CALL(d, cuMemFreeHost, p);
}

FAKECUDART_API cudaError_t cudaMallocAsync(void** p, size_t n, cudaStream_t s) {
  return malloc_async(false, p, n, s);
}
FAKECUDART_API cudaError_t cudaMallocAsync_ptsz(void** p, size_t n, cudaStream_t s) {
  return malloc_async(true, p, n, s);
}
FAKECUDART_API cudaError_t cudaMallocFromPoolAsync(void** p, size_t n, cudaMemPool_t pool,
                                                   cudaStream_t s) {
  return malloc_from_pool_async(false, p, n, pool, s);
}
FAKECUDART_API cudaError_t cudaMallocFromPoolAsync_ptsz(void** p, size_t n, cudaMemPool_t pool,
                                                        cudaStream_t s) {
  return malloc_from_pool_async(true, p, n, pool, s);
}
FAKECUDART_API cudaError_t cudaFreeAsync(void* p, cudaStream_t s) { return free_async(false, p, s); }
FAKECUDART_API cudaError_t cudaFreeAsync_ptsz(void* p, cudaStream_t s) {
  return free_async(true, p, s);
}

FAKECUDART_API cudaError_t cudaDeviceGetDefaultMemPool(cudaMemPool_t* pool, int device) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuDeviceGetDefaultMemPool, pool, device);
}

// The copy kind is not needed: the fake has one address space (unified addressing).
FAKECUDART_API cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, int) {
  return memcpy_sync(false, dst, src, n);
}
FAKECUDART_API cudaError_t cudaMemcpy_ptds(void* dst, const void* src, size_t n, int) {
  return memcpy_sync(true, dst, src, n);
}
FAKECUDART_API cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, int,
                                           cudaStream_t s) {
  return memcpy_async(false, dst, src, n, s);
}
FAKECUDART_API cudaError_t cudaMemcpyAsync_ptsz(void* dst, const void* src, size_t n, int,
                                                cudaStream_t s) {
  return memcpy_async(true, dst, src, n, s);
}
FAKECUDART_API cudaError_t cudaMemset(void* p, int value, size_t n) {
  return memset_sync(false, p, value, n);
}
FAKECUDART_API cudaError_t cudaMemset_ptds(void* p, int value, size_t n) {
  return memset_sync(true, p, value, n);
}
FAKECUDART_API cudaError_t cudaMemsetAsync(void* p, int value, size_t n, cudaStream_t s) {
  return memset_async(false, p, value, n, s);
}
FAKECUDART_API cudaError_t cudaMemsetAsync_ptsz(void* p, int value, size_t n, cudaStream_t s) {
  return memset_async(true, p, value, n, s);
}

FAKECUDART_API cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuMemGetInfo, free_bytes, total_bytes);
}

// Memory the driver does not know is "unregistered", as with the real runtime since CUDA 11.
FAKECUDART_API cudaError_t cudaPointerGetAttributes(cudaPointerAttributes* out, const void* p) {
  FAKECUDART_ENTER(false);
  if (!out) return fail(cudaErrorInvalidValue);
  int type = 0, ordinal = 0, managed = 0;
  void* device_ptr = nullptr;
  void* host_ptr = nullptr;
  int attrs[] = {CU_POINTER_ATTRIBUTE_MEMORY_TYPE, CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL,
                 CU_POINTER_ATTRIBUTE_IS_MANAGED, CU_POINTER_ATTRIBUTE_DEVICE_POINTER,
                 CU_POINTER_ATTRIBUTE_HOST_POINTER};
  void* data[] = {&type, &ordinal, &managed, &device_ptr, &host_ptr};
  *out = cudaPointerAttributes{cudaMemoryTypeUnregistered, -1, nullptr, nullptr};
  if (!d->cuPointerGetAttributes ||
      d->cuPointerGetAttributes(5, attrs, data, dptr(p)) != CUDA_SUCCESS || type == 0)
    return cudaSuccess;
  out->type = managed ? cudaMemoryTypeManaged
              : type == CU_MEMORYTYPE_HOST ? cudaMemoryTypeHost
                                           : cudaMemoryTypeDevice;
  out->device = ordinal;
  out->devicePointer = device_ptr;
  out->hostPointer = host_ptr;
  return cudaSuccess;
}
