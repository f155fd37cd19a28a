/* Leaks from a library that is dlclose'd before exit; its frames must still be named.
   argv[1]: the library. Expected: direct 4321 B in 1 block, malloc, plugin_make_leak. */
#include <dlfcn.h>

#include "leakprog.h"

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  void* lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (!lib) return 3;
  void (*entry)(void) = (void (*)(void))dlsym(lib, "plugin_entry");
  if (!entry) return 4;
  entry();
  if (dlclose(lib) != 0) return 5;
  scrub_stack();
  return 0;
}
