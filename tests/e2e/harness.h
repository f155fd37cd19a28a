// Runs programs with or without the preloaded shim and captures what they print.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace e2e {

/// What a finished (or killed) program left behind.
struct Result {
  int exit_code = -1;      ///< exit status, -1 when killed by a signal
  int signal = 0;          ///< terminating signal, 0 when the program exited
  bool timed_out = false;  ///< killed by the harness after the timeout
  double seconds = 0;      ///< wall time
  std::string out, err;

  bool ok() const { return exit_code == 0 && !timed_out; }
  /// One paragraph for failure messages: status, and the tail of stdout and stderr.
  std::string describe() const;
};

/// A program to run. The environment is the harness's own minus LD_PRELOAD, MPSHIM_* and
/// MALLOC_*, plus `env`; with `preload` the shim library is put in LD_PRELOAD.
struct Command {
  std::vector<std::string> argv;  ///< argv[0] without '/' is looked up in PATH
  std::vector<std::pair<std::string, std::string>> env;
  bool preload = true;
  std::string cwd;         ///< empty: the harness's working directory
  std::string stdin_path;  ///< empty: /dev/null
  int timeout_s = 120;
};

/// Runs `c` to completion; the whole process group is killed after the timeout.
Result run(const Command& c);

/// A program running in the background (a server). Its stdout and stderr go to files, so it
/// never blocks on a pipe nobody reads. The destructor kills its process group if it is
/// still running.
class Background {
 public:
  Background(const Command& c, const std::string& out_path, const std::string& err_path);
  ~Background();
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  pid_t pid() const { return pid_; }
  /// False once the program has exited.
  bool running();
  /// Waits up to `timeout_s` seconds for the exit (then kills the process group); the
  /// result's out and err are read from the files.
  Result wait(int timeout_s);

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  bool exited_ = false;
  double start_;
  std::string out_path_, err_path_;
};

/// A shell command line that reruns `c` by hand (cd, environment, arguments).
std::string reproduce(const Command& c);

/// The library under test: $SHIM_TEST_LIB, else the libmpshim.so built next to the tests.
/// Empty when SHIM_TEST_LIB=none (runs everything against plain libc, to check the tests).
std::string shim_library();

/// Full path of executable `name` in PATH (`name` itself when it has a '/'); empty when
/// there is none.
std::string which(const std::string& name);

/// A TCP port of 127.0.0.1 that was free a moment ago (chosen by the kernel).
int free_tcp_port();

/// The lines of `err` that the shim wrote (warnings, the heads of reports and statistics),
/// joined; empty when it printed nothing.
std::string shim_lines(const std::string& err);

/// Environment that makes the shim write its leak report as JSON to `dir`/leaks.PID.json,
/// one file per process.
std::vector<std::pair<std::string, std::string>> json_report_env(const std::string& dir);

/// The summary of one leak report file.
struct LeakReport {
  std::string path, exe;
  uint64_t pid = 0;
  uint64_t direct_bytes = 0, indirect_bytes = 0, groups = 0;
};

/// Parses every report that json_report_env() sent to `dir`, checking each has the
/// documented fields; throws std::runtime_error naming the file when one does not.
std::vector<LeakReport> read_json_reports(const std::string& dir);

/// Path of a helper program or library built in tests/e2e.
std::string built(const std::string& name);
/// Path of a file in the source folder tests/e2e.
std::string source(const std::string& name);

/// A fresh directory removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  /// Leaves the directory in place (to rerun a failed command by hand).
  void keep() { keep_ = true; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
  bool keep_ = false;
};

void write_file(const std::string& path, const std::string& text);
std::string read_file(const std::string& path);

/// First line where `a` and `b` differ, with both versions, for failure messages.
std::string first_difference(const std::string& a, const std::string& b);

}  // namespace e2e
