/* One leaked block of every size class of the allocator (16 to 128 B in steps of 16, then
   four sizes per doubling up to 1 MiB) and of three large sizes, each allocated between two
   blocks of the same size that stay reachable as [begin, end) pairs, the way stdio keeps its
   buffers and a full vector its storage. The end of a neighbour that fills its block exactly
   may be the leaked block's start; it must not count as a pointer to it (valgrind's
   redzones and LeakSanitizer's chunk headers keep the two apart).
   Expected: direct 31,981,313 B in 63 blocks, all at leak_one (malloc): the 60 class sizes
   (6,815,488 B) and 1 MiB + 1, 3 MiB and 20 MiB; the neighbours and stdout's buffer are
   reachable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct range {
  char* begin;
  char* end;
};

static struct range g_kept[2 * 64];

static size_t class_size(unsigned c) {
  if (c <= 8) return 16 * c;
  unsigned b = 7 + (c - 9) / 4, k = (c - 9) % 4 + 1;
  return ((size_t)1 << b) + k * ((size_t)1 << (b - 2));
}

LEAK_FN void keep(unsigned i, size_t n) {
  char* p = malloc(n);
  memset(p, 'k', n);
  g_kept[i].begin = p;
  g_kept[i].end = p + n;
}

LEAK_FN void leak_one(size_t n) {
  char* p = malloc(n); /* @leak */
  memset(p, 'l', n);
  keep_alloc(p);
}

LEAK_FN unsigned list_sizes(size_t* sizes) {
  unsigned n = 0;
  for (unsigned c = 1; c <= 60; ++c) sizes[n++] = class_size(c);
  sizes[n++] = (1u << 20) + 1;
  sizes[n++] = 3u << 20;
  sizes[n++] = 20u << 20;
  return n;
}

int main(void) {
  size_t sizes[64];
  unsigned count = list_sizes(sizes), i = 0;
  for (unsigned k = 0; k < count; ++k) {  /* one call site, so one group */
    keep(i++, sizes[k]);
    leak_one(sizes[k]);
    keep(i++, sizes[k]);
  }
  printf("%u blocks kept\n", i);
  scrub_stack();
  return 0;
}
