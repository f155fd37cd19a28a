/* Structs freed without their members, each slot then given to a new block of the same
   size that is only partly written: the freed struct's pointer to its member is still in
   the bytes the new block leaves alone, unless the allocator cleared it.
   - 10 records (32 B) whose `payload` (100 B each) is lost when the record is freed;
   - 10 strings of 32 B, allocated right after each free (the same slot under most
     allocators), holding 4 characters and kept in a global array.
   Expected (as valgrind and LeakSanitizer): direct 1000 B in 10 blocks (malloc,
   new_payload); reachable 10 x 32 B (new_label). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct record {
  char name[8];
  char* payload; /* offset 8 */
  long id;
  long flags;
};

char* g_labels[10];

LEAK_FN char* new_payload(void) {
  char* p = malloc(100); /* @payload */
  memset(p, 'p', 100);
  return p;
}

LEAK_FN struct record* new_record(long id) {
  struct record* r = malloc(sizeof *r);
  memcpy(r->name, "record", 7);
  r->payload = new_payload();
  r->id = id;
  r->flags = 0;
  return r;
}

LEAK_FN char* new_label(void) {
  char* s = malloc(sizeof(struct record)); /* @label */
  memcpy(s, "abc", 4);                      /* the rest keeps what was there */
  return s;
}

int main(void) {
  for (long i = 0; i < 10; ++i) {
    struct record* r = new_record(i);
    free(r); /* the payload leaks */
    g_labels[i] = new_label();
  }
  scrub_stack();
  return 0;
}
