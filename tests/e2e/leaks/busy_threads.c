/* main returns while other threads go on: two allocate and free in a loop from their
   thread caches (their live blocks in arrays in their frames), one moves an array of 8
   blocks that a global points to with realloc, over and over, one waits in sem_timedwait
   and one in recv on a socket with a receive timeout, each a minute away.
   Direct: leak_in_main 64 B, leak_in_churner 2 x 32 B (128 B in 3 blocks); the churners'
   blocks and the array's are reachable, whatever they free or move while the check runs. Neither waiting call may
   fail with EINTR (a line on stdout says so if one does). */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "leakprog.h"

static volatile int g_ready;

LEAK_FN void leak_in_main(void) { keep_alloc(malloc(64)); }
LEAK_FN void leak_in_churner(void) { keep_alloc(malloc(32)); }

static void* churn(void* arg) {
  leak_in_churner();
  scrub_stack();
  unsigned long x = (unsigned long)arg;
  void* volatile slots[64] = {0};
  __sync_fetch_and_add(&g_ready, 1);
  for (;;) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    unsigned k = (unsigned)(x >> 33) & 63;
    void* old = slots[k];
    slots[k] = malloc(16 + ((x >> 40) & 1023));
    free(old);
  }
  return NULL;
}

static void** volatile g_array;

static void* resize(void* arg) {
  (void)arg;
  g_array = calloc(8, sizeof(void*));
  for (int i = 0; i < 8; ++i) g_array[i] = malloc(100);
  __sync_fetch_and_add(&g_ready, 1);
  for (size_t n = 0;; ++n) g_array = realloc(g_array, (n & 1) != 0 ? 4096 : 8 * sizeof(void*));
  return NULL;
}

static sem_t g_sem;
static void* wait_sem(void* arg) {
  (void)arg;
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += 60;
  __sync_fetch_and_add(&g_ready, 1);
  if (sem_timedwait(&g_sem, &deadline) != 0 && errno == EINTR) {
    printf("sem_timedwait: EINTR\n");
    fflush(stdout);
  }
  return NULL;
}

static int g_socks[2];
static void* wait_recv(void* arg) {
  (void)arg;
  struct timeval tv = {60, 0};
  setsockopt(g_socks[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  char c;
  __sync_fetch_and_add(&g_ready, 1);
  if (recv(g_socks[0], &c, 1, 0) < 0 && errno == EINTR) {
    printf("recv: EINTR\n");
    fflush(stdout);
  }
  return NULL;
}

int main(void) {
  sem_init(&g_sem, 0, 0);
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, g_socks) != 0) return 2;
  pthread_t t;
  pthread_create(&t, NULL, churn, (void*)1);
  pthread_create(&t, NULL, churn, (void*)2);
  pthread_create(&t, NULL, resize, NULL);
  pthread_create(&t, NULL, wait_sem, NULL);
  pthread_create(&t, NULL, wait_recv, NULL);
  leak_in_main();
  scrub_stack();
  while (g_ready < 5) usleep(1000);
  usleep(50000);  // the waiting threads are in their calls
  return 0;
}
