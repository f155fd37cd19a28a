// Descriptor functions the shim watches: the program closing its stderr (alone or with a
// range of descriptors), and libunwind opening a pipe for itself (src/entry/fd.h).
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "entry/fd.h"
#include "prim/defines.h"

using namespace mpshim;

MPSHIM_EXPORT int close(int fd) { return entry::close(fd); }
MPSHIM_EXPORT int fclose(FILE* f) { return entry::fclose(f); }
MPSHIM_EXPORT int close_range(unsigned first, unsigned last, int flags) noexcept {
  return entry::close_range(first, last, flags);
}
MPSHIM_EXPORT void closefrom(int low) noexcept { entry::closefrom(low); }
MPSHIM_EXPORT int pipe2(int fds[2], int flags) noexcept { return entry::pipe2(fds, flags); }
