#include "harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "leaks/json.h"

extern char** environ;

namespace e2e {
namespace {

double now_s() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

std::string find_in_path(const std::string& name) {
  std::string path = which(name);
  return path.empty() ? name : path;  // execve fails and the child reports it
}

std::vector<std::string> child_environment(const Command& c) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string v = *e;
    // The caller's own preload and shim settings must not leak into the runs.
    if (starts_with(v, "LD_PRELOAD=") || starts_with(v, "MPSHIM_") || starts_with(v, "MALLOC_"))
      continue;
    bool overridden = false;
    for (const auto& [k, val] : c.env) overridden |= starts_with(v, (k + "=").c_str());
    if (!overridden) env.push_back(v);
  }
  for (const auto& [k, val] : c.env) env.push_back(k + "=" + val);
  // SHIM_TEST_CHECK=sample|light|full runs a suite under the memory-error checks: any error
  // they report aborts the program, so a false positive fails the test.
  const char* check = getenv("SHIM_TEST_CHECK");
  bool set = false;
  for (const auto& [k, val] : c.env) set |= k == "MPSHIM_CHECK";
  if (c.preload && check != nullptr && *check != '\0' && !set) env.push_back(std::string("MPSHIM_CHECK=") + check);
  if (c.preload) {
    std::string lib = shim_library();
    if (!lib.empty()) env.push_back("LD_PRELOAD=" + lib);
  }
  return env;
}

std::string tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

// Starts `c` in its own process group (so a timeout also kills the program's children), with
// stdout and stderr on `out_fd` and `err_fd`.
pid_t spawn(const Command& c, int out_fd, int err_fd) {
  std::vector<std::string> env = child_environment(c);
  std::vector<char*> argv, envp;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string exe = find_in_path(c.argv.at(0));
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    setpgid(0, 0);
    int in = open(c.stdin_path.empty() ? "/dev/null" : c.stdin_path.c_str(), O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    if (!c.cwd.empty() && chdir(c.cwd.c_str()) != 0) _exit(126);
    execve(exe.c_str(), argv.data(), envp.data());
    dprintf(2, "exec %s: %s\n", exe.c_str(), strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

void set_status(Result& r, int status) {
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
}

}  // namespace

std::string which(const std::string& name) {
  if (name.find('/') != std::string::npos) return access(name.c_str(), X_OK) == 0 ? name : "";
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

std::string shim_library() {
  const char* v = getenv("SHIM_TEST_LIB");
  std::string lib = v && *v ? v : E2E_DEFAULT_SHIM;
  return lib == "none" ? "" : lib;
}

std::string built(const std::string& name) { return std::string(E2E_BUILD_DIR) + "/" + name; }
std::string source(const std::string& name) { return std::string(E2E_SOURCE_DIR) + "/" + name; }

Result run(const Command& c) {
  Result r;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  double start = now_s();
  pid_t pid = spawn(c, out[1], err[1]);
  close(out[1]);
  close(err[1]);

  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  double deadline = start + c.timeout_s;
  char buf[65536];
  while (open_fds > 0) {
    int wait_ms = static_cast<int>((deadline - now_s()) * 1000);
    if (wait_ms <= 0) {
      r.timed_out = true;
      break;
    }
    int n = poll(fds, 2, wait_ms);
    if (n < 0 && errno == EINTR) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      ssize_t got = read(fds[i].fd, buf, sizeof buf);
      if (got > 0) {
        sinks[i]->append(buf, got);
      } else if (got == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  if (r.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (r.timed_out) kill(-pid, SIGKILL);  // anything the program left behind
  for (auto& f : fds)
    if (f.fd >= 0) close(f.fd);
  r.seconds = now_s() - start;
  set_status(r, status);
  return r;
}

Background::Background(const Command& c, const std::string& out_path,
                       const std::string& err_path)
    : start_(now_s()), out_path_(out_path), err_path_(err_path) {
  int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0 || err < 0) throw std::runtime_error("cannot create " + out_path + " or " + err_path);
  pid_ = spawn(c, out, err);
  close(out);
  close(err);
}

Background::~Background() {
  if (running()) {
    kill(-pid_, SIGKILL);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
  }
}

bool Background::running() {
  if (!exited_ && waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

Result Background::wait(int timeout_s) {
  Result r;
  double deadline = now_s() + timeout_s;
  while (running() && now_s() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  if (running()) {
    r.timed_out = true;
    kill(-pid_, SIGKILL);
    while (waitpid(pid_, &status_, 0) < 0 && errno == EINTR) {
    }
    exited_ = true;
  }
  r.seconds = now_s() - start_;
  set_status(r, status_);
  r.out = read_file(out_path_);
  r.err = read_file(err_path_);
  return r;
}

int free_tcp_port() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("cannot find a free TCP port");
  close(fd);
  return ntohs(a.sin_port);
}

std::string shim_lines(const std::string& err) {
  std::istringstream lines(err);
  std::string line, found;
  while (std::getline(lines, line)) {
    // Warnings start with "mpshim:", reports and statistics with "==PID== mpshim:" or
    // {"mpshim_report"; a path such as /tmp/mpshim-e2e-... is not the shim's.
    bool ours = starts_with(line, "mpshim:") || starts_with(line, "{\"mpshim_report\"") ||
                (starts_with(line, "==") && line.find("== mpshim:") != std::string::npos);
    if (ours) found += line + "\n";
  }
  return found;
}

std::vector<std::pair<std::string, std::string>> json_report_env(const std::string& dir) {
  return {{"MPSHIM_REPORT", dir + "/leaks.%p.json"}, {"MPSHIM_REPORT_FORMAT", "json"}};
}

std::vector<LeakReport> read_json_reports(const std::string& dir) {
  std::vector<std::string> paths;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::string name = entry.path().filename();
    if (starts_with(name, "leaks.") && name.ends_with(".json"))
      paths.push_back(entry.path());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<LeakReport> reports;
  for (const std::string& path : paths) {
    try {
      leaktest::Json doc = leaktest::parse_json(read_file(path));
      if (doc["mpshim_report"].u64() != 1) throw std::runtime_error("unknown schema version");
      LeakReport r;
      r.path = path;
      r.pid = doc["pid"].u64();
      r.exe = doc["exe"].str();
      const leaktest::Json& sum = doc["summary"];
      r.direct_bytes = sum["direct"]["bytes"].u64();
      r.indirect_bytes = sum["indirect"]["bytes"].u64();
      sum["reachable"]["bytes"].u64();
      r.groups = sum["groups_listed"].u64();
      const leaktest::Json& leaks = doc["leaks"];
      if (leaks.type != leaktest::Json::Type::Array || leaks.items.size() != r.groups)
        throw std::runtime_error("\"leaks\" does not hold groups_listed groups");
      for (const leaktest::Json& g : leaks.items) {
        g["class"].str();
        g["function"].str();
        if (g["bytes"].u64() == 0 || g["count"].u64() == 0) throw std::runtime_error("empty group");
        for (const leaktest::Json& frame : g["stack"].items) frame["pc"].str();
      }
      reports.push_back(r);
    } catch (const std::exception& e) {
      throw std::runtime_error("bad leak report " + path + ": " + e.what());
    }
  }
  return reports;
}

std::string reproduce(const Command& c) {
  auto quote = [](const std::string& s) {
    if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                          "0123456789_-+=/.,:@%") == std::string::npos)
      return s;
    std::string q = "'";
    for (char ch : s) q += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
    return q + "'";
  };
  std::string line;
  if (!c.cwd.empty()) line += "cd " + quote(c.cwd) + " && ";
  for (const auto& [k, v] : c.env) line += k + "=" + quote(v) + " ";
  if (c.preload && !shim_library().empty()) line += "LD_PRELOAD=" + quote(shim_library()) + " ";
  for (const auto& a : c.argv) line += quote(a) + " ";
  if (!c.stdin_path.empty()) line += "< " + quote(c.stdin_path);
  return line;
}

std::string Result::describe() const {
  std::ostringstream s;
  if (timed_out)
    s << "timed out after " << seconds << " s";
  else if (signal)
    s << "killed by signal " << signal << " (" << strsignal(signal) << ")";
  else
    s << "exit status " << exit_code;
  s << "\n--- stdout (tail) ---\n" << tail(out, 1500) << "\n--- stderr (tail) ---\n"
    << tail(err, 3000);
  return s.str();
}

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/mpshim-e2e-XXXXXX";
  if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (keep_) return;
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  if (!f) throw std::runtime_error("cannot write " + path);
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + path);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool ga = static_cast<bool>(std::getline(sa, la));
    bool gb = static_cast<bool>(std::getline(sb, lb));
    if (!ga && !gb) return "identical";
    if (!ga || !gb || la != lb) {
      std::ostringstream s;
      s << "line " << line << ":\n  without shim: " << (ga ? la : "<end>")
        << "\n  with shim:    " << (gb ? lb : "<end>");
      return s.str();
    }
  }
}

}  // namespace e2e
