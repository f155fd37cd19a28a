/* One leak per allocation function. Expected: direct 7857 B in 6 blocks, 6 groups:
   calloc 330, posix_memalign 640, aligned_alloc 1280, memalign 2560, valloc 3000,
   malloc 47 (from strdup, inside libc). */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

LEAK_FN void leak_calloc(void) { keep_alloc(calloc(10, 33)); }

LEAK_FN void leak_posix_memalign(void) {
  void* p = NULL;
  if (posix_memalign(&p, 64, 640) == 0) keep_alloc(p);
}

LEAK_FN void leak_aligned_alloc(void) { keep_alloc(aligned_alloc(128, 1280)); }

LEAK_FN void leak_memalign(void) { keep_alloc(memalign(256, 2560)); }

LEAK_FN void leak_valloc(void) { keep_alloc(valloc(3000)); }

LEAK_FN void leak_strdup(void) {
  keep_alloc(strdup("a string of forty-six characters, not counted!"));
}

int main(void) {
  leak_calloc();
  leak_posix_memalign();
  leak_aligned_alloc();
  leak_memalign();
  leak_valloc();
  leak_strdup();
  scrub_stack();
  return 0;
}
