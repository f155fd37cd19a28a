// A CUDA program whose own work is host code: it asks for the device count and uses malloc.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main() {
  int count = -1;
  cudaError_t e = cudaGetDeviceCount(&count);
  size_t total = 0;
  for (int i = 1; i <= 100; ++i) {
    char* p = (char*)malloc(i * 16);
    memset(p, i, i * 16);
    total += (unsigned char)p[i * 16 - 1];
    free(p);
  }
  printf("devices=%d error=%s sum=%zu\n", count, cudaGetErrorName(e), total);
  return 0;
}
