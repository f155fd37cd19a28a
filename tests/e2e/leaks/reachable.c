/* Memory still referenced from globals at exit: reachable, never reported as a leak.
   Expected: no direct or indirect leak; reachable 699 B in 3 blocks, 3 groups, malloc:
   keep_block 555 B, keep_chain 64 B (the head, in a global) and 80 B (its next). */
#include <stdlib.h>

#include "leakprog.h"

struct head {
  void* next;
  char payload[56];
};

void* g_block;
struct head* g_chain;

LEAK_FN void keep_block(void) {
  g_block = malloc(555);
  keep_alloc(g_block);
}

LEAK_FN void keep_chain(void) {
  g_chain = malloc(sizeof(struct head));
  g_chain->next = malloc(80);
  keep_alloc(g_chain);
}

int main(void) {
  keep_block();
  keep_chain();
  scrub_stack();
  return 0;
}
