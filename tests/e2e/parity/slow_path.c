/* A thread's first allocation comes from the allocator's slow path (a refill of its cache
   from the central pool); the thread drops the block and then waits for good in
   pthread_cond_wait, 256 bytes deeper than where it allocated, in frames that leave slots
   unwritten. main returns while it waits.
   Expected (as valgrind): direct 48 B in 1 block (drop_first), whatever copy of its address
   the slow path left on the stack. */
#include <alloca.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static volatile int g_waiting;

LEAK_FN void drop_first(void) {
  // No copy of the program's own: at -O0 the slot is cleared, and keep_alloc (a call
  // there) would keep one in its frame.
  void* volatile p = malloc(48); /* @first */
  memset(p, 1, 48);
  p = NULL;
}

LEAK_FN void wait_forever(void) {
  pthread_mutex_lock(&g_mu);
  g_waiting = 1;
  for (;;) pthread_cond_wait(&g_cv, &g_mu);
}

static void* worker(void* arg) {
  (void)arg;
  drop_first();
  char* pad = alloca(256);
  __asm__ volatile("" : : "r"(pad) : "memory");
  wait_forever();
  return NULL;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, worker, NULL);
  while (!g_waiting) {
  }
  pthread_mutex_lock(&g_mu);  // the worker waits inside pthread_cond_wait now
  pthread_mutex_unlock(&g_mu);
  return 0;
}
