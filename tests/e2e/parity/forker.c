/* A server that forks three workers. Every process that ends through exit() writes its
   own report: the parent's and two workers'. The third worker ends with _exit(), which
   runs no exit handlers: mpshim and LeakSanitizer print nothing for it, valgrind still
   checks it (a legitimate difference).
   Parent:   leak_job_table 48 B + leak_in_parent 77 B        = direct 125 B in 2 blocks
   Worker 1: leak_job_table 48 B + leak_in_worker 1 x 200 B   = direct 248 B in 2 blocks
   Worker 2: leak_job_table 48 B + leak_in_worker 2 x 200 B   = direct 448 B in 3 blocks
   Worker 3 (valgrind only): 48 B + 3 x 200 B                 = direct 648 B in 4 blocks
   All malloc, no indirect. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leakprog.h"

LEAK_FN void leak_job_table(void) { keep_alloc(malloc(48)); /* @job_table */ }
LEAK_FN void leak_in_parent(void) { keep_alloc(malloc(77)); /* @parent */ }
LEAK_FN void leak_in_worker(int n) {
  for (int i = 0; i < n; i++) keep_alloc(malloc(200)); /* @worker */
}

LEAK_FN void worker(int k) {
  leak_in_worker(k);
  scrub_stack();
  if (k == 3) _exit(0);
  exit(0);
}

int main(void) {
  leak_job_table();
  scrub_stack();
  pid_t kids[3];
  for (int k = 1; k <= 3; k++) {
    kids[k - 1] = fork();
    if (kids[k - 1] < 0) return 2;
    if (kids[k - 1] == 0) worker(k);
  }
  int bad = 0;
  for (int k = 0; k < 3; k++) {
    int status = 0;
    if (waitpid(kids[k], &status, 0) != kids[k] || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
      bad++;
  }
  leak_in_parent();
  scrub_stack();
  return bad;
}
