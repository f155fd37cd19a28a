// A program whose static objects live in a shared library it links (lib_statics_objects.cc,
// where the figures are): they are destroyed after main returns, from the dynamic linker's
// exit code, and what they leave becomes lost.
#include "leakprog.h"

extern "C" void lib_add_handler(const char* name);

int main() {
  lib_add_handler("on-open");
  lib_add_handler("on-close");
  scrub_stack();
  return 0;
}
