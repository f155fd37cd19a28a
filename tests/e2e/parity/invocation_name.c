/* A program that renames itself as redis's setproctitle does: copies of its names, kept in
   glibc's program_invocation_name and program_invocation_short_name, and one lost record.
   The names stay reachable: the leak check at exit runs after the libraries' destructors
   and must not bring a library in then (a dlopen after them runs libc's constructor
   again, which points the names back at argv[0]).
   Expected (as valgrind): direct 40 B in 1 (lose_record); reachable the two names. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

LEAK_FN char* copy_name(const char* name) {
  char* p = strdup(name); /* @name */
  keep_alloc(p);
  return p;
}

LEAK_FN void lose_record(void) {
  keep_alloc(malloc(40)); /* @record */
}

int main(void) {
  program_invocation_name = copy_name(program_invocation_name);
  program_invocation_short_name = copy_name(program_invocation_short_name);
  lose_record();
  scrub_stack();
  return 0;
}
