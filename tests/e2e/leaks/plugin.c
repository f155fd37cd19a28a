/* Library loaded by dlopen.c: leaks 4321 B with malloc from plugin_make_leak. */
#include <stdlib.h>

#include "leakprog.h"

LEAK_FN void plugin_make_leak(void) {
  keep_alloc(malloc(4321)); /* @plugin */
}

static volatile int entered;

__attribute__((visibility("default"))) LEAK_FN void plugin_entry(void) {
  plugin_make_leak();
  entered = 1; /* not a tail call: plugin_entry keeps its frame */
}
