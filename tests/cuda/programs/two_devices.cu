// Blocks on device 0 and device 1 (run with FAKECUDA_DEVICES=2), each freed by a thread whose
// current device is the other one. Prints each block's device and the memory each device
// still holds afterwards.
#include <pthread.h>

#include "common.cuh"

namespace {

const size_t kBytes = 1 << 20;

struct FreeJob {
  int device;  // the freeing thread's current device
  void* block;
  cudaError_t result;
};

void* free_from(void* arg) {
  FreeJob* job = (FreeJob*)arg;
  CHECK(cudaSetDevice(job->device));
  job->result = cudaFree(job->block);
  return nullptr;
}

size_t used(int device) {
  CHECK(cudaSetDevice(device));
  size_t free_bytes = 0, total = 0;
  CHECK(cudaMemGetInfo(&free_bytes, &total));
  return total - free_bytes;
}

}  // namespace

int main() {
  int count = 0;
  CHECK(cudaGetDeviceCount(&count));
  if (count < 2) {
    printf("devices=%d: two devices needed\n", count);
    return 0;
  }
  size_t before0 = used(0), before1 = used(1);
  void* block[2];
  for (int dev = 0; dev < 2; ++dev) {
    CHECK(cudaSetDevice(dev));
    CHECK(cudaMalloc(&block[dev], kBytes));
    fill_u32<<<blocks_for(kBytes / 4), 256>>>((unsigned*)block[dev], dev + 1, kBytes / 4);
    CHECK(cudaGetLastError());
    CHECK(cudaDeviceSynchronize());
    cudaPointerAttributes attr;
    CHECK(cudaPointerGetAttributes(&attr, block[dev]));
    printf("block%d device=%d type=%d\n", dev, attr.device, (int)attr.type);
  }
  FreeJob jobs[2] = {{1, block[0], cudaSuccess}, {0, block[1], cudaSuccess}};
  for (FreeJob& job : jobs) {
    pthread_t t;
    pthread_create(&t, nullptr, free_from, &job);
    pthread_join(t, nullptr);
  }
  printf("free0=%s free1=%s\n", cudaGetErrorName(jobs[0].result),
         cudaGetErrorName(jobs[1].result));
  printf("held0=%zu held1=%zu\n", used(0) - before0, used(1) - before1);
  return 0;
}
