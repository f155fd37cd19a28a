/* main ends with pthread_exit while its worker goes on; when the worker returns, the last
   thread, the process ends with exit(0). By then the main thread is a zombie, whose
   /proc/self/maps reads empty and whose /proc/self/exe names nothing: the check reads the
   worker's own view (/proc/thread-self), or it would scan no global and name no frame.
   Expected (as valgrind): direct 64 B in 1 block (lose_block); the worker's 70-byte block
   in a global and stdout's buffer reachable. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "leakprog.h"

void* volatile g_keep;

LEAK_FN void lose_block(void) { keep_alloc(malloc(64)); /* @lose_block */ }

/* True once the main thread has ended: its state in /proc/PID/stat is Z. */
static int main_ended(void) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)getpid());
  FILE* f = fopen(path, "r");
  if (f == NULL) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char* end = strrchr(buf, ')');
  return end != NULL && end[1] == ' ' && end[2] == 'Z';
}

static void* worker(void* arg) {
  (void)arg;
  for (int i = 0; i < 10000 && !main_ended(); i++) usleep(1000);
  g_keep = malloc(70); /* @keep */
  lose_block();
  scrub_stack();
  printf("worker done\n");
  return NULL;
}

int main(void) {
  pthread_t t;
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 1;
  pthread_exit(NULL);
}
