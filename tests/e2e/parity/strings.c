/* Strings built by libc and never freed: asprintf, strdup, strndup, and getline, whose
   buffer is allocated even by the call that hits end of file.
   Expected: direct 526 B in 7 blocks, no indirect:
     asprintf  "hello, world! you are 42"        25 B (malloc inside libc, greet)
     strdup    "a-config-value"                  15 B (malloc inside libc, remember)
     strndup   "abcdefghij", 5                    6 B (malloc inside libc, prefix)
     getline   4 x 120 B (3 lines kept, plus the buffer of the last call at EOF)
               (malloc inside libc, read_lines). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

LEAK_FN void greet(const char* name, int n) {
  char* s = NULL;
  if (asprintf(&s, "hello, %s! you are %d", name, n) < 0) return; /* @asprintf */
  keep_alloc(s);
}

LEAK_FN void remember(const char* v) { keep_alloc(strdup(v)); /* @strdup */ }

LEAK_FN void prefix(const char* v, size_t n) { keep_alloc(strndup(v, n)); /* @strndup */ }

LEAK_FN int read_lines(FILE* f) {
  char* lines[8];
  int n = 0;
  for (;;) {
    char* line = NULL;
    size_t cap = 0;
    if (getline(&line, &cap, f) < 0) break; /* @getline: leaks at EOF too */
    lines[n++] = line;
  }
  keep_alloc(lines);
  return n;
}

int main(void) {
  static char text[] = "alpha=1\nbeta=2\ngamma=3\n";
  greet("world", 42);
  remember("a-config-value");
  prefix("abcdefghij", 5);
  FILE* f = fmemopen(text, strlen(text), "r");
  if (!f) return 2;
  int n = read_lines(f);
  fclose(f);
  scrub_stack();
  return n == 3 ? 0 : 3;
}
