// What to do with a leak check: the tracker classifies, the report writes, and this layer
// joins them and owns what happens at exit (one report per process, MPSHIM_LEAK_EXITCODE).
#pragma once

namespace mpshim::entry {

/// Runs the leak check and writes the report as configured. `at_exit` is the final check
/// of the process: written once per process (a forked child writes its own), and the
/// process ends with MPSHIM_LEAK_EXITCODE when leaks were found and it is not 0. Returns
/// 1 when direct or indirect leaks were found, 0 when none, -1 when tracking is off.
int leak_check(bool at_exit);

}  // namespace mpshim::entry
