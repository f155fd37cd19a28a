// Stream-ordered allocation: cudaMallocAsync, a kernel, a copy back and cudaFreeAsync on one
// stream, in a loop, then the same on the per-thread default stream. Exit status 1 when any
// element was wrong.
#include <vector>

#include "common.cuh"

namespace {

int round_trip(cudaStream_t s, int rounds) {
  int errors = 0;
  std::vector<unsigned> host;
  for (int i = 0; i < rounds; ++i) {
    size_t n = 256 << (i % 8);
    unsigned* p = nullptr;
    CHECK(cudaMallocAsync((void**)&p, n * sizeof(unsigned), s));
    fill_u32<<<blocks_for(n), 256, 0, s>>>(p, i + 3, n);
    CHECK(cudaGetLastError());
    host.assign(n, 0);
    CHECK(cudaMemcpyAsync(host.data(), p, n * sizeof(unsigned), cudaMemcpyDeviceToHost, s));
    CHECK(cudaFreeAsync(p, s));
    CHECK(cudaStreamSynchronize(s));
    for (unsigned v : host) errors += v != (unsigned)(i + 3);
  }
  return errors;
}

}  // namespace

int main() {
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  int errors = round_trip(s, 64);
  errors += round_trip(cudaStreamPerThread, 16);
  CHECK(cudaStreamDestroy(s));
  printf("async rounds=80 errors=%d\n", errors);
  return errors ? 1 : 0;
}
