/* A worker thread that fails and calls exit(3) while main waits in pthread_join. The
   worker had leaked a parse error message (pointer overwritten); main's frame still holds
   the job it handed to the worker (reachable: main is alive, blocked in the join).
   Expected: exit status 3; direct 40 B in 1 block (malloc, parse_error); reachable the
   96 B job (malloc, new_job) and the second message (40 B, parse_error). glibc's
   per-thread memory (the exiting thread's dynamic thread vector) is never reported. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "leakprog.h"

struct job {
  char* error;
  char input[88];
};

LEAK_FN struct job* new_job(void) {
  struct job* j = malloc(sizeof *j); /* @new_job */
  j->error = NULL;
  snprintf(j->input, sizeof j->input, "key = ");
  return j;
}

LEAK_FN void parse_error(struct job* j, int line) {
  j->error = malloc(40); /* @parse_error */
  snprintf(j->error, 40, "line %d: missing value", line);
}

static void* worker(void* arg) {
  struct job* j = arg;
  parse_error(j, 1);
  parse_error(j, 2); /* the first message is lost */
  fprintf(stderr, "%s\n", j->error);
  exit(3);
}

int main(void) {
  struct job* j = new_job();
  pthread_t t;
  if (pthread_create(&t, NULL, worker, j) != 0) return 2;
  pthread_join(t, NULL);
  free(j);
  return 0;
}
