/* Realloc chains: only the last block of each chain leaks, with its last requested size.
   Expected: direct 705024 B in 3 blocks, 3 groups, all realloc: 5000 B (grown), 24 B
   (shrunk from 4000 B, possibly in place) and 700000 B (grown from 20000 B, mostly in
   place). */
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

LEAK_FN void leak_big_chain(void) {
  char* p = malloc(20000);
  p[19999] = 1;
  p = realloc(p, 30000);
  p[29999] = 1;
  p = realloc(p, 100000);
  p[99999] = 1;
  p = realloc(p, 700000);
  p[699999] = 1;
  keep_alloc(p);
}

int main(void) {
  leak_grown_chain();
  leak_shrunk_chain();
  leak_big_chain();
  scrub_stack();
  return 0;
}
