// Start-up and exit of libmpshim.so. The report runs from an exit handler registered by the
// constructor, after the program's atexit handlers and static destructors and those of
// every shared library (entry::register_exit_handler).
#include "entry/entry.h"
#include "prim/thread.h"

__attribute__((constructor)) static void mpshim_start() {
  mpshim::entry::init();
  mpshim::entry::mark_children();
  mpshim::entry::register_exit_handler();
}
__attribute__((destructor)) static void mpshim_finish() { mpshim::entry::library_destructor(); }

// A program that ends with _exit or _Exit runs no exit handler: the reports run here. The
// scan of this thread's stack starts at `regs`, the caller's registers copied into the
// frame of the function called.
[[noreturn]] MPSHIM_INLINE void immediate_exit(int status) {
  uintptr_t regs[mpshim::prim::kCalleeSaved];
  mpshim::prim::callee_saved_registers(regs);
  mpshim::entry::at_immediate_exit(status, reinterpret_cast<uintptr_t>(regs));
}

MPSHIM_EXPORT void _exit(int status) { immediate_exit(status); }
MPSHIM_EXPORT void _Exit(int status) { immediate_exit(status); }

// abort() called by the program (libstdc++'s std::terminate among its callers; libc's own
// aborts, assert's and the heap checks', do not come here): the reports, then libc's.
MPSHIM_EXPORT void abort() {
  uintptr_t regs[mpshim::prim::kCalleeSaved];
  mpshim::prim::callee_saved_registers(regs);
  mpshim::entry::at_abort(reinterpret_cast<uintptr_t>(regs));
}
