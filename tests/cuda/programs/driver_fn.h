/* The driver reached as a statically linked CUDA runtime reaches it: dlopen("libcuda.so.1"),
 * dlsym of cuGetProcAddress_v2 on that handle, then each entry point by base name and the
 * CUDA version of its signature. For the C programs that use the driver API. */
#ifndef DRIVER_FN_H
#define DRIVER_FN_H

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st* CUcontext;
typedef CUresult (*GetProcAddress)(const char*, void**, int, unsigned long long, int*);

static GetProcAddress driver_get_proc;

/* Loads the driver; exits with status 2 when there is none. */
static void driver_open(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW);
  if (lib) driver_get_proc = (GetProcAddress)dlsym(lib, "cuGetProcAddress_v2");
  if (!driver_get_proc) {
    fprintf(stderr, "no CUDA driver (libcuda.so.1 with cuGetProcAddress_v2)\n");
    exit(2);
  }
}

/* The entry point `name` of CUDA version `version` (legacy default stream); exits with
 * status 2 when the driver lacks it. */
static void* driver_fn(const char* name, int version) {
  void* p = NULL;
  int status = 0;
  if (driver_get_proc(name, &p, version, 1, &status) != 0 || !p) {
    fprintf(stderr, "no %s in the CUDA driver\n", name);
    exit(2);
  }
  return p;
}

/* cuInit, then device 0's primary context made current; exits with status 2 on failure. */
static void driver_use_device0(void) {
  CUresult (*init)(unsigned) = driver_fn("cuInit", 2000);
  CUresult (*retain)(CUcontext*, int) = driver_fn("cuDevicePrimaryCtxRetain", 7000);
  CUresult (*set_current)(CUcontext) = driver_fn("cuCtxSetCurrent", 4000);
  CUcontext ctx;
  if (init(0) || retain(&ctx, 0) || set_current(ctx)) {
    fprintf(stderr, "no CUDA device 0\n");
    exit(2);
  }
}

#endif
