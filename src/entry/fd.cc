#include "entry/fd.h"

#include "config/options.h"
#include "prim/file.h"
#include "track/track.h"

namespace mpshim::entry {
namespace {

// Something may be written to stderr at exit: keep it reachable when fd 2 goes away.
void before_stderr_closes() {
  const config::Config& c = config::get();
  if (c.host && (config::tracks_blocks(c) || c.stats)) prim::save_stderr();
}

}  // namespace

int close(int fd) {
  if (fd == 2) before_stderr_closes();
  return prim::libc_close(fd);
}

int fclose(FILE* f) {
  if (prim::stream_fd(f) == 2) before_stderr_closes();
  return prim::libc_fclose(f);
}

int close_range(unsigned first, unsigned last, int flags) {
  if (prim::range_closes_stderr(first, last, flags)) before_stderr_closes();
  return prim::close_range_but_copy(first, last, flags);
}

void closefrom(int low) {
  if (low <= 2) before_stderr_closes();
  prim::closefrom_but_copy(low);
}

int pipe2(int fds[2], int flags) {
  if (track::in_unwinder()) return prim::unwinder_pipe(fds);
  return prim::os_pipe2(fds, flags);
}

}  // namespace mpshim::entry
