// Kernels shared by the CUDA test programs, their host emulations for the fake driver, and a
// check macro. The emulations are registered before main through
// dlsym(RTLD_DEFAULT, "fakecuda_register_kernel_params"): the constructor first asks the
// runtime for the device count, which loads the driver (RTLD_GLOBAL). On a real driver the
// name is absent and nothing is registered.
#pragma once

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "fakecuda.h"

// Exits with status 2 when a CUDA call that must succeed fails.
#define CHECK(call)                                                                 \
  do {                                                                              \
    cudaError_t e_ = (call);                                                        \
    if (e_ != cudaSuccess) {                                                        \
      fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call,                 \
              cudaGetErrorName(e_));                                                \
      exit(2);                                                                      \
    }                                                                               \
  } while (0)

// p[i] = v for i < n (grid-stride loop).
__global__ void fill_u32(unsigned* p, unsigned v, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    p[i] = v;
}

// p[i] += v for i < n.
__global__ void add_u32(unsigned* p, unsigned v, size_t n) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
       i += (size_t)gridDim.x * blockDim.x)
    p[i] += v;
}

// Launch shape for n elements.
static inline unsigned blocks_for(size_t n) {
  size_t b = (n + 255) / 256;
  return b == 0 ? 1 : b > 1024 ? 1024 : (unsigned)b;
}

static void emulate_fill_u32(void** args, const struct fakecuda_launch*) {
  unsigned* p = *(unsigned**)args[0];
  unsigned v = *(unsigned*)args[1];
  size_t n = *(size_t*)args[2];
  for (size_t i = 0; i < n; ++i) p[i] = v;
}

static void emulate_add_u32(void** args, const struct fakecuda_launch*) {
  unsigned* p = *(unsigned**)args[0];
  unsigned v = *(unsigned*)args[1];
  size_t n = *(size_t*)args[2];
  for (size_t i = 0; i < n; ++i) p[i] += v;
}

__attribute__((constructor)) static void register_emulations() {
  int count = 0;
  (void)cudaGetDeviceCount(&count);
  (void)cudaGetLastError();
  typedef int (*RegisterFn)(const char*, fakecuda_kernel_fn, unsigned, const size_t*);
  RegisterFn reg = (RegisterFn)dlsym(RTLD_DEFAULT, "fakecuda_register_kernel_params");
  if (!reg) return;  // a real driver
  static const size_t sizes[] = {sizeof(unsigned*), sizeof(unsigned), sizeof(size_t)};
  reg("_Z8fill_u32Pjjm", emulate_fill_u32, 3, sizes);
  reg("_Z7add_u32Pjjm", emulate_add_u32, 3, sizes);
}
