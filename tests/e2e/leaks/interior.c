/* A block referenced at exit only through a pointer into its middle. LeakSanitizer counts
   interior pointers as references (reachable); valgrind reports the block as "possibly
   lost". Expected: no direct or indirect leak; reachable 1000 B in 1 block (keep_interior). */
#include <stdlib.h>

#include "leakprog.h"

char* g_inside;

LEAK_FN void keep_interior(void) {
  char* p = malloc(1000);
  g_inside = p + 100;
  keep_alloc(p);
}

int main(void) {
  keep_interior();
  scrub_stack();
  return 0;
}
