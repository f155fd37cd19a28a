// Start-up and exit of libmpshim.so. The report runs in the library destructor, which
// glibc calls after the program's atexit handlers and static destructors.
#include "entry/entry.h"

__attribute__((constructor)) static void mpshim_start() {
  mpshim::entry::init();
  mpshim::entry::mark_children();
}
__attribute__((destructor)) static void mpshim_finish() { mpshim::entry::at_exit(); }
