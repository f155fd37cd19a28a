/* Realloc chains: only the last block of each chain leaks, with its last requested size.
   Expected: direct 5024 B in 2 blocks, 2 groups, both realloc: 5000 B (grown) and 24 B
   (shrunk from 4000 B, possibly in place). */
#include <stdlib.h>

#include "leakprog.h"

LEAK_FN void leak_grown_chain(void) {
  char* p = malloc(10);
  p[0] = 1;
  p = realloc(p, 100);
  p[99] = 1;
  p = realloc(p, 1000);
  p[999] = 1;
  p = realloc(p, 5000);
  keep_alloc(p);
}

LEAK_FN void leak_shrunk_chain(void) {
  char* p = malloc(4000);
  p[3999] = 1;
  p = realloc(p, 24);
  keep_alloc(p);
}

int main(void) {
  leak_grown_chain();
  leak_shrunk_chain();
  scrub_stack();
  return 0;
}
