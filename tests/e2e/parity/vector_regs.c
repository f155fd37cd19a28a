/* A thread that never allocates and is blocked in pthread_cond_wait at exit, whose vector
   registers hold the address of a block main lost. A new thread starts with its creator's
   registers, and glibc's futex wait leaves the upper vector registers alone, so the
   address stays in xmm13-xmm15 (memcached's maintenance threads carry the address of a
   struct main copied with SSE moves the same way). Vector registers are no roots for
   valgrind and LeakSanitizer, nor for mpshim, which takes the general-purpose ones. But
   the signal that asks a thread for its registers at the leak check makes the kernel save
   every register, the vector ones included, below the thread's stack pointer; the stack
   of a thread that never allocated is scanned whole, so that frame was read and the lost
   block was reachable.
   Expected (as valgrind and LeakSanitizer): direct 40 B in 1 block (new_settings). */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leakprog.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_started;

LEAK_FN void* new_settings(void) {
  char* s = malloc(40); /* @settings */
  memset(s, 's', 40);
  return s;
}

/* Puts `p` in the upper vector registers and clears every other copy main has of it. */
LEAK_FN void load_vector_regs(void* volatile* slot) {
#if defined(__x86_64__)
  __asm__ volatile(
      "movq %0, %%xmm13\n\t"
      "movq %0, %%xmm14\n\t"
      "movq %0, %%xmm15"
      :
      : "r"((uintptr_t)*slot)
      : "xmm13", "xmm14", "xmm15");
#endif
  *slot = NULL;
}

LEAK_FN void clear_vector_regs(void) {
#if defined(__x86_64__)
  __asm__ volatile("pxor %%xmm13, %%xmm13\n\tpxor %%xmm14, %%xmm14\n\tpxor %%xmm15, %%xmm15" : : : "xmm13", "xmm14", "xmm15");
#endif
}

static void* maintainer(void* arg) {
  (void)arg;
  pthread_mutex_lock(&g_mu);
  g_started = 1;
  pthread_cond_broadcast(&g_cv);
  while (g_started < 2) pthread_cond_wait(&g_cv, &g_mu); /* never true */
  pthread_mutex_unlock(&g_mu);
  return NULL;
}

int main(void) {
  void* volatile settings = new_settings();
  pthread_t t;
  load_vector_regs(&settings);
  int rc = pthread_create(&t, NULL, maintainer, NULL);
  clear_vector_regs();
  if (rc != 0) return 2;
  pthread_detach(t);
  pthread_mutex_lock(&g_mu);
  while (g_started < 1) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  usleep(20000); /* into its wait */
  scrub_stack();
  return 0;
}
