// Running the leak test programs under the preloaded library and reading their reports.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace leaktest {

/// Where things are: set once from the command line (see leak_e2e.cc).
struct Paths {
  std::string bin;   ///< build folder of the test programs
  std::string src;   ///< source folder (suppression file, markers)
  std::string shim;  ///< libmpshim.so
};
extern Paths g_paths;

/// Path of test program `name` built at optimisation level `opt` ("O0" or "O2").
std::string program(const std::string& name, const std::string& opt);

struct RunOptions {
  std::vector<std::string> args;
  /// Added to the environment; "@DIR@" in a value becomes the run's output directory.
  std::vector<std::pair<std::string, std::string>> env;
  bool preload = true;   ///< LD_PRELOAD the shim
  bool json = true;      ///< MPSHIM_REPORT_FORMAT=json, MPSHIM_REPORT=<dir>/r.%p.json
  bool report_to_file = true;  ///< set MPSHIM_REPORT (text reports go to <dir>/r.%p.txt)
};

/// What one run produced. `dir` is a fresh directory for its output files.
struct Run {
  pid_t pid = 0;
  int status = -1;  ///< exit status, or 128 + signal number
  double seconds = 0;
  std::string dir, out, err;
  std::map<pid_t, std::string> reports;  ///< report file per pid found in dir
  std::string command;                   ///< shell line reproducing the run
};

/// Runs `exe` with a clean environment (no MPSHIM_* or LD_PRELOAD inherited) plus
/// `opt.env`; waits for it and collects its report files.
Run run(const std::string& exe, const RunOptions& opt = {});

/// Runs a command line through /bin/sh without the shim; returns its exit status and
/// fills `output` with stdout and stderr.
int run_shell(const std::string& command, std::string* output);

std::string read_file(const std::string& path);
bool file_exists(const std::string& path);

// ---- reports -------------------------------------------------------------------------

struct Frame {
  std::string function, module, file;  ///< empty when the report gives null
  uint64_t line = 0;
};

struct Group {
  std::string cls;       ///< direct, indirect or reachable
  std::string function;  ///< allocation function
  uint64_t bytes = 0, count = 0;
  std::vector<Frame> stack;
  /// Index of the first frame named `name` (C name, or C++ name before its "("), or -1.
  int frame_of(const std::string& name) const;
};

struct ClassTotals {
  uint64_t bytes = 0, blocks = 0, groups = 0;
};

/// One suppression pattern that matched, with what it removed.
struct SuppressionUse {
  std::string pattern;
  uint64_t bytes = 0, blocks = 0;
};

struct Report {
  uint64_t pid = 0;
  std::string exe;
  ClassTotals direct, indirect, reachable;
  uint64_t suppressed_bytes = 0, suppressed_blocks = 0;
  uint64_t groups_listed = 0, groups_total = 0;
  std::vector<SuppressionUse> suppressions;
  std::vector<Group> leaks;

  /// Groups of class `cls` with a frame named `name`.
  std::vector<const Group*> groups(const std::string& cls, const std::string& name) const;
};

/// Reads a JSON report; throws std::runtime_error on a bad document.
Report read_report(const std::string& path);

/// True when frame function `function` is `name` ("f" or "f(...)" or "ns::f(...)").
bool names(const std::string& function, const std::string& name);

/// Line (1-based) of the first line of `file` in the source folder containing `marker`.
int marker_line(const std::string& file, const std::string& marker);

}  // namespace leaktest
