/* Known device figures for the allocation profile, on the driver API (driver_fn.h).
 *   dev_temporary: 5 blocks of 1 MiB, each freed before the next allocation: 5 temporary
 *   dev_peak_part: 2 blocks of 4 MiB held at the device peak, then freed
 *   dev_kept:      1 block of 1,000,000 bytes never freed
 *   dev_after:     1 block of 2 MiB after the peak, freed: 0 at the peak
 *   pinned_block:  1 pinned host block of 4096 bytes (host memory), freed
 * The device peak is 8 MiB + 1,000,000 bytes. */
#include <time.h>

#include "driver_fn.h"

static CUresult (*mem_alloc)(CUdeviceptr*, size_t);
static CUresult (*mem_free)(CUdeviceptr);
static CUresult (*alloc_host)(void**, size_t);
static CUresult (*free_host)(void*);

static void pause_ms(int ms) {
  struct timespec t = {0, ms * 1000000L};
  nanosleep(&t, NULL);
}

static void check(CUresult r, const char* what) {
  if (r != 0) {
    fprintf(stderr, "%s failed: %d\n", what, r);
    exit(1);
  }
}

#define SITE(name)                                        \
  __attribute__((noinline)) CUdeviceptr name(size_t n) { \
    CUdeviceptr p = 0;                                    \
    check(mem_alloc(&p, n), "cuMemAlloc");                \
    return p;                                             \
  }
SITE(dev_temporary)
SITE(dev_peak_part)
SITE(dev_kept)
SITE(dev_after)

__attribute__((noinline)) void* pinned_block(size_t n) {
  void* p = NULL;
  return alloc_host(&p, n) == 0 ? p : NULL;
}

int main(void) {
  driver_open();
  driver_use_device0();
  mem_alloc = (CUresult(*)(CUdeviceptr*, size_t))driver_fn("cuMemAlloc", 3020);
  mem_free = (CUresult(*)(CUdeviceptr))driver_fn("cuMemFree", 3020);
  alloc_host = (CUresult(*)(void**, size_t))driver_fn("cuMemAllocHost", 3020);
  free_host = (CUresult(*)(void*))driver_fn("cuMemFreeHost", 2000);
  for (int i = 0; i < 5; ++i) check(mem_free(dev_temporary(1 << 20)), "cuMemFree");
  free_host(pinned_block(4096));
  pause_ms(30);
  CUdeviceptr a = dev_peak_part(4 << 20), b = dev_peak_part(4 << 20);
  dev_kept(1000000);
  pause_ms(30);
  check(mem_free(a), "cuMemFree");
  check(mem_free(b), "cuMemFree");
  pause_ms(30);
  check(mem_free(dev_after(2 << 20)), "cuMemFree");
  return 0;
}
