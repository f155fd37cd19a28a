// Copies and memsets: stream work like kernels. The synchronous forms go to the default stream
// (legacy, or per-thread for the _ptds entry points) and wait for it.
#include <cstring>

#include "driver.h"

namespace fakecuda {

enum : int { kNone = 0, kDst = 1, kSrc = 2 };

// [p, p + n) must lie inside one allocation of the driver.
static bool in_allocation(uintptr_t p, size_t n) {
  uintptr_t base;
  const Allocation* a = find_allocation(p, &base);
  return a && p + n <= base + a->size;
}

static CUresult queue_op(CUstream h, bool per_thread, bool sync, std::function<void()> op) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (sync)
    if (CUresult r = capture_guard()) return r;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  CUresult r = submit(s, std::move(op));
  if (r == CUDA_SUCCESS && sync) run_until(s, s->submitted);
  return r;
}

static CUresult copy(uintptr_t dst, uintptr_t src, size_t n, int device_sides, CUstream h,
                     bool per_thread, bool sync) {
  {
    auto lk = lock();
    if (((device_sides & kDst) && !in_allocation(dst, n)) ||
        ((device_sides & kSrc) && !in_allocation(src, n)))
      return CUDA_ERROR_INVALID_VALUE;
  }
  if (n == 0) return CUDA_SUCCESS;
  return queue_op(h, per_thread, sync, [dst, src, n] {
    memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
  });
}

template <typename T>
static CUresult fill(CUdeviceptr dst, T value, size_t count, CUstream h, bool per_thread,
                     bool sync) {
  {
    auto lk = lock();
    if (dst % sizeof(T) || !in_allocation(dst, count * sizeof(T))) return CUDA_ERROR_INVALID_VALUE;
  }
  if (count == 0) return CUDA_SUCCESS;
  return queue_op(h, per_thread, sync, [dst, value, count] {
    T* p = reinterpret_cast<T*>(dst);
    for (size_t i = 0; i < count; ++i) p[i] = value;
  });
}

}  // namespace fakecuda

using namespace fakecuda;

#define HOST(p) reinterpret_cast<uintptr_t>(p)

// ---- synchronous copies (unified addressing: cuMemcpy takes host or device pointers)
FC_EXPORT CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, kNone, nullptr, false, true);
}
FC_EXPORT CUresult cuMemcpy_ptds(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, kNone, nullptr, true, true);
}
FC_EXPORT CUresult cuMemcpyHtoD_v2(CUdeviceptr d, const void* s, size_t n) {
  return copy(d, HOST(s), n, kDst, nullptr, false, true);
}
FC_EXPORT CUresult cuMemcpyHtoD_v2_ptds(CUdeviceptr d, const void* s, size_t n) {
  return copy(d, HOST(s), n, kDst, nullptr, true, true);
}
FC_EXPORT CUresult cuMemcpyDtoH_v2(void* d, CUdeviceptr s, size_t n) {
  return copy(HOST(d), s, n, kSrc, nullptr, false, true);
}
FC_EXPORT CUresult cuMemcpyDtoH_v2_ptds(void* d, CUdeviceptr s, size_t n) {
  return copy(HOST(d), s, n, kSrc, nullptr, true, true);
}
FC_EXPORT CUresult cuMemcpyDtoD_v2(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, kDst | kSrc, nullptr, false, true);
}
FC_EXPORT CUresult cuMemcpyDtoD_v2_ptds(CUdeviceptr d, CUdeviceptr s, size_t n) {
  return copy(d, s, n, kDst | kSrc, nullptr, true, true);
}

// ---- stream-ordered copies
FC_EXPORT CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(d, s, n, kNone, h, false, false);
}
FC_EXPORT CUresult cuMemcpyAsync_ptsz(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(d, s, n, kNone, h, true, false);
}
FC_EXPORT CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void* s, size_t n, CUstream h) {
  return copy(d, HOST(s), n, kDst, h, false, false);
}
FC_EXPORT CUresult cuMemcpyHtoDAsync_v2_ptsz(CUdeviceptr d, const void* s, size_t n, CUstream h) {
  return copy(d, HOST(s), n, kDst, h, true, false);
}
FC_EXPORT CUresult cuMemcpyDtoHAsync_v2(void* d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(HOST(d), s, n, kSrc, h, false, false);
}
FC_EXPORT CUresult cuMemcpyDtoHAsync_v2_ptsz(void* d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(HOST(d), s, n, kSrc, h, true, false);
}
FC_EXPORT CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(d, s, n, kDst | kSrc, h, false, false);
}
FC_EXPORT CUresult cuMemcpyDtoDAsync_v2_ptsz(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream h) {
  return copy(d, s, n, kDst | kSrc, h, true, false);
}

// ---- memsets
FC_EXPORT CUresult cuMemsetD8_v2(CUdeviceptr d, unsigned char v, size_t n) {
  return fill(d, v, n, nullptr, false, true);
}
FC_EXPORT CUresult cuMemsetD8_v2_ptds(CUdeviceptr d, unsigned char v, size_t n) {
  return fill(d, v, n, nullptr, true, true);
}
FC_EXPORT CUresult cuMemsetD32_v2(CUdeviceptr d, unsigned v, size_t n) {
  return fill(d, v, n, nullptr, false, true);
}
FC_EXPORT CUresult cuMemsetD32_v2_ptds(CUdeviceptr d, unsigned v, size_t n) {
  return fill(d, v, n, nullptr, true, true);
}
FC_EXPORT CUresult cuMemsetD8Async(CUdeviceptr d, unsigned char v, size_t n, CUstream h) {
  return fill(d, v, n, h, false, false);
}
FC_EXPORT CUresult cuMemsetD8Async_ptsz(CUdeviceptr d, unsigned char v, size_t n, CUstream h) {
  return fill(d, v, n, h, true, false);
}
FC_EXPORT CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, CUstream h) {
  return fill(d, v, n, h, false, false);
}
FC_EXPORT CUresult cuMemsetD32Async_ptsz(CUdeviceptr d, unsigned v, size_t n, CUstream h) {
  return fill(d, v, n, h, true, false);
}
