/* Structs freed without their members, each slot then given to a new block of the same
   size that is only partly written: the freed struct's pointer to its member is still in
   the bytes the new block leaves alone, unless the allocator cleared it.
   - 10 records (32 B) whose `payload` (100 B each) is lost when the record is freed;
   - 10 strings of 32 B, allocated right after each free (the same slot under most
     allocators), holding 4 characters and kept in a global array;
   - the same once with a 1024-byte record whose pointer to its 200-byte blob lies 600
     bytes in (past what the memory checks fill with their pattern).
   Expected (as valgrind and LeakSanitizer): direct 1200 B in 11 blocks (malloc: 10 x 100 B
   new_payload, 200 B new_blob); reachable 10 x 32 B (new_label) and 1024 B (new_page). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct record {
  char name[8];
  char* payload; /* offset 8 */
  long id;
  long flags;
};

struct big_record {
  char header[600];
  char* blob; /* offset 600 */
  char rest[416];
};

char* g_labels[10];
char* g_page;

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

LEAK_FN char* new_blob(void) {
  char* p = malloc(200); /* @blob */
  memset(p, 'b', 200);
  return p;
}

LEAK_FN char* new_page(void) {
  char* s = malloc(sizeof(struct big_record)); /* @page */
  memcpy(s, "abc", 4);
  return s;
}

int main(void) {
  for (long i = 0; i < 10; ++i) {
    struct record* r = new_record(i);
    free(r); /* the payload leaks */
    g_labels[i] = new_label();
  }
  struct big_record* b = malloc(sizeof *b);
  memset(b, 0, sizeof *b);
  b->blob = new_blob();
  free(b); /* the blob leaks */
  g_page = new_page();
  scrub_stack();
  return 0;
}
