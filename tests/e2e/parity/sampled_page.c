/* A block that takes over the page of a freed one finds that page's old bytes. Under
   MPSHIM_CHECK=sample with MPSHIM_SAMPLE_RATE=1 every block lies at the end of its own page,
   and once the slots are full a new one takes the page of the block freed longest ago:
   here a request (2000 B) freed with pointers to two payloads, 800 and 1600 bytes in. The
   labels made after it (1000 B, 6 bytes written) start 1000 bytes before the page's end:
   the first pointer lies before a label, the second inside it.
   Expected (as valgrind and LeakSanitizer): direct 200 B in 2 blocks (new_payload);
   reachable 40 x 1000 B (new_label) in a global array. */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

char* g_labels[40];

LEAK_FN char* new_payload(void) {
  char* p = malloc(100); /* @payload */
  memset(p, 'p', 100);
  return p;
}

LEAK_FN char** new_request(void) {
  char** r = malloc(2000);
  memset(r, 0, 2000);
  r[100] = new_payload();
  r[200] = new_payload();
  return r;
}

LEAK_FN char* new_label(void) {
  char* s = malloc(1000); /* @label */
  memcpy(s, "label", 6); /* the rest keeps what was there */
  return s;
}

int main(void) {
  free(new_request()); /* the payloads leak */
  for (int i = 0; i < 40; ++i) g_labels[i] = new_label();
  scrub_stack();
  return 0;
}
