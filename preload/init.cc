// Start-up and exit of libmpshim.so. The report runs from an exit handler registered by the
// constructor, after the program's atexit handlers and static destructors and those of
// every shared library (entry::register_exit_handler).
#include "entry/entry.h"

__attribute__((constructor)) static void mpshim_start() {
  mpshim::entry::init();
  mpshim::entry::mark_children();
  mpshim::entry::register_exit_handler();
}
__attribute__((destructor)) static void mpshim_finish() { mpshim::entry::library_destructor(); }
