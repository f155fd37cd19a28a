// 8 threads, each with its own stream, allocating, launching, copying back and freeing in a
// loop; every block's contents are checked. Exit status 1 when any element was wrong.
#include <pthread.h>

#include <vector>

#include "common.cuh"

namespace {

const int kThreads = 8;
const int kIterations = 100;
int g_errors[kThreads];

void* worker(void* arg) {
  int id = (int)(long)arg;
  cudaStream_t s;
  CHECK(cudaStreamCreate(&s));
  std::vector<unsigned> host;
  for (int i = 0; i < kIterations; ++i) {
    size_t n = 64 + ((i * 7919 + id * 104729) % 20000);
    unsigned value = id * 100000 + i;
    unsigned* p = nullptr;
    CHECK(cudaMalloc((void**)&p, n * sizeof(unsigned)));
    fill_u32<<<blocks_for(n), 256, 0, s>>>(p, value, n);
    add_u32<<<blocks_for(n), 256, 0, s>>>(p, 1, n);
    CHECK(cudaGetLastError());
    host.assign(n, 0);
    CHECK(cudaMemcpyAsync(host.data(), p, n * sizeof(unsigned), cudaMemcpyDeviceToHost, s));
    CHECK(cudaStreamSynchronize(s));
    for (unsigned v : host) g_errors[id] += v != value + 1;
    CHECK(cudaFree(p));
  }
  CHECK(cudaStreamDestroy(s));
  return nullptr;
}

}  // namespace

int main() {
  pthread_t t[kThreads];
  for (long i = 0; i < kThreads; ++i) pthread_create(&t[i], nullptr, worker, (void*)i);
  int errors = 0;
  for (int i = 0; i < kThreads; ++i) {
    pthread_join(t[i], nullptr);
    errors += g_errors[i];
  }
  printf("threads=%d iterations=%d errors=%d\n", kThreads, kIterations, errors);
  return errors ? 1 : 0;
}
