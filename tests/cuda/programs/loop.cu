// Device allocations of several sizes freed in a loop, a kernel per iteration; one device
// block is leaked. Prints a checksum of one element read back per iteration.
//   loop [iterations]   default 1000
#include "common.cuh"

// The leaked block's pointer is dropped on return.
__attribute__((noinline)) static void leak_one() {
  void* p = nullptr;
  CHECK(cudaMalloc(&p, 12345));
}

int main(int argc, char** argv) {
  int iterations = argc > 1 ? atoi(argv[1]) : 1000;
  const size_t sizes[] = {256, 4096, 65536, 1 << 20, 8 << 20, 100000};
  leak_one();
  unsigned long long checksum = 0;
  for (int i = 0; i < iterations; ++i) {
    size_t bytes = sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
    size_t n = bytes / sizeof(unsigned);
    unsigned* p = nullptr;
    CHECK(cudaMalloc((void**)&p, bytes));
    fill_u32<<<blocks_for(n), 256>>>(p, (unsigned)i, n);
    CHECK(cudaGetLastError());
    unsigned last = 0;
    CHECK(cudaMemcpy(&last, p + n - 1, sizeof(last), cudaMemcpyDeviceToHost));
    checksum += last;
    CHECK(cudaFree(p));
  }
  printf("iterations=%d checksum=%llu\n", iterations, checksum);
  return 0;
}
