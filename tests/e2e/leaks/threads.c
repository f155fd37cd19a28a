/* Eight threads leak at one site at the same time.
   Expected: direct 38400 B in 800 blocks (8 threads x 100 x 48 B), one group, malloc. */
#include <pthread.h>
#include <stdlib.h>

#include "leakprog.h"

enum { THREADS = 8, PER_THREAD = 100, BYTES = 48 };

static pthread_barrier_t start;

LEAK_FN void leak_in_thread(void) {
  for (int i = 0; i < PER_THREAD; i++) keep_alloc(malloc(BYTES));
}

static void* thread_main(void* arg) {
  (void)arg;
  pthread_barrier_wait(&start);
  leak_in_thread();
  scrub_stack();
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  pthread_barrier_init(&start, NULL, THREADS);
  for (int i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, thread_main, NULL);
  for (int i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
  pthread_barrier_destroy(&start);
  scrub_stack();
  return 0;
}
