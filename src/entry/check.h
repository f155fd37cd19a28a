// What to do with a leak check: the tracker classifies, the report writes, and this layer
// joins them and owns what happens at exit (one report per process, MPSHIM_LEAK_EXITCODE).
#pragma once
#include <cstdint>

namespace mpshim::entry {

/// Runs the leak check and writes the report as configured. `at_exit` is the final check
/// of the process: written once per process (a forked child writes its own); its scan of
/// this thread's stack starts at the frame that called exit(), or at `stack_from` when
/// that is not 0. Returns 1 when direct or indirect leaks were found, 0 when none, -1 when
/// tracking is off.
int leak_check(bool at_exit, uintptr_t stack_from = 0);

/// The exit status MPSHIM_LEAK_EXITCODE asks for after the final leak check (its result):
/// not 0 when that found leaks or memory errors were reported, else 0.
int failed_exit_code(int leak_result);
/// At exit: ends the process with failed_exit_code(leak_result), when it is not 0.
void exit_if_failed(int leak_result);

}  // namespace mpshim::entry
