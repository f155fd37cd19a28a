/* Two leaked nodes pointing at each other, nothing else pointing at them: one is reported
   as the direct leak, the other as indirect (as valgrind does for a cycle).
   Expected: direct 48 B in 1 block, indirect 48 B in 1 block, both calloc from make_node. */
#include <stdlib.h>

#include "leakprog.h"

struct node {
  struct node* next;
  char payload[40];
};

LEAK_FN struct node* make_node(void) {
  struct node* n = calloc(1, sizeof *n);
  keep_alloc(n); /* not a tail call: make_node keeps its frame */
  return n;
}

LEAK_FN void leak_cycle(void) {
  struct node* a = make_node();
  struct node* b = make_node();
  a->next = b;
  b->next = a;
  keep_alloc(a);
}

int main(void) {
  leak_cycle();
  scrub_stack();
  return 0;
}
