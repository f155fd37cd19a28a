/* CUDA frees that go wrong, one per mode, through the driver API (driver_fn.h):
 *   double       cuMemFree twice of one device block
 *   never        cuMemFree of an address no allocation returned
 *   interior     cuMemFree of a device block's middle
 *   host         cuMemFree of malloc's memory
 *   as_host      free() of device memory
 *   pinned       cuMemFreeHost of device memory
 *   pinned_gone  64 MiB of pinned memory, holding the only pointer to a malloc block,
 *                unmapped behind the shim's back (as a CUDA context's teardown does at
 *                exit): the leak check's own memory may be mapped there by then
 * Prints the CUDA result of the bad call ("result=N") and exits 0. */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "driver_fn.h"

static CUresult (*mem_alloc)(CUdeviceptr*, size_t);
static CUresult (*mem_free)(CUdeviceptr);
static CUresult (*mem_free_host)(void*);
static CUresult (*mem_alloc_host)(void**, size_t);
void** g_pinned;

__attribute__((noinline)) static CUdeviceptr make_block(void) {
  CUdeviceptr p = 0;
  if (mem_alloc(&p, 5000)) exit(2);
  return p;
}

__attribute__((noinline)) static CUresult free_twice(CUdeviceptr p) {
  if (mem_free(p)) exit(2);
  return mem_free(p);
}

__attribute__((noinline)) static CUresult free_device(CUdeviceptr p) { return mem_free(p); }

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  driver_open();
  mem_alloc = driver_fn("cuMemAlloc", 3020);
  mem_free = driver_fn("cuMemFree", 3020);
  mem_free_host = driver_fn("cuMemFreeHost", 2000);
  mem_alloc_host = driver_fn("cuMemAllocHost", 3020);
  driver_use_device0();
  const char* mode = argv[1];
  CUresult r = 0;
  if (strcmp(mode, "double") == 0) {
    r = free_twice(make_block());
  } else if (strcmp(mode, "never") == 0) {
    r = free_device((CUdeviceptr)0x7e1234560000ull);
  } else if (strcmp(mode, "interior") == 0) {
    CUdeviceptr p = make_block();
    r = free_device(p + 256);
    mem_free(p);
  } else if (strcmp(mode, "host") == 0) {
    char* h = malloc(300);
    r = free_device((CUdeviceptr)(uintptr_t)h);
    free(h);
  } else if (strcmp(mode, "as_host") == 0) {
    CUdeviceptr p = make_block();
    free((void*)(uintptr_t)p);
    r = mem_free(p);  /* still the program's: freeing it now is fine */
  } else if (strcmp(mode, "pinned") == 0) {
    CUdeviceptr p = make_block();
    r = mem_free_host((void*)(uintptr_t)p);
    mem_free(p);
  } else if (strcmp(mode, "pinned_gone") == 0) {
    if (mem_alloc_host((void**)&g_pinned, 64 << 20)) exit(2);
    g_pinned[0] = malloc(100);
    r = munmap(g_pinned, 64 << 20) == 0 ? 0 : 3;
  } else {
    return 2;
  }
  printf("result=%d\n", r);
  return 0;
}
