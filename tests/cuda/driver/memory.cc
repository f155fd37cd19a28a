// Device memory: one mmap'ed arena per device, carved first fit in 512-byte units; pinned
// host memory mapped per allocation; every allocation recorded by its start address.
#include <sys/mman.h>
#include <unistd.h>

#include "driver.h"

namespace fakecuda {

static constexpr size_t kGranule = 512;

static bool arena_take(Device& d, size_t len, size_t* off) {
  for (auto it = d.free_ranges.begin(); it != d.free_ranges.end(); ++it) {
    if (it->second < len) continue;
    *off = it->first;
    size_t rest = it->second - len;
    d.free_ranges.erase(it);
    if (rest) d.free_ranges[*off + len] = rest;
    return true;
  }
  return false;
}

static void arena_give(Device& d, size_t off, size_t len) {
  auto next = d.free_ranges.lower_bound(off);
  if (next != d.free_ranges.end() && off + len == next->first) {
    len += next->second;
    next = d.free_ranges.erase(next);
  }
  if (next != d.free_ranges.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  d.free_ranges[off] = len;
}

Allocation* find_allocation(uintptr_t addr, uintptr_t* base) {
  auto& m = drv().allocations;
  auto it = m.upper_bound(addr);
  if (it == m.begin()) return nullptr;
  --it;
  if (addr >= it->first + (it->second.size ? it->second.size : 1)) return nullptr;
  if (base) *base = it->first;
  return &it->second;
}

void release_allocation(uintptr_t base) {
  Driver& d = drv();
  auto it = d.allocations.find(base);
  if (it == d.allocations.end()) return;
  Allocation& a = it->second;
  if (a.kind == AllocKind::Host) {
    munmap(reinterpret_cast<void*>(base), a.reserved);
  } else {
    Device& dev = *d.devices[a.device];
    arena_give(dev, base - reinterpret_cast<uintptr_t>(dev.base), a.reserved);
    d.counters.bytes_in_use[a.device] -= a.reserved;
    --d.counters.live_allocations[a.device];
  }
  d.allocations.erase(it);
}

void release_context_memory(Context* c) {
  std::vector<uintptr_t> doomed;
  for (auto& [base, a] : drv().allocations)
    if (a.ctx == c) doomed.push_back(base);
  for (uintptr_t b : doomed) release_allocation(b);
}

// Takes size bytes of the current context's device.
static CUresult device_alloc(CUdeviceptr* dptr, size_t size, AllocKind kind, Context* c) {
  if (!dptr) return CUDA_ERROR_INVALID_VALUE;
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  if (size == 0) return CUDA_ERROR_INVALID_VALUE;
  Driver& d = drv();
  Device& dev = *d.devices[c->device];
  size_t len = (size + kGranule - 1) / kGranule * kGranule;
  size_t off;
  if (len < size || !arena_take(dev, len, &off)) return CUDA_ERROR_OUT_OF_MEMORY;
  uintptr_t p = reinterpret_cast<uintptr_t>(dev.base) + off;
  Allocation& a = d.allocations[p];
  a = Allocation{size, len, c->device, c, kind, false};
  auto& ctr = d.counters;
  ctr.bytes_in_use[c->device] += len;
  if (ctr.bytes_in_use[c->device] > ctr.peak_bytes_in_use[c->device])
    ctr.peak_bytes_in_use[c->device] = ctr.bytes_in_use[c->device];
  ++ctr.live_allocations[c->device];
  *dptr = p;
  return CUDA_SUCCESS;
}

// The synchronous allocation entry points: latency, init, capture rules, then the arena.
static CUresult sync_alloc(CUdeviceptr* dptr, size_t size, AllocKind kind, uint64_t* counter) {
  busy_wait_us(drv().knobs.alloc_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++*counter;
  if (CUresult r = capture_guard()) return r;
  return device_alloc(dptr, size, kind, current_ctx());
}

static CUresult host_alloc(void** pp, size_t size) {
  busy_wait_us(drv().knobs.alloc_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.alloc_host;
  if (CUresult r = capture_guard()) return r;
  if (!pp || size == 0) return CUDA_ERROR_INVALID_VALUE;
  if (!current_ctx()) return CUDA_ERROR_INVALID_CONTEXT;
  size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  size_t len = (size + page - 1) / page * page;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return CUDA_ERROR_OUT_OF_MEMORY;
  drv().allocations[reinterpret_cast<uintptr_t>(p)] =
      Allocation{size, len, -1, current_ctx(), AllocKind::Host, false};
  *pp = p;
  return CUDA_SUCCESS;
}

static CUresult async_alloc(CUdeviceptr* dptr, size_t size, CUstream h, bool per_thread) {
  busy_wait_us(drv().knobs.alloc_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.alloc_async;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  return device_alloc(dptr, size, AllocKind::Async, s->ctx);
}

// Stream-ordered free: the range goes back to the arena when the stream reaches the free.
static CUresult async_free(CUdeviceptr p, CUstream h, bool per_thread) {
  busy_wait_us(drv().knobs.free_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.free_async;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  auto it = drv().allocations.find(p);
  if (it == drv().allocations.end() || it->second.kind == AllocKind::Host ||
      it->second.free_pending)
    return CUDA_ERROR_INVALID_VALUE;
  bool capturing = s->capture != nullptr;
  if (!capturing) it->second.free_pending = true;
  return submit(s, [p] {
    auto found = drv().allocations.find(p);
    if (found != drv().allocations.end()) release_allocation(p);
  });
}

}  // namespace fakecuda

using namespace fakecuda;

FC_EXPORT CUresult cuMemAlloc_v2(CUdeviceptr* dptr, size_t size) {
  return sync_alloc(dptr, size, AllocKind::Device, &drv().counters.mem_alloc);
}

FC_EXPORT CUresult cuMemAllocPitch_v2(CUdeviceptr* dptr, size_t* pitch, size_t width,
                                      size_t height, unsigned elem_size) {
  if (!pitch || width == 0 || height == 0 ||
      (elem_size != 4 && elem_size != 8 && elem_size != 16))
    return CUDA_ERROR_INVALID_VALUE;
  size_t p = (width + kGranule - 1) / kGranule * kGranule;
  CUresult r = sync_alloc(dptr, p * height, AllocKind::Device, &drv().counters.mem_alloc);
  if (r == CUDA_SUCCESS) *pitch = p;
  return r;
}

FC_EXPORT CUresult cuMemAllocManaged(CUdeviceptr* dptr, size_t size, unsigned flags) {
  if (flags != 1 && flags != 2) return CUDA_ERROR_INVALID_VALUE;  // ATTACH_GLOBAL / _HOST
  return sync_alloc(dptr, size, AllocKind::Managed, &drv().counters.alloc_managed);
}

// Synchronises the device first, as the real driver does.
FC_EXPORT CUresult cuMemFree_v2(CUdeviceptr p) {
  busy_wait_us(drv().knobs.free_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.mem_free;
  if (CUresult r = capture_guard()) return r;
  if (p == 0) return CUDA_SUCCESS;
  auto it = drv().allocations.find(p);
  if (it == drv().allocations.end() || it->second.kind == AllocKind::Host ||
      it->second.free_pending)
    return CUDA_ERROR_INVALID_VALUE;
  ++drv().counters.device_synchronize;
  sync_device(it->second.device);
  release_allocation(p);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemAllocHost_v2(void** pp, size_t size) { return host_alloc(pp, size); }

FC_EXPORT CUresult cuMemHostAlloc(void** pp, size_t size, unsigned /*flags*/) {
  return host_alloc(pp, size);
}

FC_EXPORT CUresult cuMemFreeHost(void* p) {
  busy_wait_us(drv().knobs.free_latency_us);
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.free_host;
  if (CUresult r = capture_guard()) return r;
  auto it = drv().allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == drv().allocations.end() || it->second.kind != AllocKind::Host)
    return CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < drv().devices.size(); ++i) sync_device(static_cast<int>(i));
  release_allocation(it->first);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemAllocAsync(CUdeviceptr* dptr, size_t size, CUstream s) {
  return async_alloc(dptr, size, s, false);
}
FC_EXPORT CUresult cuMemAllocAsync_ptsz(CUdeviceptr* dptr, size_t size, CUstream s) {
  return async_alloc(dptr, size, s, true);
}
FC_EXPORT CUresult cuMemAllocFromPoolAsync(CUdeviceptr* dptr, size_t size, CUmemoryPool,
                                           CUstream s) {
  return async_alloc(dptr, size, s, false);
}
FC_EXPORT CUresult cuMemAllocFromPoolAsync_ptsz(CUdeviceptr* dptr, size_t size, CUmemoryPool,
                                                CUstream s) {
  return async_alloc(dptr, size, s, true);
}
FC_EXPORT CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) { return async_free(p, s, false); }
FC_EXPORT CUresult cuMemFreeAsync_ptsz(CUdeviceptr p, CUstream s) {
  return async_free(p, s, true);
}

FC_EXPORT CUresult cuMemGetInfo_v2(size_t* free_bytes, size_t* total) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Context* c = current_ctx();
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  if (!free_bytes || !total) return CUDA_ERROR_INVALID_VALUE;
  const Device& dev = *drv().devices[c->device];
  *total = dev.capacity;
  *free_bytes = dev.capacity - drv().counters.bytes_in_use[c->device];
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuMemGetAddressRange_v2(CUdeviceptr* pbase, size_t* psize, CUdeviceptr p) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  uintptr_t base;
  Allocation* a = find_allocation(p, &base);
  if (!a) return CUDA_ERROR_NOT_FOUND;
  if (pbase) *pbase = base;
  if (psize) *psize = a->size;
  return CUDA_SUCCESS;
}

// Writes one attribute of the allocation a (null: memory the driver does not know).
static CUresult pointer_attribute(void* data, int attr, CUdeviceptr p, const Allocation* a,
                                  uintptr_t base) {
  bool host = a && a->kind == AllocKind::Host;
  switch (attr) {
    case 1: *static_cast<CUcontext*>(data) = a ? reinterpret_cast<CUcontext>(a->ctx) : nullptr; break;
    case 2: *static_cast<unsigned*>(data) = !a ? 0 : host ? 1 : 2; break;
    case 3: *static_cast<CUdeviceptr*>(data) = a ? p : 0; break;
    case 4:
      *static_cast<void**>(data) =
          a && (host || a->kind == AllocKind::Managed) ? reinterpret_cast<void*>(p) : nullptr;
      break;
    case 7: *static_cast<unsigned long long*>(data) = a ? base : 0; break;
    case 8: *static_cast<bool*>(data) = a && a->kind == AllocKind::Managed; break;
    case 9: *static_cast<int*>(data) = a ? (host ? 0 : a->device) : -2; break;
    case 11: *static_cast<CUdeviceptr*>(data) = a ? base : 0; break;
    case 12: *static_cast<size_t*>(data) = a ? a->size : 0; break;
    case 13: *static_cast<bool*>(data) = a != nullptr; break;
    case 17: *static_cast<void**>(data) = nullptr; break;
    default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuPointerGetAttribute(void* data, int attr, CUdeviceptr p) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!data) return CUDA_ERROR_INVALID_VALUE;
  uintptr_t base = 0;
  const Allocation* a = find_allocation(p, &base);
  if (!a) return CUDA_ERROR_INVALID_VALUE;
  return pointer_attribute(data, attr, p, a, base);
}

// Unknown memory is not an error here: the attributes read as "not the driver's".
FC_EXPORT CUresult cuPointerGetAttributes(unsigned n, int* attrs, void** data, CUdeviceptr p) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!attrs || !data) return CUDA_ERROR_INVALID_VALUE;
  uintptr_t base = 0;
  const Allocation* a = find_allocation(p, &base);
  for (unsigned i = 0; i < n; ++i)
    if (data[i])
      if (CUresult r = pointer_attribute(data[i], attrs[i], p, a, base)) return r;
  return CUDA_SUCCESS;
}
