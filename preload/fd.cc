// Descriptor functions the shim watches: the program closing its stderr, and libunwind
// opening a pipe for itself (src/entry/fd.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "entry/fd.h"
#include "prim/defines.h"

using namespace mpshim;

MPSHIM_EXPORT int close(int fd) { return entry::close(fd); }
MPSHIM_EXPORT int fclose(FILE* f) { return entry::fclose(f); }
MPSHIM_EXPORT int pipe2(int fds[2], int flags) noexcept { return entry::pipe2(fds, flags); }
