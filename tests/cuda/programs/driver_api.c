/* The driver API reached as a statically linked runtime reaches it: dlopen("libcuda.so.1"),
 * dlsym of cuGetProcAddress_v2 on that handle, then every entry point by base name and the
 * CUDA version of its signature. Allocates, sets, copies back and frees device, pinned and
 * stream-ordered blocks in a loop; leaks one device block of 4242 bytes.
 *   driver_api [iterations]   default 100 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st* CUcontext;
typedef struct CUstream_st* CUstream;
typedef CUresult (*GetProcAddress)(const char*, void**, int, unsigned long long, int*);

#define LEGACY_STREAM 1ull

static GetProcAddress get_proc;

static CUresult (*p_cuInit)(unsigned);
static CUresult (*p_cuDeviceGet)(CUdevice*, int);
static CUresult (*p_cuDevicePrimaryCtxRetain)(CUcontext*, CUdevice);
static CUresult (*p_cuCtxSetCurrent)(CUcontext);
static CUresult (*p_cuMemAlloc)(CUdeviceptr*, size_t);
static CUresult (*p_cuMemFree)(CUdeviceptr);
static CUresult (*p_cuMemsetD8)(CUdeviceptr, unsigned char, size_t);
static CUresult (*p_cuMemcpyDtoH)(void*, CUdeviceptr, size_t);
static CUresult (*p_cuMemAllocHost)(void**, size_t);
static CUresult (*p_cuMemFreeHost)(void*);
static CUresult (*p_cuStreamCreate)(CUstream*, unsigned);
static CUresult (*p_cuStreamDestroy)(CUstream);
static CUresult (*p_cuStreamSynchronize)(CUstream);
static CUresult (*p_cuMemAllocAsync)(CUdeviceptr*, size_t, CUstream);
static CUresult (*p_cuMemFreeAsync)(CUdeviceptr, CUstream);

static void resolve(const char* name, int version, void* slot) {
  int status = 0;
  CUresult r = get_proc(name, (void**)slot, version, LEGACY_STREAM, &status);
  if (r != 0 || !*(void**)slot) {
    fprintf(stderr, "cuGetProcAddress_v2(%s, %d): %d\n", name, version, r);
    exit(2);
  }
}

static void check(CUresult r, const char* what) {
  if (r != 0) {
    fprintf(stderr, "%s: %d\n", what, r);
    exit(2);
  }
}

__attribute__((noinline)) static void leak_one(void) {
  CUdeviceptr p = 0;
  check(p_cuMemAlloc(&p, 4242), "cuMemAlloc (leak)");
}

int main(int argc, char** argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 100;
  void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (!lib) {
    fprintf(stderr, "no driver: %s\n", dlerror());
    return 2;
  }
  get_proc = (GetProcAddress)dlsym(lib, "cuGetProcAddress_v2");
  if (!get_proc) {
    fprintf(stderr, "no cuGetProcAddress_v2\n");
    return 2;
  }
  resolve("cuInit", 2000, &p_cuInit);
  resolve("cuDeviceGet", 2000, &p_cuDeviceGet);
  resolve("cuDevicePrimaryCtxRetain", 7000, &p_cuDevicePrimaryCtxRetain);
  resolve("cuCtxSetCurrent", 4000, &p_cuCtxSetCurrent);
  resolve("cuMemAlloc", 3020, &p_cuMemAlloc);
  resolve("cuMemFree", 3020, &p_cuMemFree);
  resolve("cuMemsetD8", 3020, &p_cuMemsetD8);
  resolve("cuMemcpyDtoH", 3020, &p_cuMemcpyDtoH);
  resolve("cuMemAllocHost", 3020, &p_cuMemAllocHost);
  resolve("cuMemFreeHost", 2000, &p_cuMemFreeHost);
  resolve("cuStreamCreate", 2000, &p_cuStreamCreate);
  resolve("cuStreamDestroy", 4000, &p_cuStreamDestroy);
  resolve("cuStreamSynchronize", 2000, &p_cuStreamSynchronize);
  resolve("cuMemAllocAsync", 11020, &p_cuMemAllocAsync);
  resolve("cuMemFreeAsync", 11020, &p_cuMemFreeAsync);

  CUdevice dev;
  CUcontext ctx;
  CUstream stream;
  check(p_cuInit(0), "cuInit");
  check(p_cuDeviceGet(&dev, 0), "cuDeviceGet");
  check(p_cuDevicePrimaryCtxRetain(&ctx, dev), "cuDevicePrimaryCtxRetain");
  check(p_cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
  check(p_cuStreamCreate(&stream, 0), "cuStreamCreate");

  unsigned long long checksum = 0;
  for (int i = 0; i < iterations; ++i) {
    size_t bytes = (size_t)256 << (i % 12);
    CUdeviceptr d = 0, a = 0;
    void* h = NULL;
    check(p_cuMemAlloc(&d, bytes), "cuMemAlloc");
    check(p_cuMemsetD8(d, (unsigned char)i, bytes), "cuMemsetD8");
    check(p_cuMemAllocHost(&h, bytes), "cuMemAllocHost");
    check(p_cuMemcpyDtoH(h, d, bytes), "cuMemcpyDtoH");
    checksum += ((unsigned char*)h)[bytes - 1];
    check(p_cuMemAllocAsync(&a, bytes, stream), "cuMemAllocAsync");
    check(p_cuMemFreeAsync(a, stream), "cuMemFreeAsync");
    check(p_cuMemFreeHost(h), "cuMemFreeHost");
    check(p_cuMemFree(d), "cuMemFree");
  }
  check(p_cuStreamSynchronize(stream), "cuStreamSynchronize");
  check(p_cuStreamDestroy(stream), "cuStreamDestroy");
  leak_one();
  printf("iterations=%d checksum=%llu\n", iterations, checksum);
  return 0;
}
