#include "entry/check.h"

#include <atomic>

#include "config/options.h"
#include "entry/entry.h"
#include "prim/os.h"
#include "prim/thread.h"
#include "report/report.h"
#include "track/check.h"

namespace mpshim::entry {

static std::atomic<int> g_reported_pid{0};

static bool write_report(track::Block* blocks, size_t n, void* pid) {
  report::Totals totals{};
  return report::write_leak_report(blocks, n, &totals, *static_cast<int*>(pid));
}

int leak_check(bool at_exit, uintptr_t stack_from) {
  if (!tracking()) return -1;
  int pid = prim::os_getpid();
  if (at_exit && g_reported_pid.exchange(pid) == pid) return 0;  // this process has reported
  return track::leak_check(write_report, &pid, track::StackFrom{at_exit && stack_from == 0, stack_from});
}

int failed_exit_code(int leak_result) {
  // Memory errors reported (MPSHIM_ON_ERROR=report) count as leaks do.
  bool failed = leak_result == 1 || report::memory_errors() != 0;
  return failed ? int(config::get().leak_exitcode) : 0;
}

void exit_if_failed(int leak_result) {
  int code = failed_exit_code(leak_result);
  if (code != 0) prim::exit_now(code);
}

}  // namespace mpshim::entry
