/* What cuMemGetInfo reports must be allocatable: blocks of several sizes are allocated and
 * freed (a cache keeps them), then the free memory F is read and F minus 2 MiB allocated in
 * one block. Prints the figures and "big=0" when that allocation succeeded.
 * Reaches the driver as driver_api.c does (dlopen + cuGetProcAddress_v2).
 *   meminfo */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st* CUcontext;
typedef CUresult (*GetProcAddress)(const char*, void**, int, unsigned long long, int*);

static GetProcAddress get_proc;

static void* fn(const char* name, int version) {
  void* p = NULL;
  int status = 0;
  if (get_proc(name, &p, version, 1, &status) != 0 || !p) {
    fprintf(stderr, "meminfo: no %s\n", name);
    exit(2);
  }
  return p;
}

int main(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (!lib) return 2;
  get_proc = (GetProcAddress)dlsym(lib, "cuGetProcAddress_v2");
  if (!get_proc) return 2;
  CUresult (*init)(unsigned) = fn("cuInit", 2000);
  CUresult (*retain)(CUcontext*, int) = fn("cuDevicePrimaryCtxRetain", 7000);
  CUresult (*set_current)(CUcontext) = fn("cuCtxSetCurrent", 4000);
  CUresult (*mem_alloc)(CUdeviceptr*, size_t) = fn("cuMemAlloc", 3020);
  CUresult (*mem_free)(CUdeviceptr) = fn("cuMemFree", 3020);
  CUresult (*get_info)(size_t*, size_t*) = fn("cuMemGetInfo", 3020);
  CUcontext ctx;
  if (init(0) || retain(&ctx, 0) || set_current(ctx)) return 2;

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
