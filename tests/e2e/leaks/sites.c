/* Three leak sites in distinct functions, one freed allocation.
   Expected: direct 1400 B in 6 blocks, 3 groups (100 x 1, 200 x 2, 300 x 3), all malloc.
   The "@site_x" markers let the test find the line of each malloc call. */
#include <stdlib.h>

#include "leakprog.h"

LEAK_FN void leak_site_a(void) {
  keep_alloc(malloc(100)); /* @site_a */
}

/* The count is a parameter so -O2 cannot unroll the loop into several call sites. */
LEAK_FN void leak_site_b(int n) {
  for (int i = 0; i < n; i++) keep_alloc(malloc(200)); /* @site_b */
}

LEAK_FN void leak_site_c(int n) {
  for (int i = 0; i < n; i++) keep_alloc(malloc(300)); /* @site_c */
}

LEAK_FN void not_a_leak(void) {
  void* p = malloc(4000);
  keep_alloc(p);
  free(p);
}

int main(void) {
  leak_site_a();
  leak_site_b(2);
  leak_site_c(3);
  not_a_leak();
  scrub_stack();
  return 0;
}
