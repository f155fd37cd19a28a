// main ends with pthread_exit after the allocator had memory to give back, while a worker
// still runs: glibc ends the process when the last thread is gone, which must still happen
// under the shim. One block of 777 B is leaked on purpose,
// so the leak report shows that exit ran.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void* worker(void* arg) {
  usleep(200000);
  return arg;
}

int main(void) {
  static void* blocks[4096];
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 4096; ++i) blocks[i] = malloc(64 + i % 2048);
    for (int i = 0; i < 4096; ++i) free(blocks[i]);
  }
  // No stale copy in a global: the leak may reuse a freed block's slot.
  memset(blocks, 0, sizeof blocks);
  __asm__ volatile("" : : "r"(blocks) : "memory");
  free(malloc(8 << 20));
  char* leak = malloc(777);
  memset(leak, 1, 777);
  leak = NULL;
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
  printf("main leaves\n");
  fflush(stdout);
  pthread_exit(NULL);
}
