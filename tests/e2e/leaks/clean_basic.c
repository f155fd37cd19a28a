/* Frees everything it allocates, with every allocation function, across threads and
   after realloc chains. Expected: no direct, indirect or reachable block of its own. */
#define _GNU_SOURCE
#include <malloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

enum { THREADS = 4, PER_THREAD = 1000 };

static void* allocate_many(void* arg) {
  void** out = arg;
  for (int i = 0; i < PER_THREAD; i++) out[i] = malloc(16 + i % 200);
  return NULL;
}

LEAK_FN void every_function(void) {
  void* p = NULL;
  free(malloc(10));
  free(calloc(10, 10));
  if (posix_memalign(&p, 64, 640) == 0) free(p);
  free(aligned_alloc(128, 1280));
  free(memalign(256, 2560));
  free(valloc(3000));
  free(strdup("freed"));
  char* r = malloc(10);
  r = realloc(r, 10000);
  r = realloc(r, 5);
  free(r);
  free(realloc(NULL, 77));
}

/* Blocks allocated by other threads, freed here. */
LEAK_FN void cross_thread(void) {
  static void* blocks[THREADS][PER_THREAD];
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, allocate_many, blocks[i]);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < THREADS; i++)
    for (int j = 0; j < PER_THREAD; j++) free(blocks[i][j]);
}

int main(void) {
  every_function();
  cross_thread();
  return 0;
}
