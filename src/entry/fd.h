// Descriptors: what the exported close, fclose and pipe2 do. A program must find the same
// descriptors with and without the shim (test suites list them, daemons close them), so the
// shim holds none of its own while the program runs: stderr is duplicated only when the
// program is about to close it, and libunwind's pipe exists only while libunwind runs.
#pragma once
#include <cstdio>

namespace mpshim::entry {

/// close(2); before fd 2 is closed, a copy is kept for the report at exit.
int close(int fd);
/// fclose(3); likewise for a stream on fd 2 (coreutils close stderr this way at exit).
int fclose(FILE* f);
/// close_range(2) and closefrom(3); likewise when they close fd 2, and the copy stays open.
int close_range(unsigned first, unsigned last, int flags);
void closefrom(int low);
/// pipe2(2); while the tracker runs libunwind (track::in_unwinder), the pipe of
/// prim::unwinder_pipe.
int pipe2(int fds[2], int flags);

}  // namespace mpshim::entry
