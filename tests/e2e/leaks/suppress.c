/* Three leak sites, two of them matched by suppress.supp.
   Expected without suppressions: direct 8100 B in 4 blocks. With suppress.supp:
   direct 100 B in 1 block (keep_reported), suppressed 8000 B in 3 blocks
   (suppressed_exact_site 2000 B x 1, wild_supp_site 3000 B x 2). */
#include <stdlib.h>

#include "leakprog.h"

LEAK_FN void keep_reported(void) { keep_alloc(malloc(100)); }
LEAK_FN void suppressed_exact_site(void) { keep_alloc(malloc(2000)); }
LEAK_FN void wild_supp_site(int n) { /* n: no unrolling into two call sites */
  for (int i = 0; i < n; i++) keep_alloc(malloc(3000));
}

int main(void) {
  keep_reported();
  suppressed_exact_site();
  wild_supp_site(2);
  scrub_stack();
  return 0;
}
