#include "checks.h"

#include <boost/test/results_collector.hpp>

#include <algorithm>
#include <cstdlib>
#include <regex>

namespace leaktest {

namespace utf = boost::unit_test;

const Paths& paths() {
  static bool done = false;
  if (!done) {
    done = true;
    auto& m = utf::framework::master_test_suite();
    if (m.argc > 1) g_paths.bin = m.argv[1];
    if (m.argc > 2) g_paths.src = m.argv[2];
    if (m.argc > 3) g_paths.shim = m.argv[3];
    if (const char* s = std::getenv("SHIM_TEST_LIB"); s && *s)
      g_paths.shim = std::string(s) == "none" ? std::string() : s;
  }
  return g_paths;
}

boost::test_tools::assertion_result shim_given(utf::test_unit_id) {
  boost::test_tools::assertion_result r(!paths().shim.empty());
  r.message() << "SHIM_TEST_LIB=none: no library to test";
  return r;
}

boost::test_tools::assertion_result valgrind_found(utf::test_unit_id) {
  std::string out;
  return boost::test_tools::assertion_result(run_shell("valgrind --version", &out) == 0);
}

namespace {

/// Output directories of each test case; those of passed cases are removed at the end, the
/// others are kept so the "reproduce:" commands in the log still work.
std::vector<std::pair<utf::test_unit_id, std::string>> g_run_dirs;

struct RemoveDirsOfPassedCases {
  ~RemoveDirsOfPassedCases() {
    for (auto& [id, dir] : g_run_dirs)
      if (utf::results_collector.results(id).passed())
        std::system(("rm -rf '" + dir + "'").c_str());
  }
};
BOOST_TEST_GLOBAL_FIXTURE(RemoveDirsOfPassedCases);

}  // namespace

const std::vector<std::string> kOpts{"O0", "O2"};

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

Report the_report(const Run& r) {
  BOOST_TEST_REQUIRE(r.reports.size() == 1u, "report files for pid " << r.pid << " in " << r.dir
                                                                      << "; stderr: " << r.err);
  BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
  Report rep = read_report(r.reports.at(r.pid));
  BOOST_TEST(rep.pid == uint64_t(r.pid));
  return rep;
}

Run run_prog(const std::string& name, const std::string& opt, RunOptions o) {
  BOOST_TEST_REQUIRE(!paths().shim.empty(), "no libmpshim.so given (argument or SHIM_TEST_LIB)");
  BOOST_TEST_REQUIRE(file_exists(g_paths.shim), g_paths.shim << " does not exist");
  Run r = run(program(name, opt), o);
  g_run_dirs.emplace_back(utf::framework::current_test_case().p_id, r.dir);
  return r;
}

void check_class(const char* what, const ClassTotals& t, uint64_t bytes, uint64_t blocks,
                 uint64_t groups) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(t.bytes == bytes);
    BOOST_TEST(t.blocks == blocks);
    BOOST_TEST(t.groups == groups);
  }
}

const Group* check_group(const Report& rep, const std::string& cls, const std::string& site,
                         uint64_t bytes, uint64_t count, const std::string& function) {
  auto gs = rep.groups(cls, site);
  BOOST_TEST_CONTEXT(cls << " group of " << site) {
    BOOST_TEST_REQUIRE(gs.size() == 1u);
    const Group* g = gs[0];
    BOOST_TEST(g->bytes == bytes);
    BOOST_TEST(g->count == count);
    BOOST_TEST(g->function == function);
    BOOST_TEST(g->frame_of(site) == 0);
    return g;
  }
  return nullptr;
}

void check_line(const Group& g, const std::string& file, const std::string& marker, size_t frame) {
  BOOST_TEST_REQUIRE(g.stack.size() > frame);
  BOOST_TEST(ends_with(g.stack[frame].file, "/" + file), g.stack[frame].file);
  BOOST_TEST(g.stack[frame].line == uint64_t(marker_line(file, marker)));
}

void check_no_leaks(const Report& rep) {
  check_class("direct", rep.direct, 0, 0, 0);
  check_class("indirect", rep.indirect, 0, 0, 0);
  for (auto& g : rep.leaks) BOOST_TEST(g.cls == "reachable");
}

Memcheck memcheck(const std::string& exe, std::string* log) {
  int rc = run_shell("env -u LD_PRELOAD valgrind --leak-check=full --show-leak-kinds=all " + exe, log);
  BOOST_TEST_REQUIRE(rc == 0, *log);
  static const std::regex re(R"((definitely|indirectly|possibly) lost: ([\d,]+) bytes in ([\d,]+) blocks)");
  auto num = [](std::string s) {
    s.erase(std::remove(s.begin(), s.end(), ','), s.end());
    return std::stoull(s);
  };
  Memcheck m;
  for (std::sregex_iterator it(log->begin(), log->end(), re), end; it != end; ++it) {
    std::string kind = (*it)[1];
    uint64_t bytes = num((*it)[2]), blocks = num((*it)[3]);
    (kind == "definitely" ? m.definite_bytes : kind == "indirectly" ? m.indirect_bytes : m.possible_bytes) = bytes;
    (kind == "definitely" ? m.definite_blocks : kind == "indirectly" ? m.indirect_blocks : m.possible_blocks) = blocks;
  }
  return m;
}

}  // namespace leaktest
