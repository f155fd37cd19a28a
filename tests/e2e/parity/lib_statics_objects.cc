// The shared library of lib_statics: static objects whose destructors free only their own
// storage, as in statics.cc, but in a library the program links. glibc runs a library's
// static destructors and destructor functions from _dl_fini, after the program's own and
// in an order of its own; the leak check must come after all of them.
//   3 Modifiers, made by a static       direct   3 x 40 B  (operator new, make_modifier)
//   constructor and kept in a static
//   map<string, Modifier*>
//     the id of one, 25 chars           indirect 26 B      (operator new, make_modifier)
//   2 Handlers in a table that a        direct   2 x 32 B  (malloc, lib_add_handler)
//   destructor function frees
// Expected: direct 184 B in 5 blocks, indirect 26 B in 1 block; reachable: the default
// Modifier, held by a static pointer that is never destroyed (40 B).
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <utility>

#include "leakprog.h"

struct Modifier {
  std::string id;
  int key, mask;
};

struct Handler {
  void (*run)();
  char name[24];
};

static std::map<std::string, Modifier*> g_modifiers;
Modifier* g_default;  // exported: a store the compiler must keep
static Handler** g_handlers;
static size_t g_nhandlers;

LEAK_FN static Modifier* make_modifier(const char* id, int key) {
  std::string name(id);                          // @name
  return new Modifier{std::move(name), key, 0};  // @modifier
}

static bool register_modifiers() {
#pragma GCC unroll 1  // one call site: one group
  for (const char* id : {"move", "select-in-groups-modifier", "snap"})
    g_modifiers[id] = make_modifier(id, int(strlen(id)));
  g_default = make_modifier("none", 0);
  return true;
}

// A static initializer, after g_modifiers' (the order of definition): the dynamic linker
// runs it before main.
static const bool g_registered = register_modifiers();

static void nothing() {}

extern "C" LEAK_FN void lib_add_handler(const char* name) {
  g_handlers = static_cast<Handler**>(realloc(g_handlers, (g_nhandlers + 1) * sizeof *g_handlers));
  auto* h = static_cast<Handler*>(malloc(sizeof(Handler)));  // @handler
  h->run = nothing;
  strncpy(h->name, name, sizeof h->name - 1);
  h->name[sizeof h->name - 1] = '\0';
  g_handlers[g_nhandlers++] = h;
}

// Frees the table, not the handlers: they are lost once it has run.
__attribute__((destructor)) static void drop_handlers() {
  free(g_handlers);
  g_handlers = nullptr;
}
