// Leaks a known set of blocks, each from its own function: device blocks of 1000 and 3 MiB
// bytes (cudaMalloc), a pinned block of 4096 bytes (cudaMallocHost) and a managed block of
// 8192 bytes (cudaMallocManaged); everything else is freed.
#include "common.cuh"

#define NOINLINE __attribute__((noinline))

NOINLINE void* leak_device_small() {
  void* p = nullptr;
  CHECK(cudaMalloc(&p, 1000));
  return p;
}

NOINLINE void* leak_device_large() {
  void* p = nullptr;
  CHECK(cudaMalloc(&p, 3 << 20));
  return p;
}

NOINLINE void* leak_pinned() {
  void* p = nullptr;
  CHECK(cudaMallocHost(&p, 4096));
  return p;
}

NOINLINE void* leak_managed() {
  void* p = nullptr;
  CHECK(cudaMallocManaged(&p, 8192, cudaMemAttachGlobal));
  return p;
}

NOINLINE void freed_blocks() {
  for (int i = 0; i < 10; ++i) {
    void *d = nullptr, *h = nullptr, *m = nullptr;
    CHECK(cudaMalloc(&d, 512 << i));
    CHECK(cudaMallocHost(&h, 256 << i));
    CHECK(cudaMallocManaged(&m, 128 << i, cudaMemAttachGlobal));
    fill_u32<<<1, 256>>>((unsigned*)d, i, (512u << i) / 4);
    CHECK(cudaGetLastError());
    CHECK(cudaFree(d));
    CHECK(cudaFreeHost(h));
    CHECK(cudaFree(m));
  }
}

int main() {
  freed_blocks();
  // The pointers are dropped at once, so the blocks are unreachable at exit.
  (void)leak_device_small();
  (void)leak_device_large();
  (void)leak_pinned();
  (void)leak_managed();
  CHECK(cudaDeviceSynchronize());
  printf("leaked device=1000,3145728 pinned=4096 managed=8192\n");
  return 0;
}
