/* Leaks at the bottom of recursions 40 and 1,000 frames deep. The stack recorded is capped
   at MPSHIM_STACK_DEPTH; every descent uses the same call sites, so each depth is one group.
   Expected: direct 2699 B in 5 blocks, 2 groups: 77 B x 3 (depth 40), 1234 B x 2 (1,000). */
#include <stdlib.h>

#include "leakprog.h"

static volatile int frames_left;

LEAK_FN void leak_bottom_40(void) { keep_alloc(malloc(77)); }
LEAK_FN void leak_bottom_1000(void) { keep_alloc(malloc(1234)); }

/* The store after the call keeps it from being a tail call, so every level is a frame. */
LEAK_FN void descend_40(int n) {
  if (n <= 1)
    leak_bottom_40();
  else
    descend_40(n - 1);
  frames_left = n;
}

LEAK_FN void descend_1000(int n) {
  if (n <= 1)
    leak_bottom_1000();
  else
    descend_1000(n - 1);
  frames_left = n;
}

/* Counts are parameters so -O2 cannot unroll the loops into several call sites. */
LEAK_FN void repeat(void (*descend)(int), int depth, int times) {
  for (int i = 0; i < times; i++) descend(depth);
}

int main(void) {
  repeat(descend_40, 40, 3);
  repeat(descend_1000, 1000, 2);
  scrub_stack();
  return 0;
}
