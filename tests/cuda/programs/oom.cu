// Out of device memory: fills the device with blocks of an eighth of its memory, frees them,
// allocates a block of three quarters (it fits only once freed blocks are really released,
// e.g. from an allocator's cache), then a block that can never fit. Run with a small
// FAKECUDA_MEMORY.
#include "common.cuh"

int main() {
  size_t free_bytes = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total));
  const size_t chunk = total / 8;
  void* blocks[64];
  int filled = 0;
  cudaError_t e = cudaSuccess;
  while (filled < 64 && (e = cudaMalloc(&blocks[filled], chunk)) == cudaSuccess) ++filled;
  printf("filled=%d fill_error=%s\n", filled, cudaGetErrorName(e));
  (void)cudaGetLastError();
  for (int i = 0; i < filled; ++i) CHECK(cudaFree(blocks[i]));

  void* big = nullptr;
  e = cudaMalloc(&big, total / 4 * 3);
  printf("big=%s\n", cudaGetErrorName(e));
  if (e == cudaSuccess) {
    fill_u32<<<1024, 256, 0, 0>>>((unsigned*)big, 1, total / 4 * 3 / sizeof(unsigned));
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    CHECK(cudaFree(big));
  }

  void* never = nullptr;
  e = cudaMalloc(&never, total * 2);
  printf("never=%s (%s) last=%s\n", cudaGetErrorName(e), cudaGetErrorString(e),
         cudaGetErrorName(cudaGetLastError()));
  return 0;
}
