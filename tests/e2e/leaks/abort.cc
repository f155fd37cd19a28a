/* Ends with SIGABRT, from abort() called by the program or from a failed assert(), which
   aborts inside libc: the report is written at the call, as valgrind writes its own when
   the signal ends the process.
   Direct: leak_before_abort 432 B in 1 block. Reachable: 48 B that main still holds in
   its frame (abort_held).
   The argument says who calls abort:
     call       main;
     terminate  libstdc++'s std::terminate, for an exception nobody catches;
     assert     a failed assert();
     handler    a SIGTERM handler (the code it interrupted may hold the allocator's
                locks): no report, a note on stderr. */
#undef NDEBUG  // assert() is what this program tests
#include <cassert>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "leakprog.h"

LEAK_FN void leak_before_abort() { keep_alloc(malloc(432)); }
LEAK_FN void* abort_held() {
  void* p = malloc(48);
  keep_alloc(p);  // no tail call: this frame stays in the stack
  return p;
}

static void on_term(int) { abort(); }

int main(int argc, char** argv) {
  const char* who = argc > 1 ? argv[1] : "";
  leak_before_abort();
  scrub_stack();
  void* volatile held = abort_held();
  if (strcmp(who, "call") == 0) abort();
  if (strcmp(who, "terminate") == 0) throw std::runtime_error("nobody catches this");
  assert(strcmp(who, "assert") != 0 && "the program's own check");
  if (strcmp(who, "handler") == 0) {
    signal(SIGTERM, on_term);
    raise(SIGTERM);
  }
  free(held);
  return 2;
}
