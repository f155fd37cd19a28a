/* A program that frees all it allocates but uses libc functions that keep memory of
   their own for the life of the process: setlocale, localtime (time zone data), getpwuid
   (NSS), strtok, qsort, stdio on stdout and an fopen/fclose pair. None of that is the
   program's leak. Expected: no direct or indirect leak. */
#include <locale.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "leakprog.h"

static int cmp(const void* a, const void* b) { return *(const int*)a - *(const int*)b; }

LEAK_FN int count_tokens(const char* text) {
  char* copy = strdup(text);
  int n = 0;
  for (char* t = strtok(copy, ",; "); t; t = strtok(NULL, ",; ")) n++;
  free(copy);
  return n;
}

LEAK_FN int sorted(int n) {
  int* v = malloc(n * sizeof *v);
  for (int i = 0; i < n; i++) v[i] = (i * 7919) % n;
  qsort(v, n, sizeof *v, cmp);
  int ok = v[0] == 0 && v[n - 1] == n - 1;
  free(v);
  return ok;
}

int main(void) {
  setlocale(LC_ALL, "C.UTF-8");
  time_t t = 86400 * 365;
  struct tm* tm = localtime(&t);
  struct passwd* pw = getpwuid(getuid());
  char when[64];
  strftime(when, sizeof when, "%c", tm);
  printf("%s %s %d %d\n", when, pw ? pw->pw_name : "?", count_tokens("a,b; c d,,e"),
         sorted(100000));
  FILE* f = fopen("/proc/self/stat", "r");
  if (f) {
    char line[256];
    if (fgets(line, sizeof line, f)) printf("%.8s\n", line);
    fclose(f);
  }
  scrub_stack();
  return 0;
}
