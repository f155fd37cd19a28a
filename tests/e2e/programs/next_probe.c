/* A library preloaded before the shim, as another interposer would be: its constructor asks
 * dlsym(RTLD_NEXT, "malloc"), which must name the next object after it (the shim's malloc,
 * the same as RTLD_DEFAULT finds), not the one after whoever implements dlsym. Prints
 * "next=shim" or "next=other". */
#include <dlfcn.h>
#include <stdio.h>

__attribute__((constructor)) static void probe(void) {
  void* next = dlsym(RTLD_NEXT, "malloc");
  void* first = dlsym(RTLD_DEFAULT, "malloc");
  printf("next=%s\n", next != NULL && next == first ? "shim" : "other");
  fflush(stdout);
}
