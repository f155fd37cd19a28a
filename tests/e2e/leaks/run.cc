#include "run.h"

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "json.h"

extern char** environ;

namespace leaktest {

Paths g_paths;

std::string program(const std::string& name, const std::string& opt) {
  return g_paths.bin + "/leak_" + name + "_" + opt;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

namespace {

std::string make_dir() {
  const char* base = getenv("TMPDIR");
  std::string templ = std::string(base && *base ? base : "/tmp") + "/leak_e2e.XXXXXX";
  if (!mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  return templ;
}

std::string quote(const std::string& s) {
  if (s.find_first_of(" '\"$\\;&|<>*?()") == std::string::npos && !s.empty()) return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }

}  // namespace

Run run(const std::string& exe, const RunOptions& opt) {
  Run r;
  r.dir = make_dir();
  std::vector<std::pair<std::string, std::string>> extra;
  if (opt.preload) extra.emplace_back("LD_PRELOAD", g_paths.shim);
  if (opt.json) extra.emplace_back("MPSHIM_REPORT_FORMAT", "json");
  if (opt.report_to_file)
    extra.emplace_back("MPSHIM_REPORT", r.dir + (opt.json ? "/r.%p.json" : "/r.%p.txt"));
  for (auto [k, v] : opt.env) {
    if (size_t at = v.find("@DIR@"); at != std::string::npos) v.replace(at, 5, r.dir);
    extra.emplace_back(k, v);
  }

  std::vector<std::string> env;
  for (char** e = environ; *e; e++) {
    std::string s = *e;
    if (!starts_with(s, "MPSHIM_") && !starts_with(s, "LD_PRELOAD=")) env.push_back(s);
  }
  r.command = "env";
  for (auto& [k, v] : extra) {
    env.push_back(k + "=" + v);
    r.command += " " + k + "=" + quote(v);
  }
  std::vector<std::string> argv{exe};
  argv.insert(argv.end(), opt.args.begin(), opt.args.end());
  for (auto& a : argv) r.command += " " + quote(a);

  std::vector<char*> cargv, cenv;
  for (auto& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  for (auto& e : env) cenv.push_back(e.data());
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  std::string out = r.dir + "/stdout", err = r.dir + "/stderr";
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  auto t0 = std::chrono::steady_clock::now();
  int rc = posix_spawn(&r.pid, exe.c_str(), &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("cannot start " + exe + ": " + strerror(rc));
  int status = 0;
  while (waitpid(r.pid, &status, 0) < 0 && errno == EINTR) {
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = read_file(out);
  r.err = read_file(err);

  if (DIR* d = opendir(r.dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (starts_with(n, "r.")) r.reports[std::atoi(n.c_str() + 2)] = r.dir + "/" + n;
    }
    closedir(d);
  }
  return r;
}

int run_shell(const std::string& command, std::string* output) {
  std::string dir = make_dir();
  std::string file = dir + "/out";
  int status = std::system((command + " >" + file + " 2>&1").c_str());
  *output = read_file(file);
  unlink(file.c_str());
  rmdir(dir.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ---- reports -------------------------------------------------------------------------

bool names(const std::string& function, const std::string& name) {
  return function == name || starts_with(function, (name + "(").c_str());
}

int Group::frame_of(const std::string& name) const {
  for (size_t i = 0; i < stack.size(); i++)
    if (names(stack[i].function, name)) return static_cast<int>(i);
  return -1;
}

std::vector<const Group*> Report::groups(const std::string& cls, const std::string& name) const {
  std::vector<const Group*> found;
  for (auto& g : leaks)
    if (g.cls == cls && g.frame_of(name) >= 0) found.push_back(&g);
  return found;
}

namespace {

std::string opt_str(const Json& v) { return v.is_null() ? std::string() : v.str(); }

ClassTotals class_totals(const Json& s) {
  return {s["bytes"].u64(), s["blocks"].u64(), s["groups"].u64()};
}

}  // namespace

Report read_report(const std::string& path) {
  Json doc = parse_json(read_file(path));
  if (doc["mpshim_report"].u64() != 1) throw std::runtime_error("unknown report version");
  Report r;
  r.pid = doc["pid"].u64();
  r.exe = doc["exe"].str();
  const Json& s = doc["summary"];
  r.direct = class_totals(s["direct"]);
  r.indirect = class_totals(s["indirect"]);
  r.reachable = class_totals(s["reachable"]);
  r.suppressed_bytes = s["suppressed"]["bytes"].u64();
  r.suppressed_blocks = s["suppressed"]["blocks"].u64();
  r.groups_listed = s["groups_listed"].u64();
  r.groups_total = s["groups_total"].u64();
  for (const Json& u : doc["suppressions"].items)
    r.suppressions.push_back({u["pattern"].str(), u["bytes"].u64(), u["blocks"].u64()});
  for (const Json& l : doc["leaks"].items) {
    Group g;
    g.cls = l["class"].str();
    g.function = l["function"].str();
    g.bytes = l["bytes"].u64();
    g.count = l["count"].u64();
    for (const Json& f : l["stack"].items) {
      Frame fr;
      fr.function = opt_str(f["function"]);
      fr.module = opt_str(f["module"]);
      fr.file = opt_str(f["file"]);
      fr.line = f["line"].is_null() ? 0 : f["line"].u64();
      g.stack.push_back(fr);
    }
    r.leaks.push_back(std::move(g));
  }
  return r;
}

int marker_line(const std::string& file, const std::string& marker) {
  std::istringstream in(read_file(g_paths.src + "/" + file));
  std::string line;
  for (int n = 1; std::getline(in, line); n++)
    if (line.find(marker) != std::string::npos) return n;
  throw std::runtime_error("marker " + marker + " not in " + file);
}

}  // namespace leaktest
