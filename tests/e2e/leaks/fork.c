/* Different leaks in parent and child; both write a report at exit.
   Parent: leak_before_fork 33 B + leak_in_parent 111 B = direct 144 B in 2 blocks.
   Child:  leak_before_fork 33 B + leak_in_child 2 x 222 B = direct 477 B in 3 blocks. */
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leakprog.h"

LEAK_FN void leak_before_fork(void) { keep_alloc(malloc(33)); }
LEAK_FN void leak_in_parent(void) { keep_alloc(malloc(111)); }
/* The count is a parameter so -O2 cannot unroll the loop into two call sites. */
LEAK_FN void leak_in_child(int n) {
  for (int i = 0; i < n; i++) keep_alloc(malloc(222));
}

int main(void) {
  leak_before_fork();
  scrub_stack();
  pid_t child = fork();
  if (child < 0) return 2;
  if (child == 0) {
    leak_in_child(2);
    scrub_stack();
    exit(0);
  }
  leak_in_parent();
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status)) return 3;
  scrub_stack();
  return WEXITSTATUS(status) == 0 ? 0 : 4;
}
