#include "harness.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

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
  if (name.find('/') != std::string::npos) return name;
  const char* path = getenv("PATH");
  std::stringstream dirs(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // execve fails and the child reports it
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
  if (c.preload) {
    std::string lib = shim_library();
    if (!lib.empty()) env.push_back("LD_PRELOAD=" + lib);
  }
  return env;
}

std::string tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : "..." + s.substr(s.size() - n);
}

}  // namespace

std::string shim_library() {
  const char* v = getenv("SHIM_TEST_LIB");
  std::string lib = v && *v ? v : E2E_DEFAULT_SHIM;
  return lib == "none" ? "" : lib;
}

std::string built(const std::string& name) { return std::string(E2E_BUILD_DIR) + "/" + name; }
std::string source(const std::string& name) { return std::string(E2E_SOURCE_DIR) + "/" + name; }

Result run(const Command& c) {
  Result r;
  std::vector<std::string> env = child_environment(c);
  std::vector<char*> argv, envp;
  for (const auto& a : c.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  std::string exe = find_in_path(c.argv.at(0));

  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  double start = now_s();
  pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    // Own process group, so a timeout also kills the program's children.
    setpgid(0, 0);
    int in = open(c.stdin_path.empty() ? "/dev/null" : c.stdin_path.c_str(), O_RDONLY);
    if (in < 0 || dup2(in, 0) < 0 || dup2(out[1], 1) < 0 || dup2(err[1], 2) < 0) _exit(126);
    if (!c.cwd.empty() && chdir(c.cwd.c_str()) != 0) _exit(126);
    execve(exe.c_str(), argv.data(), envp.data());
    dprintf(2, "exec %s: %s\n", exe.c_str(), strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid);
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
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    r.signal = WTERMSIG(status);
  }
  return r;
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
