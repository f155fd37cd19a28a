// prctl, to see a process confine itself with seccomp (src/entry/sandbox.h). glibc declares
// it variadic; every option takes at most four unsigned long arguments.
#include <cstdarg>

#include "entry/sandbox.h"
#include "prim/defines.h"

using namespace mpshim;

MPSHIM_EXPORT int prctl(int option, ...) noexcept {
  va_list ap;
  va_start(ap, option);
  unsigned long a[4];
  for (unsigned long& x : a) x = va_arg(ap, unsigned long);
  va_end(ap);
  return entry::prctl(option, a[0], a[1], a[2], a[3]);
}
