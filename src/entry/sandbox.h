// Processes that confine themselves with seccomp (sshd's pre-authentication child, browser
// renderers): a filter installed to kill the process on system calls it does not expect
// would kill it on the ones the report makes at exit (reading /proc/self/maps, signalling
// threads, opening the report file), so such a process writes nothing at exit, as one that
// ends with _exit. The filter is seen when the program installs it with prctl.
#pragma once

namespace mpshim::entry {

/// prctl(2); a successful PR_SET_SECCOMP marks the process (and its later forks) sandboxed.
int prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
/// True once this process, or the one it was forked from, installed a seccomp filter.
bool sandboxed();

}  // namespace mpshim::entry
