/* What cuMemGetInfo reports must be allocatable: blocks of several sizes are allocated and
 * freed (a cache keeps them), then the free memory F is read and F minus 2 MiB allocated in
 * one block. Prints the figures and "big=0" when that allocation succeeded.
 * Reaches the driver through driver_fn.h.(dlopen + cuGetProcAddress_v2).
 *   meminfo */
#include "driver_fn.h"

int main(void) {
  driver_open();
  CUresult (*mem_alloc)(CUdeviceptr*, size_t) = driver_fn("cuMemAlloc", 3020);
  CUresult (*mem_free)(CUdeviceptr) = driver_fn("cuMemFree", 3020);
  CUresult (*get_info)(size_t*, size_t*) = driver_fn("cuMemGetInfo", 3020);
  driver_use_device0();

  /* One block stays live, first, so that the rest of the device is one free range (the
   * fake driver's memory, unlike a GPU's, is not virtual) and its segment cannot be given
   * back by a cache. */
  CUdeviceptr held;
  if (mem_alloc(&held, 4096)) return 2;
  enum { N = 12 };
  CUdeviceptr p[N];
  size_t kept = 0;
  for (int i = 0; i < N; ++i) {
    size_t size = (size_t)1 << (10 + 2 * (i % 7));  /* 1 KiB .. 4 MiB, and 30 MiB */
    if (i == N - 1) size = (size_t)30 << 20;
    if (mem_alloc(&p[i], size)) return 2;
    kept += size;
  }
  for (int i = 0; i < N; ++i)
    if (mem_free(p[i])) return 2;
  size_t free_bytes = 0, total = 0;
  if (get_info(&free_bytes, &total)) return 2;
  CUdeviceptr big = 0;
  size_t want = free_bytes > (2u << 20) ? free_bytes - (2u << 20) : 0;
  CUresult r = mem_alloc(&big, want);
  printf("freed=%zu free=%zu total=%zu big=%d\n", kept, free_bytes, total, r);
  if (r == 0) mem_free(big);
  mem_free(held);
  return r == 0 ? 0 : 1;
}
