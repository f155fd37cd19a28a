/* Leaks made before main, in the program's constructor (a registry set up early and then
   dropped), and after it, in a destructor function; main returns. The constructor runs
   from __libc_start_main on the stack that __libc_start_call_main's frame (which calls
   main, then exit) takes over later, and leaves copies of the block's address there: that
   frame holds nothing live of the program's once main has returned.
   Expected (as valgrind and LeakSanitizer): direct 44 B in 2 blocks: early_registry 20 B
   (malloc, in the constructor), late_record 24 B (malloc, in the destructor). */
#include <stdlib.h>

#include "leakprog.h"

LEAK_FN void* early_registry(void) {
  void* p = malloc(20); /* @early */
  keep_alloc(p);
  return p;
}

LEAK_FN void* late_record(void) {
  void* p = malloc(24); /* @late */
  keep_alloc(p);
  return p;
}

/* Files the registry under several names in a table on its stack, then drops it. */
__attribute__((constructor)) static void setup(void) {
  void* names[32];
  void* r = early_registry();
  for (int i = 0; i < 32; ++i) names[i] = r;
  __asm__ volatile("" : : "r"(names) : "memory");
}

__attribute__((destructor)) static void teardown(void) {
  keep_alloc(late_record());
  scrub_stack();
}

int main(void) {
  scrub_stack();
  return 0;
}
