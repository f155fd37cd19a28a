// Start-up and exit of libmpshim.so. The report runs from an exit handler registered by the
// constructor, after the program's atexit handlers and static destructors and those of
// every shared library (entry::register_exit_handler).
#include <dlfcn.h>

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

// A failed assert() (and its relatives) prints its message and aborts inside libc, where
// the abort above is not reached: the reports are written first, then libc's own function
// prints the message and ends the process with SIGABRT.
#define MPSHIM_BEFORE_LIBC_ABORT(how)                                        \
  uintptr_t regs[mpshim::prim::kCalleeSaved];                                \
  mpshim::prim::callee_saved_registers(regs);                                \
  mpshim::entry::before_abort(reinterpret_cast<uintptr_t>(regs), how)

template <typename Fn>
static Fn libc_next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

MPSHIM_EXPORT void __assert_fail(const char* expr, const char* file, unsigned line, const char* fn) {
  MPSHIM_BEFORE_LIBC_ABORT("assert");
  using Next = void (*)(const char*, const char*, unsigned, const char*);
  if (Next next = libc_next<Next>("__assert_fail")) next(expr, file, line, fn);
  mpshim::entry::abort_now();
}

MPSHIM_EXPORT void __assert_perror_fail(int errnum, const char* file, unsigned line, const char* fn) {
  MPSHIM_BEFORE_LIBC_ABORT("assert_perror");
  using Next = void (*)(int, const char*, unsigned, const char*);
  if (Next next = libc_next<Next>("__assert_perror_fail")) next(errnum, file, line, fn);
  mpshim::entry::abort_now();
}

MPSHIM_EXPORT void __assert(const char* expr, const char* file, int line) {
  MPSHIM_BEFORE_LIBC_ABORT("assert");
  using Next = void (*)(const char*, const char*, int);
  if (Next next = libc_next<Next>("__assert")) next(expr, file, line);
  mpshim::entry::abort_now();
}
