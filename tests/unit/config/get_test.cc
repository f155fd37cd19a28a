// get(): parsed once from the real environment, even when many threads ask at the same time.
// Each case runs in a forked child, so it sees the first call of get() in its process.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "config/options.h"

extern char** environ;

namespace {

struct ChildResult {
  int status = -1;     // exit status of the child
  std::string err;     // everything it wrote to stderr
};

// Runs `body` in a child whose environment holds exactly the MPSHIM_ variables in `vars` and
// whose stderr goes to a pipe; `body` returns the child's exit status.
template <typename Body>
ChildResult in_child(const std::vector<std::pair<const char*, const char*>>& vars, Body body) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    dup2(fds[1], 2);
    std::vector<std::string> mine;
    for (char** e = environ; *e != nullptr; ++e)
      if (std::strncmp(*e, "MPSHIM_", 7) == 0) mine.emplace_back(*e, std::strchr(*e, '=') - *e);
    for (const std::string& name : mine) unsetenv(name.c_str());
    for (const auto& [name, value] : vars) setenv(name, value, 1);
    _exit(body());
  }
  close(fds[1]);
  ChildResult r;
  char buf[4096];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) > 0) r.err.append(buf, size_t(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

// Many threads call get() at once; all must get the same, fully parsed configuration.
int racing_threads() {
  constexpr int kThreads = 16;
  std::atomic<bool> go{false};
  std::vector<const mpshim::config::Config*> seen(kThreads);
  std::vector<uint64_t> depth(kThreads);
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      while (!go.load()) std::this_thread::yield();
      seen[i] = &mpshim::config::get();
      depth[i] = seen[i]->stack_depth;
    });
  go = true;
  for (std::thread& t : threads) t.join();
  for (int i = 0; i < kThreads; ++i) {
    if (seen[i] != seen[0]) return 1;
    if (depth[i] != 7) return 2;
  }
  const mpshim::config::Config& c = mpshim::config::get();
  if (&c != seen[0]) return 3;
  if (!c.verbose || c.large_cache != (64u << 20) || c.report_format != 1) return 4;
  return 0;
}

}  // namespace

TEST(ConfigGet, ParsedOnceUnderRacingThreads) {
  ChildResult r = in_child({{"MPSHIM_STACK_DEPTH", "7"},
                            {"MPSHIM_VERBOSE", "1"},
                            {"MPSHIM_LARGE_CACHE", "64M"},
                            {"MPSHIM_REPORT_FORMAT", "json"},
                            {"MPSHIM_BOGUS", "1"}},
                           racing_threads);
  EXPECT_EQ(r.status, 0) << "stderr:\n" << r.err;
  EXPECT_EQ(occurrences(r.err, "mpshim: unknown variable MPSHIM_BOGUS=1\n"), 1u) << r.err;
  // Only the warning: the verbose dump is printed by the shim's start-up, not by get().
  EXPECT_EQ(r.err, "mpshim: unknown variable MPSHIM_BOGUS=1\n");
}

TEST(ConfigGet, QuietWithDefaultsWhenNothingIsSet) {
  ChildResult r = in_child({}, [] {
    const mpshim::config::Config& c = mpshim::config::get();
    return c.host && !c.verbose && c.stack_depth == 16 && std::strcmp(c.report, "stderr") == 0
               ? 0
               : 1;
  });
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.err, "");
}

// Programs that set their process title (redis, nginx) overwrite the environment strings;
// the string options must keep their values, since the report opens its files at exit.
TEST(ConfigGet, StringsSurviveOverwrittenEnvironment) {
  ChildResult r = in_child({{"MPSHIM_REPORT", "/tmp/report.%p.json"},
                            {"MPSHIM_FOLDED", "/tmp/leaks.folded"}},
                           [] {
    const mpshim::config::Config& c = mpshim::config::get();
    for (char** e = environ; *e != nullptr; ++e) std::memset(*e, 0, std::strlen(*e));
    return std::strcmp(c.report, "/tmp/report.%p.json") == 0 &&
                   std::strcmp(c.folded, "/tmp/leaks.folded") == 0 &&
                   std::strcmp(c.suppressions, "") == 0
               ? 0
               : 1;
  });
  EXPECT_EQ(r.status, 0) << "stderr:\n" << r.err;
}
