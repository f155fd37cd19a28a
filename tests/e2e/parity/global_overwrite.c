/* Globals overwritten without freeing what they pointed at: a configuration reloaded
   twice and a lookup cache rebuilt. The current ones stay reachable.
   Expected: direct 848 B in 3 blocks: two old configs 2 x 24 B (malloc, load_config) and
   the old cache 800 B (calloc, build_cache); indirect 58 B in 4 blocks: their names
   "first" 6 B and "second" 7 B (strdup, load_config) and paths "/etc/app/NAME.conf.d"
   22 B and 23 B (malloc, config_path); reachable the third config, its strings and the
   second cache. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct config {
  char* name;
  char* path;
  long flags;
};

struct config* g_config;
long* g_cache;

LEAK_FN char* config_path(const char* name) {
  size_t n = strlen("/etc/app/") + strlen(name) + strlen(".conf.d") + 1;
  char* p = malloc(n); /* @config_path */
  snprintf(p, n, "/etc/app/%s.conf.d", name);
  return p;
}

LEAK_FN struct config* load_config(const char* name) {
  struct config* c = malloc(sizeof *c); /* @load_config */
  c->name = strdup(name); /* @config_name */
  c->path = config_path(name);
  c->flags = 0;
  return c;
}

LEAK_FN void build_cache(size_t n) {
  g_cache = calloc(n, sizeof *g_cache); /* @build_cache */
}

LEAK_FN void reload(const char* name) { g_config = load_config(name); }

int main(void) {
  reload("first");
  build_cache(100);
  reload("second");
  build_cache(100);
  reload("third");
  scrub_stack();
  return 0;
}
