/* Zero-byte blocks (malloc(0), an empty array's buffer): a pointer to one's address is a
   reference to it, also under MPSHIM_CHECK=full, where a redzone lies before every block.
   - one kept in a global, and one in a record kept in a global: reachable;
   - one whose pointer is dropped, and a record (24 B) lost with the one it holds.
   Expected (as valgrind): direct 24 B in 2 blocks (lose_empty 0 B, lose_record 24 B),
   indirect 0 B in 1 (new_empty); reachable 24 B in 1 (new_record) and 0 B in 2. */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct record {
  char* items;
  long count;
  long cap;
};

char* g_empty;
struct record* g_record;

LEAK_FN char* new_empty(void) {
  char* p = malloc(0); /* @empty */
  keep_alloc(p);        /* not a tail call */
  return p;
}

LEAK_FN struct record* new_record(void) {
  struct record* r = malloc(sizeof *r); /* @record */
  r->items = new_empty();
  r->count = 0;
  r->cap = 0;
  return r;
}

LEAK_FN void lose_empty(void) {
  keep_alloc(malloc(0)); /* @lose_empty */
}

LEAK_FN void lose_record(void) {
  keep_alloc(new_record()); /* @lose_record */
}

int main(void) {
  g_empty = new_empty();
  g_record = new_record();
  lose_empty();
  lose_record();
  scrub_stack();
  return 0;
}
