/* Blocks grown by realloc into slots that still hold a freed struct's pointer: the bytes
   past the old size are new and indeterminate, and the freed struct's pointer to its member
   is still there unless the allocator cleared them.
   - 10 records (112 B) whose `payload` (100 B each, pointed at from offset 64) is lost when
     the record is freed;
   - after each free, a 16-byte string grown with realloc to 120 B (the freed record's slot
     under mpshim's size classes), holding 15 characters, kept in a global array.
   Expected (as valgrind and LeakSanitizer): direct 1000 B in 10 blocks (malloc,
   new_payload); reachable 10 x 120 B (realloc, grow_label). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct record {
  char name[64];
  char* payload; /* offset 64 */
  char rest[40];
};

char* g_labels[10];

LEAK_FN char* new_payload(void) {
  char* p = malloc(100); /* @payload */
  memset(p, 'p', 100);
  return p;
}

LEAK_FN struct record* new_record(void) {
  struct record* r = malloc(sizeof *r);
  memset(r, 0, sizeof *r);
  memcpy(r->name, "record", 7);
  r->payload = new_payload();
  return r;
}

LEAK_FN char* grow_label(void) {
  char* s = malloc(16);
  memcpy(s, "abcdefghijklmno", 16);
  char* n = realloc(s, 120); /* @label; the rest keeps what was there */
  n[15] = '\0';                /* not a tail call: this frame stays in the stack */
  return n;
}

int main(void) {
  for (int i = 0; i < 10; ++i) {
    struct record* r = new_record();
    free(r); /* the payload leaks */
    g_labels[i] = grow_label();
  }
  scrub_stack();
  return 0;
}
