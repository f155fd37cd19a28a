// A big private mapping and a big block, each written on a few pages only, as a runtime's
// reserved heap (sbcl maps 1 GiB) and a buffer sized for the worst case are. The leak check
// must not read the untouched pages (each read faults a page in: 1 GiB took a second), and
// must still find the pointers on the written ones. Prints the page faults that
// mpshim_leak_check() took, then exits with one 100-byte block leaked.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "mpshim.h"

enum { kMiB = 1 << 20, kSize = 256 * kMiB };

static char* volatile g_block;  // keeps the big block reachable

static long minor_faults(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return u.ru_minflt;
}

__attribute__((noinline)) static void lose(void) {
  void* volatile p = malloc(100);
  p = NULL;
  (void)p;
}

int main(void) {
  char* map = mmap(NULL, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  char* block = malloc(kSize);
  if (map == MAP_FAILED || block == NULL) return 2;
  // The only pointers to two blocks, each on a page in the middle of untouched memory.
  *(void**)(map + kSize / 2) = malloc(24);
  *(void**)(block + kSize / 2) = malloc(40);
  g_block = block;
  lose();
  if (mpshim_leak_check == NULL) return 3;
  long before = minor_faults();
  mpshim_leak_check();
  printf("faults %ld\n", minor_faults() - before);
  return 0;
}
