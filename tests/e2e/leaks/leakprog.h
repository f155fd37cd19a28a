/* Shared by the leak test programs. Every leak site is its own never-inlined, never-cloned
   function whose allocation can be neither optimised away nor turned into a tail call, so
   its frame and name survive at -O0 and -O2. */
#pragma once
#include <string.h>

#define LEAK_FN __attribute__((noinline, noipa))

/* Makes the compiler treat `p` as used without storing it anywhere. */
static inline void keep_alloc(void* p) { __asm__ volatile("" : : "r"(p)); }

/* Zeroes dead stack below the caller, so no stale copy of a leaked pointer is still found
   by the conservative scan at exit (valgrind and mpshim both scan stacks). */
static LEAK_FN __attribute__((unused)) void scrub_stack(void) {
  char buf[32768];
  memset(buf, 0, sizeof buf);
  __asm__ volatile("" : : "r"(buf) : "memory");
}
