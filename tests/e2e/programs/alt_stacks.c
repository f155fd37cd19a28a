// Threads with alternate signal stacks of their own, as varnish's workers have for their
// SIGSEGV handler (varnish gives them all one stack, which only a crash ever uses). The
// leak check asks every thread for its registers with a signal: its handler must run on
// the thread's own stack, never on an alternate one, which may be shared by threads that
// answer at once, or unusable. Each stack is filled with a pattern; after
// mpshim_leak_check() (the same check as at exit) every byte must still hold it.
// Prints how many stacks were written to and exits 1 when any was.
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpshim.h"

enum { kThreads = 8, kStack = 64 * 1024, kPattern = 0xab };

static unsigned char* g_stacks[kThreads];
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
static int g_ready, g_done;

static void* worker(void* arg) {
  stack_t ss = {.ss_sp = arg, .ss_size = kStack, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) abort();
  pthread_mutex_lock(&g_lock);
  ++g_ready;
  pthread_cond_broadcast(&g_cond);
  while (!g_done) pthread_cond_wait(&g_cond, &g_lock);  // a futex wait: it is asked
  pthread_mutex_unlock(&g_lock);
  return NULL;
}

int main(void) {
  pthread_t t[kThreads];
  for (int i = 0; i < kThreads; ++i) {
    g_stacks[i] = malloc(kStack);
    memset(g_stacks[i], kPattern, kStack);
    pthread_create(&t[i], NULL, worker, g_stacks[i]);
  }
  pthread_mutex_lock(&g_lock);
  while (g_ready < kThreads) pthread_cond_wait(&g_cond, &g_lock);
  pthread_mutex_unlock(&g_lock);
  if (mpshim_leak_check) mpshim_leak_check();
  int used = 0;
  for (int i = 0; i < kThreads; ++i)
    for (size_t k = 0; k < kStack; ++k)
      if (g_stacks[i][k] != kPattern) {
        ++used;
        break;
      }
  pthread_mutex_lock(&g_lock);
  g_done = 1;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
  for (int i = 0; i < kThreads; ++i) pthread_join(t[i], NULL);
  for (int i = 0; i < kThreads; ++i) free(g_stacks[i]);
  printf("alternate stacks written: %d\n", used);
  return used != 0;
}
