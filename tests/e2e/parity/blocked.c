/* Threads still busy when main returns: blocked in read() on a pipe nobody writes to, in
   poll(), in nanosleep() and in pthread_cond_wait(), and one computing. Each one holds a
   buffer it will use later (reachable: its stack and registers are roots) and leaked a
   32-byte name on the way (direct; its last copies lie in returned frames below the
   thread's stack pointer). main leaks nothing itself.
   Expected: direct 160 B in 5 blocks (malloc, thread_name, one per thread); reachable
   512 + 256 + 128 + 64 + 1024 B (buffer) held by the five threads. */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leakprog.h"

static int g_pipe[2];
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static int g_started;

LEAK_FN char* thread_name(const char* role) {
  char* name = malloc(32); /* @thread_name */
  snprintf(name, 32, "worker-%s", role);
  return name; /* the bug: never freed */
}

LEAK_FN char* buffer(size_t n) {
  char* b = malloc(n); /* @buffer */
  memset(b, 0, n);
  return b;
}

static void started(void) {
  pthread_mutex_lock(&g_mu);
  g_started++;
  pthread_cond_broadcast(&g_cv);
  pthread_mutex_unlock(&g_mu);
}

static void* reader(void* arg) {
  (void)arg;
  thread_name("reader");
  char* buf = buffer(512);
  started();
  ssize_t n = read(g_pipe[0], buf, 512);
  free(buf);
  return (void*)n;
}

static void* poller(void* arg) {
  (void)arg;
  thread_name("poller");
  char* conn = buffer(256);
  started();
  struct pollfd p = {g_pipe[0], POLLIN, 0};
  int n = poll(&p, 1, -1);
  free(conn);
  return (void*)(long)n;
}

static void* sleeper(void* arg) {
  (void)arg;
  thread_name("sleeper");
  char* state = buffer(128);
  started();
  struct timespec ts = {3600, 0};
  nanosleep(&ts, NULL);
  free(state);
  return NULL;
}

LEAK_FN unsigned long mix(unsigned long x, int n) {
  for (int i = 0; i < n; i++) x = x * 6364136223846793005ul + 1442695040888963407ul;
  return x;
}

static volatile unsigned long g_sum;

/* Keeps its settings in a local table, its name among them: the name leaks, and its last
   copy stays in the table's dead stack slot while the thread computes. */
LEAK_FN int configure(const char* role) {
  const char* volatile settings[32];
  settings[0] = thread_name(role);
  for (int i = 1; i < 32; i++) settings[i] = role;
  int n = 0;
  for (int i = 0; i < 32; i++) n += settings[i][0];
  return n;
}

static void* computer(void* arg) {
  (void)arg;
  unsigned char* samples = (unsigned char*)buffer(1024);
  started();
  configure("computer");
  for (unsigned long i = 0;; i++) g_sum += mix(g_sum, 1000) + samples[i % 1024];
  return NULL;
}

static void* waiter(void* arg) {
  (void)arg;
  thread_name("waiter");
  char* job = buffer(64);
  pthread_mutex_lock(&g_mu);
  g_started++;
  pthread_cond_broadcast(&g_cv);
  while (g_started < 100) pthread_cond_wait(&g_cv, &g_mu); /* never true */
  pthread_mutex_unlock(&g_mu);
  free(job);
  return NULL;
}

int main(void) {
  if (pipe(g_pipe) != 0) return 2;
  void* (*fns[])(void*) = {reader, poller, sleeper, waiter, computer};
  for (int i = 0; i < 5; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, fns[i], NULL) != 0) return 2;
    pthread_detach(t);
  }
  pthread_mutex_lock(&g_mu);
  while (g_started < 5) pthread_cond_wait(&g_cv, &g_mu);
  pthread_mutex_unlock(&g_mu);
  usleep(50000); /* into their blocking calls */
  scrub_stack();
  return 0;
}
