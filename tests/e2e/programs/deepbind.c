/* Opens libe2e_deepbind.so with RTLD_DEEPBIND, as PHP opens its extensions, by a name
 * relative to its own directory ($ORIGIN, which glibc expands for the caller of dlopen), and
 * passes blocks both ways: the library reallocates and frees the program's blocks, the
 * program frees the library's. The library leaks one block of 4321 bytes. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
  void* h = dlopen("$ORIGIN/libe2e_deepbind.so", RTLD_NOW | RTLD_DEEPBIND);
  if (h == NULL) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    return 2;
  }
  void (*leak)(void) = (void (*)(void))dlsym(h, "deepbind_leak");
  char* (*make)(size_t) = (char* (*)(size_t))dlsym(h, "deepbind_make");
  char* (*grow)(char*, size_t) = (char* (*)(char*, size_t))dlsym(h, "deepbind_grow");
  void (*take)(char*) = (void (*)(char*))dlsym(h, "deepbind_take");
  if (leak == NULL || make == NULL || grow == NULL || take == NULL) return 3;
  leak();
  for (size_t i = 0; i < 1000; ++i) {
    char* p = malloc(100 + i);
    memset(p, 'm', 100 + i);
    p = grow(p, 5000 + i);
    if (p[99] != 'm') return 4;
    take(p);
    char* q = make(200 + i);
    if (q[0] != 'd') return 5;
    free(q);
  }
  puts("ok");
  return 0;
}
