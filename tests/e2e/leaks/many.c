/* A million leaked objects from one site plus N_SITES leaks from distinct functions.
   Argument: "sites" or "million" runs only that part; none runs both.
   Expected (both): direct MILLION_COUNT * MILLION_BYTES + sum of SITE_BYTES(i) bytes in
   MILLION_COUNT + N_SITES blocks, 1 + N_SITES groups, all malloc (see many.h). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"
#include "many.h"

extern void (*const leak_sites[])(void);

LEAK_FN void leak_a_million(void) {
  for (int i = 0; i < MILLION_COUNT; i++) keep_alloc(malloc(MILLION_BYTES));
}

int main(int argc, char** argv) {
  const char* part = argc > 1 ? argv[1] : "";
  if (strcmp(part, "sites") != 0) leak_a_million();
  if (strcmp(part, "million") != 0)
    for (int i = 0; i < N_SITES; i++) leak_sites[i]();
  scrub_stack();
  return 0;
}
