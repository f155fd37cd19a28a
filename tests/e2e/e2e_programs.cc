// Real programs under LD_PRELOAD: each must print the same and exit the same as without the
// shim, with leak tracking on (the default) and off, with MPSHIM_HOST=off too, and with
// MPSHIM_STATS=1 the statistics appear on stderr. The shim must print no warning; with
// tracking on the processes write leak reports that parse, with tracking off none.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_programs
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <map>
#include <sstream>

#include "harness.h"

namespace {

enum class Mode { Plain, Shim, LeaksOff, Stats, HostOff };

std::string python() { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

// 10k rows inserted by a generated script, then aggregates, an index and a join.
std::string sqlite_script() {
  std::ostringstream s;
  s << "CREATE TABLE item(id INTEGER PRIMARY KEY, name TEXT, grp INTEGER, price REAL);\n"
       "BEGIN;\n";
  unsigned x = 7;
  for (int i = 1; i <= 10000; ++i) {
    x = x * 1103515245u + 12345u;
    s << "INSERT INTO item(name, grp, price) VALUES('item-" << (x >> 8) % 100000 << "', "
      << (x >> 4) % 50 << ", " << (x >> 12) % 10000 / 100.0 << ");\n";
  }
  s << "COMMIT;\n"
       "SELECT count(*), sum(grp), round(avg(price), 4) FROM item;\n"
       "SELECT grp, count(*), round(sum(price), 2), max(name) FROM item GROUP BY grp "
       "ORDER BY grp;\n"
       "CREATE INDEX item_name ON item(name);\n"
       "SELECT name, count(*) c FROM item GROUP BY name HAVING c > 1 ORDER BY c DESC, name "
       "LIMIT 10;\n"
       "SELECT a.grp, count(*) FROM item a JOIN item b ON a.grp = b.grp AND a.id < b.id "
       "AND b.id < a.id + 20 GROUP BY a.grp ORDER BY a.grp LIMIT 5;\n"
       "DELETE FROM item WHERE grp % 3 = 0;\n"
       "VACUUM;\n"
       "SELECT count(*) FROM item;\n";
  return s.str();
}

std::string sort_input() {
  std::string text;
  text.reserve(200000 * 24);
  unsigned long x = 1;
  for (int i = 0; i < 200000; ++i) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    text += "w" + std::to_string((x >> 33) % 50000) + " " + std::to_string((x >> 20) % 1000) +
            " line" + std::to_string(i) + "\n";
  }
  return text;
}

// 1500 small text files in 30 folders, for git.
void write_many_files(const std::string& root) {
  for (int d = 0; d < 30; ++d) {
    std::string folder = root + "/d" + (d < 10 ? "0" : "") + std::to_string(d);
    std::filesystem::create_directories(folder);
    for (int f = 0; f < 50; ++f) {
      std::string text;
      for (int line = 0; line <= (d * 50 + f) % 40; ++line)
        text += "line " + std::to_string(line * 17 + f) + " of d" + std::to_string(d) + "\n";
      e2e::write_file(folder + "/f" + std::to_string(f) + ".txt", text);
    }
  }
}

// About 2.5 MiB in 120 files, half text and half pseudo-random bytes, for tar and xz.
void write_archive_tree(const std::string& root) {
  unsigned long x = 42;
  for (int d = 0; d < 6; ++d) {
    std::string folder = root + "/part" + std::to_string(d);
    std::filesystem::create_directories(folder);
    for (int f = 0; f < 20; ++f) {
      std::string data;
      for (int i = 0; data.size() < 16384 + 512u * f; ++i) {
        x = x * 6364136223846793005ul + 1442695040888963407ul;
        if (f % 2 == 0)
          data += "record " + std::to_string(i) + " value " + std::to_string((x >> 40) % 1000) + "\n";
        else
          data += char(x >> 56);
      }
      e2e::write_file(folder + "/file" + std::to_string(f) + (f % 2 ? ".bin" : ".txt"), data);
    }
  }
}

std::vector<std::pair<std::string, std::string>> git_env() {
  return {{"GIT_CONFIG_NOSYSTEM", "1"},
          {"GIT_CONFIG_GLOBAL", "/dev/null"},
          {"GIT_AUTHOR_DATE", "2020-01-02T03:04:05 +0000"},
          {"GIT_COMMITTER_DATE", "2020-01-02T03:04:05 +0000"}};
}

// Writes the inputs of `program` into `dir` and returns the command that runs it there.
e2e::Command prepare(const std::string& program, const e2e::TempDir& dir) {
  e2e::Command c;
  c.cwd = dir.path();
  c.env = {{"LC_ALL", "C"}, {"HOME", dir.path()}};
  auto script = [](const char* name) {
    return std::vector<std::string>{"/bin/sh", e2e::source(std::string("programs/") + name)};
  };
  if (program == "python3") {
    c.argv = {python(), "-B", e2e::source("programs/workload.py")};
    c.env.push_back({"PYTHONHASHSEED", "0"});
  } else if (program == "python3_threads") {
    c.argv = {python(), "-B", e2e::source("programs/threads.py")};
  } else if (program == "python3_modules") {
    c.argv = {python(), "-B", e2e::source("programs/modules.py")};
  } else if (program == "sqlite3") {
    e2e::write_file(dir / "load.sql", sqlite_script());
    c.argv = {"sqlite3", "-batch", "db.sqlite"};
    c.stdin_path = dir / "load.sql";
  } else if (program == "sqlite3_transactions") {
    c.argv = {"sqlite3", "-batch", "db.sqlite"};
    c.stdin_path = e2e::source("programs/transactions.sql");
  } else if (program == "git" || program == "git_many_files") {
    if (program == "git_many_files") write_many_files(dir / "repo");
    c.argv = script(program == "git" ? "git_workload.sh" : "git_many_files.sh");
    auto env = git_env();
    c.env.insert(c.env.end(), env.begin(), env.end());
  } else if (program == "sort") {
    e2e::write_file(dir / "input.txt", sort_input());
    c.argv = {"sort", "-t", " ", "-k2,2n", "-k1,1", "input.txt"};
  } else if (program == "awk") {
    e2e::write_file(dir / "input.txt", sort_input());
    c.argv = script("awk_workload.sh");
  } else if (program == "tar") {
    write_archive_tree(dir / "tree");
    c.argv = script("archive.sh");
  } else if (program == "perl") {
    c.argv = {"perl", e2e::source("programs/workload.pl")};
    c.env.push_back({"PERL_HASH_SEED", "0"});
  } else if (program == "perl_regex") {
    c.argv = {"perl", e2e::source("programs/regex.pl")};
  } else if (program == "gxx") {
    c.argv = {"g++", "-O2", "-std=c++17", "-o", "prog", e2e::source("programs/compile_me.cc")};
  } else if (program == "gcc") {
    c.argv = {"gcc", "-O2", "-g", "-Wall", "-o", "prog", e2e::source("programs/compile_me.c")};
  }
  return c;
}

struct Outcome {
  e2e::Command cmd;
  e2e::Result result;
  std::string output;  // stdout, and for g++ and gcc what the compiled program printed
  std::vector<e2e::LeakReport> reports;  // leak reports written (not with Mode::Stats)
  std::string report_error;              // why the reports could not be read
};

// Rough shape of the MPSHIM_STATS table: the shim's name and the main counters.
bool has_stats_table(const std::string& err) {
  for (const char* word : {"mpshim", "allocated", "peak", "reserved", "mallocs", "frees"})
    if (err.find(word) == std::string::npos) return false;
  return true;
}

// Runs `program` in a fresh directory; the directory is kept when the run fails, its output
// differs from `expected` or the shim printed something, so the reproduction command works.
// Leak reports go to a directory of their own: the programs list and archive their working
// directories.
Outcome run_program(const std::string& program, Mode mode, const Outcome* expected) {
  e2e::TempDir dir, reports;
  Outcome o;
  o.cmd = prepare(program, dir);
  o.cmd.preload = mode != Mode::Plain;
  // The workloads are shell scripts: the real programs they run are what is tested here.
  if (mode != Mode::Plain) o.cmd.env.push_back({"MPSHIM_CHILDREN", "all"});
  if (mode != Mode::Plain && mode != Mode::Stats) {
    auto env = e2e::json_report_env(reports.path());
    o.cmd.env.insert(o.cmd.env.end(), env.begin(), env.end());
  }
  if (mode == Mode::LeaksOff) o.cmd.env.push_back({"MPSHIM_LEAKS", "0"});
  if (mode == Mode::Stats) o.cmd.env.push_back({"MPSHIM_STATS", "1"});
  if (mode == Mode::HostOff) o.cmd.env.push_back({"MPSHIM_HOST", "off"});
  o.result = e2e::run(o.cmd);
  o.output = o.result.out;
  try {
    o.reports = e2e::read_json_reports(reports.path());
  } catch (const std::exception& e) {
    o.report_error = e.what();
  }
  if ((program == "gxx" || program == "gcc") && o.result.ok()) {
    e2e::Command p;
    p.argv = {dir / "prog"};
    p.preload = false;
    e2e::Result pr = e2e::run(p);
    o.output += "compiled program: exit " + std::to_string(pr.exit_code) + "\n" + pr.out;
  }
  if (!o.result.ok() || (expected && o.output != expected->output) || !o.report_error.empty() ||
      (mode != Mode::Stats && !e2e::shim_lines(o.result.err).empty())) {
    dir.keep();
    reports.keep();
  }
  return o;
}

const Outcome& plain_run(const std::string& program) {
  static std::map<std::string, Outcome> cache;
  auto it = cache.find(program);
  if (it == cache.end())
    it = cache.emplace(program, run_program(program, Mode::Plain, nullptr)).first;
  return it->second;
}

void check_program(const std::string& program, Mode mode) {
  const Outcome& plain = plain_run(program);
  BOOST_REQUIRE_MESSAGE(plain.result.ok() && !plain.output.empty(),
                        program << " fails without the shim (environment broken?): "
                                << e2e::reproduce(plain.cmd) << "\n"
                                << plain.result.describe());
  Outcome o = run_program(program, mode, &plain);
  std::string how = "reproduce: " + e2e::reproduce(o.cmd) + "\n";
  BOOST_TEST(!o.result.timed_out, how << o.result.describe());
  BOOST_TEST(o.result.signal == 0, how << o.result.describe());
  BOOST_TEST(o.result.exit_code == plain.result.exit_code, how << o.result.describe());
  BOOST_TEST(o.output == plain.output,
             how << "output differs at " << e2e::first_difference(plain.output, o.output));
  if (mode == Mode::Stats) {
    BOOST_TEST(has_stats_table(o.result.err),
               how << "no statistics table on stderr; stderr ends with:\n"
                   << o.result.err.substr(o.result.err.size() - std::min<size_t>(2000, o.result.err.size())));
  } else {
    BOOST_TEST(e2e::shim_lines(o.result.err).empty(),
               how << "the shim printed:\n" << e2e::shim_lines(o.result.err));
  }
  BOOST_TEST(o.report_error.empty(), how << o.report_error);
  if (mode == Mode::Shim)
    BOOST_TEST(!o.reports.empty(), how << "no leak report written");
  if (mode == Mode::LeaksOff)
    BOOST_TEST(o.reports.empty(), how << "MPSHIM_LEAKS=0 wrote a leak report");
  BOOST_TEST_MESSAGE(program << ": " << plain.result.seconds << " s without the shim, "
                             << o.result.seconds << " s with it");
}

}  // namespace

#define PROGRAM_CASES(id)                                                            \
  BOOST_AUTO_TEST_CASE(id##_same_output) { check_program(#id, Mode::Shim); }         \
  BOOST_AUTO_TEST_CASE(id##_leaks_off) { check_program(#id, Mode::LeaksOff); }       \
  BOOST_AUTO_TEST_CASE(id##_stats_table) { check_program(#id, Mode::Stats); }        \
  BOOST_AUTO_TEST_CASE(id##_host_off) { check_program(#id, Mode::HostOff); }

BOOST_AUTO_TEST_SUITE(programs)

PROGRAM_CASES(python3)
PROGRAM_CASES(python3_threads)
PROGRAM_CASES(python3_modules)
PROGRAM_CASES(sqlite3)
PROGRAM_CASES(sqlite3_transactions)
PROGRAM_CASES(git)
PROGRAM_CASES(git_many_files)
PROGRAM_CASES(sort)
PROGRAM_CASES(awk)
PROGRAM_CASES(tar)
PROGRAM_CASES(perl)
PROGRAM_CASES(perl_regex)
PROGRAM_CASES(gxx)
PROGRAM_CASES(gcc)

BOOST_AUTO_TEST_SUITE_END()
