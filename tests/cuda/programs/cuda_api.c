/* mpshim's CUDA API (include/mpshim.h) from a program: statistics per device, the reset
 * of the peaks and the release of the cache. Reaches the driver through driver_fn.h.
 * Prints "api=ok" and exits 0 when every figure is as expected; "api=absent" when the
 * program runs without the shim (the functions are weak), "api=off" without the cache. */
#include "driver_fn.h"

#include "mpshim.h"

#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "cuda_api: %s:%d: %s\n", __FILE__, __LINE__, #cond); \
      ok = 0;                                                              \
    }                                                                      \
  } while (0)

int main(void) {
  driver_open();
  CUresult (*mem_alloc)(CUdeviceptr*, size_t) = driver_fn("cuMemAlloc", 3020);
  CUresult (*mem_free)(CUdeviceptr) = driver_fn("cuMemFree", 3020);
  CUresult (*mem_alloc_pitch)(CUdeviceptr*, size_t*, size_t, size_t, unsigned) =
      driver_fn("cuMemAllocPitch", 3020);
  driver_use_device0();
  if (!mpshim_cuda_get_stats) {
    printf("api=absent\n");
    return 0;
  }
  int ok = 1;
  CUdeviceptr a, b;
  if (mem_alloc(&a, 3 << 20) || mem_alloc(&b, 1000)) return 2;
  mpshim_cuda_stats s[4];
  int n = mpshim_cuda_get_stats(s, 4, sizeof s[0]);
  if (n == -1) {  /* MPSHIM_CUDA=track or off: no cache */
    printf("api=off release=%llu\n", (unsigned long long)mpshim_cuda_release_cache());
    return 0;
  }
  EXPECT(n == 1);
  EXPECT(s[0].device == 0);
  EXPECT(s[0].allocated == (3u << 20) + 1024);  /* requests rounded to 512 B */
  EXPECT(s[0].reserved == (20u << 20) + (2u << 20));
  EXPECT(s[0].misses == 2 && s[0].hits == 0);
  mem_free(a);
  n = mpshim_cuda_get_stats(s, 4, sizeof s[0]);
  EXPECT(s[0].allocated == 1024 && s[0].peak_allocated == (3u << 20) + 1024);
  mpshim_cuda_reset_peaks();
  mpshim_cuda_get_stats(s, 4, sizeof s[0]);
  EXPECT(s[0].peak_allocated == 1024);
  /* The large segment holds no live block any more: it goes back; the small one stays. */
  EXPECT(mpshim_cuda_release_cache() == (20u << 20));
  mpshim_cuda_get_stats(s, 4, sizeof s[0]);
  EXPECT(s[0].reserved == (2u << 20));
  EXPECT(mpshim_cuda_get_stats(NULL, 0, sizeof s[0]) == 1);  /* just the count */
  /* A pitched allocation comes from the cache too: rows of 1000 bytes, pitch 1024. */
  CUdeviceptr c;
  size_t pitch = 0;
  if (mem_alloc_pitch(&c, &pitch, 1000, 10, 4)) return 2;
  mpshim_cuda_get_stats(s, 4, sizeof s[0]);
  EXPECT(pitch == 1024 && pitch % 512 == 0);
  EXPECT(s[0].allocated == 1024 + 10 * 1024 && s[0].hits == 1);
  mem_free(c);
  mem_free(b);
  printf("api=%s\n", ok ? "ok" : "bad");
  return ok ? 0 : 1;
}
