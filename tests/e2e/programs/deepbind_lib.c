/* Opened by `deepbind` with RTLD_DEEPBIND: its malloc, realloc and free are those the
 * dynamic linker binds for it. */
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) void deepbind_leak(void) {
  char* volatile p = malloc(4321);
  memset(p, 'l', 4321);
  p = NULL;
}

__attribute__((visibility("default"))) char* deepbind_make(size_t n) {
  char* p = malloc(n);
  memset(p, 'd', n);
  return p;
}

__attribute__((visibility("default"))) char* deepbind_grow(char* p, size_t n) {
  return realloc(p, n);
}

__attribute__((visibility("default"))) void deepbind_take(char* p) { free(p); }
