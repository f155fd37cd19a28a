/* A coroutine's stack in a heap block, its lowest page made inaccessible as a guard (as
   coroutine and green-thread libraries do), still protected at exit. The words above the
   guard hold the only pointers to three live records, as a suspended coroutine's frames
   would; the check must read around the guard page, not fault on it.
   Expected: direct 40 B in 1 block (lose_request); the stack (64 KiB, posix_memalign) and
   its three 24-byte records reachable. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leakprog.h"

enum { kStack = 64 * 1024 };

struct coroutine {
  char* stack;
};

static struct coroutine g_co;

LEAK_FN void* new_record(int id) {
  int* r = malloc(24); /* @record */
  memset(r, 'r', 24);
  r[0] = id;
  return r;
}

LEAK_FN void lose_request(void) {
  void* p = malloc(40); /* @lose_request */
  memset(p, 'q', 40);
  keep_alloc(p);
}

int main(void) {
  long page = sysconf(_SC_PAGESIZE);
  if (posix_memalign((void**)&g_co.stack, (size_t)page, kStack) != 0) /* @stack */
    return 1;
  memset(g_co.stack, 0, kStack);
  /* The frames of the suspended coroutine, at the top of its stack. */
  void** frames = (void**)(g_co.stack + kStack - 256);
  for (int i = 0; i < 3; ++i) frames[i * 5] = new_record(i);
  if (mprotect(g_co.stack, (size_t)page, PROT_NONE) != 0) return 1;
  lose_request();
  scrub_stack();
  return 0;
}
