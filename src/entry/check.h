// What to do with a leak check: the tracker classifies, the report writes, and this layer
// joins them and owns what happens at exit (one report per process, MPSHIM_LEAK_EXITCODE).
#pragma once

namespace mpshim::entry {

/// Runs the leak check and writes the report as configured. `at_exit` is the final check
/// of the process: written once per process (a forked child writes its own). Returns 1
/// when direct or indirect leaks were found, 0 when none, -1 when tracking is off.
int leak_check(bool at_exit);

/// At exit: ends the process with MPSHIM_LEAK_EXITCODE, when it is not 0, if the final
/// leak check (its result) found leaks or memory errors were reported.
void exit_if_failed(int leak_result);

}  // namespace mpshim::entry
