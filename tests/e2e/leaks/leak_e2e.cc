// End-to-end leak report tests: every program in this folder is run under
// LD_PRELOAD=libmpshim.so and its report is checked against the figures the program's
// header comment states (bytes and blocks per class, groups, allocation function, frames).
// Arguments after "--": <programs build dir> <source dir> [libmpshim.so]. The environment
// variable SHIM_TEST_LIB, when set, names the library instead; SHIM_TEST_LIB=none skips
// every test that needs the shim and only checks the programs' figures with valgrind.
#define BOOST_TEST_MODULE leak_e2e
#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <sstream>

#include "checks.h"
#include "many.h"

using namespace leaktest;
namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;

namespace {

// ---- text form ---------------------------------------------------------------------------

struct TextGroup {
  std::string cls, function;
  uint64_t bytes = 0, count = 0;
  std::vector<std::string> frames;  ///< function names, innermost first
};

/// A size as the SUMMARY line prints it: "40 B", "1.4 KiB", "23.7 MiB".
struct ShownSize {
  std::string text;
  /// True when `bytes` prints as this text (exactly for B, else to the digits shown).
  bool shows(uint64_t bytes) const {
    std::istringstream in(text);
    double v = 0;
    std::string unit;
    in >> v >> unit;
    const std::vector<std::string> units{"B", "KiB", "MiB", "GiB", "TiB"};
    auto u = std::find(units.begin(), units.end(), unit);
    if (u == units.end()) return false;
    double scale = double(uint64_t(1) << (10 * (u - units.begin())));
    size_t dot = text.find('.'), sp = text.find(' ');
    int decimals = dot == std::string::npos || dot > sp ? 0 : int(sp - dot - 1);
    if (unit == "B") return decimals == 0 && uint64_t(v) == bytes;
    return std::abs(v * scale - double(bytes)) <= 0.5 * std::pow(10.0, -decimals) * scale + 1e-9;
  }
};
std::ostream& operator<<(std::ostream& o, const ShownSize& s) { return o << '"' << s.text << '"'; }

struct TextReport {
  bool header = false;    ///< "==PID== mpshim: leak report"
  bool no_leaks = false;  ///< "==PID== mpshim: no leaks found"
  bool summary = false;
  uint64_t total_bytes = 0, total_blocks = 0, direct_blocks = 0, indirect_blocks = 0,
           listed = 0, groups = 0;
  std::string program;  ///< named at the end of the SUMMARY line
  ShownSize direct_size, indirect_size;
  std::vector<TextGroup> leaks;
};

TextReport parse_text(const std::string& text, pid_t pid) {
  static const std::regex leak_re(
      R"(^(Direct|Indirect|Reachable) leak of (\d+) byte\(s\) in (\d+) object\(s\) allocated with (.+) from:$)");
  static const std::regex frame_re(R"(^\s+#(\d+) 0x[0-9a-f]+ in (.*)$)");
  static const std::regex summary_re(
      R"(^SUMMARY: mpshim: (\d+) byte\(s\) leaked in (\d+) allocation\(s\): direct ([\d.]+ \w+) in (\d+), indirect ([\d.]+ \w+) in (\d+)(, [^(]*)? \((\d+) of (\d+) groups listed\) in (\S+)$)");
  TextReport t;
  std::istringstream in(text);
  std::string line;
  std::smatch m;
  while (std::getline(in, line)) {
    if (line == "==" + std::to_string(pid) + "== mpshim: leak report") {
      t.header = true;
    } else if (line == "==" + std::to_string(pid) + "== mpshim: no leaks found") {
      t.no_leaks = true;
    } else if (std::regex_match(line, m, leak_re)) {
      TextGroup g;
      g.cls = m[1];
      g.bytes = std::stoull(m[2]);
      g.count = std::stoull(m[3]);
      g.function = m[4];
      t.leaks.push_back(g);
    } else if (std::regex_match(line, m, frame_re) && !t.leaks.empty()) {
      // "fn(args) module+0xoff file:line": the function ends before the module token.
      std::istringstream words(m[2].str());
      std::string w, fn;
      while (words >> w && w.find("+0x") == std::string::npos) fn += (fn.empty() ? "" : " ") + w;
      t.leaks.back().frames.push_back(fn);
    } else if (std::regex_search(line, m, summary_re)) {
      t.summary = true;
      t.total_bytes = std::stoull(m[1]);
      t.total_blocks = std::stoull(m[2]);
      t.direct_size.text = m[3];
      t.direct_blocks = std::stoull(m[4]);
      t.indirect_size.text = m[5];
      t.indirect_blocks = std::stoull(m[6]);
      t.listed = std::stoull(m[8]);
      t.groups = std::stoull(m[9]);
      t.program = m[10];
    }
  }
  return t;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(report, *utf::precondition(shim_given))

// ---- several sites -------------------------------------------------------------------------

BOOST_DATA_TEST_CASE(sites_json, bdata::make(kOpts), opt) {
  Run r = run_prog("sites", opt);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    Report rep = the_report(r);
    BOOST_TEST(ends_with(rep.exe, "/leak_sites_" + opt));
    check_class("direct", rep.direct, 1400, 6, 3);
    check_class("indirect", rep.indirect, 0, 0, 0);
    BOOST_TEST(rep.groups_listed == 3u);
    BOOST_TEST(rep.groups_total == 3u);
    BOOST_TEST_REQUIRE(rep.leaks.size() == 3u);
    // Largest first.
    BOOST_TEST(rep.leaks[0].bytes == 900u);
    BOOST_TEST(rep.leaks[1].bytes == 400u);
    BOOST_TEST(rep.leaks[2].bytes == 100u);
    const Group* a = check_group(rep, "direct", "leak_site_a", 100, 1, "malloc");
    const Group* b = check_group(rep, "direct", "leak_site_b", 400, 2, "malloc");
    const Group* c = check_group(rep, "direct", "leak_site_c", 900, 3, "malloc");
    for (const Group* g : {a, b, c}) {
      BOOST_TEST(g->frame_of("main") == 1);
      BOOST_TEST(ends_with(g->stack[0].module, "/leak_sites_" + opt), g->stack[0].module);
    }
    if (opt == "O0") {
      check_line(*a, "sites.c", "@site_a");
      check_line(*b, "sites.c", "@site_b");
      check_line(*c, "sites.c", "@site_c");
    }
  }
}

BOOST_DATA_TEST_CASE(sites_text, bdata::make(kOpts), opt) {
  RunOptions o;
  o.json = false;
  Run r = run_prog("sites", opt, o);
  WITH_RUN(r) {
    BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
    TextReport t = parse_text(read_file(r.reports.at(r.pid)), r.pid);
    BOOST_TEST(t.header);
    BOOST_TEST_REQUIRE(t.summary);
    BOOST_TEST(t.total_bytes == 1400u);
    BOOST_TEST(t.total_blocks == 6u);
    BOOST_TEST(t.program == "leak_sites_" + std::string(opt));
    BOOST_TEST(t.direct_size.shows(1400), t.direct_size);
    BOOST_TEST(t.direct_blocks == 6u);
    BOOST_TEST(t.indirect_size.shows(0), t.indirect_size);
    BOOST_TEST(t.indirect_blocks == 0u);
    BOOST_TEST(t.listed == 3u);
    BOOST_TEST(t.groups == 3u);
    BOOST_TEST_REQUIRE(t.leaks.size() == 3u);
    const char* sites[] = {"leak_site_c", "leak_site_b", "leak_site_a"};
    const uint64_t bytes[] = {900, 400, 100}, counts[] = {3, 2, 1};
    for (int i = 0; i < 3; i++) {
      BOOST_TEST(t.leaks[i].cls == "Direct");
      BOOST_TEST(t.leaks[i].bytes == bytes[i]);
      BOOST_TEST(t.leaks[i].count == counts[i]);
      BOOST_TEST(t.leaks[i].function == "malloc");
      BOOST_TEST_REQUIRE(t.leaks[i].frames.size() >= 2u);
      BOOST_TEST(t.leaks[i].frames[0] == sites[i]);
      BOOST_TEST(t.leaks[i].frames[1] == "main");
    }
  }
}

BOOST_AUTO_TEST_CASE(text_to_stderr_by_default) {
  RunOptions o;
  o.json = false;
  o.report_to_file = false;
  Run r = run_prog("sites", "O2", o);
  WITH_RUN(r) {
    BOOST_TEST(r.reports.empty());
    TextReport t = parse_text(r.err, r.pid);
    BOOST_TEST(t.header);
    BOOST_TEST(t.summary);
    BOOST_TEST(t.total_bytes == 1400u);
    BOOST_TEST(t.leaks.size() == 3u);
    BOOST_TEST(r.out.empty());
  }
}

BOOST_AUTO_TEST_CASE(no_stacks_one_group_per_function) {
  RunOptions o;
  o.env = {{"MPSHIM_STACK_DEPTH", "0"}};
  Run r = run_prog("sites", "O2", o);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 1400, 6, 1);
    BOOST_TEST_REQUIRE(rep.leaks.size() == 1u);
    BOOST_TEST(rep.leaks[0].function == "malloc");
    BOOST_TEST(rep.leaks[0].stack.empty());
  }
  o.json = false;
  Run t = run_prog("sites", "O2", o);
  WITH_RUN(t) {
    BOOST_TEST_REQUIRE(t.reports.count(t.pid) == 1u);
    std::string text = read_file(t.reports.at(t.pid));
    BOOST_TEST(text.find("(no stack recorded)") != std::string::npos, text);
    BOOST_TEST(parse_text(text, t.pid).leaks.size() == 1u);
  }
}

// Without stacks, the blocks the dynamic linker allocates for each thread (its TLS and
// thread vectors) are still not leaks: only the program's own are reported.
BOOST_AUTO_TEST_CASE(no_stacks_threads) {
  RunOptions o;
  o.env = {{"MPSHIM_STACK_DEPTH", "0"}};
  Run r = run_prog("threads", "O2", o);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 38400, 800, 1);
    BOOST_TEST(rep.leaks.size() == 1u);
  }
}

BOOST_AUTO_TEST_CASE(report_max_caps_groups) {
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_MAX", "2"}};
  Run r = run_prog("sites", "O2", o);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 1400, 6, 3);
    BOOST_TEST(rep.groups_listed == 2u);
    BOOST_TEST(rep.groups_total == 3u);
    BOOST_TEST_REQUIRE(rep.leaks.size() == 2u);
    BOOST_TEST(rep.leaks[0].bytes == 900u);
    BOOST_TEST(rep.leaks[1].bytes == 400u);
  }
  o.json = false;
  Run t = run_prog("sites", "O2", o);
  WITH_RUN(t) {
    BOOST_TEST_REQUIRE(t.reports.count(t.pid) == 1u);
    TextReport tr = parse_text(read_file(t.reports.at(t.pid)), t.pid);
    BOOST_TEST(tr.summary);
    BOOST_TEST(tr.listed == 2u);
    BOOST_TEST(tr.groups == 3u);
    BOOST_TEST(tr.total_bytes == 1400u);
    BOOST_TEST(tr.leaks.size() == 2u);
  }
}

BOOST_AUTO_TEST_CASE(leak_exitcode) {
  RunOptions o;
  o.env = {{"MPSHIM_LEAK_EXITCODE", "23"}};
  for (const char* name : {"sites", "containers", "cycle"}) {
    Run r = run_prog(name, "O2", o);
    WITH_RUN(r) BOOST_TEST(r.status == 23);
  }
  for (const char* name : {"clean_basic", "clean_exit", "clean_thread_exit", "reachable", "interior"}) {
    Run r = run_prog(name, "O2", o);
    WITH_RUN(r) BOOST_TEST(r.status == 0);
  }
  Run plain = run_prog("sites", "O2");
  WITH_RUN(plain) BOOST_TEST(plain.status == 0);
  // Suppressed leaks alone do not set the status; a remaining one does.
  RunOptions s = o;
  s.env.emplace_back("MPSHIM_SUPPRESSIONS", g_paths.src + "/suppress.supp");
  Run sup = run_prog("suppress", "O2", s);
  WITH_RUN(sup) BOOST_TEST(sup.status == 23);
}

BOOST_AUTO_TEST_CASE(folded_stacks) {
  RunOptions o;
  o.env = {{"MPSHIM_FOLDED", "@DIR@/folded.%p.txt"}};
  Run r = run_prog("sites", "O2", o);
  WITH_RUN(r) {
    std::string path = r.dir + "/folded." + std::to_string(r.pid) + ".txt";
    BOOST_TEST_REQUIRE(file_exists(path));
    std::istringstream in(read_file(path));
    std::string line;
    uint64_t total = 0;
    std::map<std::string, uint64_t> by_site;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      size_t sp = line.rfind(' ');
      BOOST_TEST_REQUIRE(sp != std::string::npos, line);
      uint64_t v = std::stoull(line.substr(sp + 1));
      total += v;
      std::string stack = line.substr(0, sp);
      // Root first: "...;main;leak_site_x".
      for (const char* s : {"leak_site_a", "leak_site_b", "leak_site_c"})
        if (ends_with(stack, std::string(";main;") + s)) by_site[s] += v;
    }
    BOOST_TEST(total == 1400u);
    BOOST_TEST(by_site["leak_site_a"] == 100u);
    BOOST_TEST(by_site["leak_site_b"] == 400u);
    BOOST_TEST(by_site["leak_site_c"] == 900u);
  }
}

BOOST_AUTO_TEST_CASE(tracking_off_reports_nothing) {
  RunOptions o;
  o.env = {{"MPSHIM_LEAKS", "0"}, {"MPSHIM_LEAK_EXITCODE", "23"}};
  Run r = run_prog("sites", "O2", o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    for (auto& [pid, path] : r.reports) BOOST_TEST(read_report(path).leaks.empty());
  }
}

// ---- C++ containers, threads, realloc, allocation functions --------------------------

BOOST_DATA_TEST_CASE(containers_indirect, bdata::make(kOpts), opt) {
  Run r = run_prog("containers", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 128, 2, 2);
    BOOST_TEST(rep.indirect.bytes == 573u);
    BOOST_TEST(rep.indirect.blocks == 10u);
    check_group(rep, "direct", "leak_owner", 104, 1, "operator new");
    check_group(rep, "direct", "leak_string_list", 24, 1, "operator new");
    // Every buffer is indirect and was allocated (through std::allocator) under its owner.
    uint64_t owner_bytes = 0, owner_blocks = 0, list_bytes = 0, list_blocks = 0;
    for (auto& g : rep.leaks) {
      if (g.cls != "indirect") continue;
      BOOST_TEST(g.function == "operator new");
      if (g.frame_of("leak_owner") >= 0) owner_bytes += g.bytes, owner_blocks += g.count;
      if (g.frame_of("leak_string_list") >= 0) list_bytes += g.bytes, list_blocks += g.count;
    }
    BOOST_TEST(owner_bytes == 281u);
    BOOST_TEST(owner_blocks == 5u);
    BOOST_TEST(list_bytes == 292u);
    BOOST_TEST(list_blocks == 5u);
  }
}

BOOST_DATA_TEST_CASE(containers_text, bdata::make(kOpts), opt) {
  RunOptions o;
  o.json = false;
  Run r = run_prog("containers", opt, o);
  WITH_RUN(r) {
    BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
    TextReport t = parse_text(read_file(r.reports.at(r.pid)), r.pid);
    BOOST_TEST_REQUIRE(t.summary);
    BOOST_TEST(t.total_bytes == 701u);
    BOOST_TEST(t.total_blocks == 12u);
    BOOST_TEST(t.direct_size.shows(128), t.direct_size);
    BOOST_TEST(t.direct_blocks == 2u);
    BOOST_TEST(t.indirect_size.shows(573), t.indirect_size);
    BOOST_TEST(t.indirect_blocks == 10u);
    uint64_t direct = 0, indirect = 0;
    for (auto& g : t.leaks) (g.cls == "Direct" ? direct : indirect) += g.bytes;
    BOOST_TEST(direct == 128u);
    BOOST_TEST(indirect == 573u);
    BOOST_TEST(t.listed == t.leaks.size());
  }
}

BOOST_DATA_TEST_CASE(threads_one_site, bdata::make(kOpts), opt) {
  Run r = run_prog("threads", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 38400, 800, 1);
    check_class("indirect", rep.indirect, 0, 0, 0);
    const Group* g = check_group(rep, "direct", "leak_in_thread", 38400, 800, "malloc");
    BOOST_TEST(g->frame_of("thread_main") == 1);
  }
}

// The library copied under a name of the user's still knows its own frames: the leaks'
// stacks start in the program, and the dynamic linker's blocks (each thread's TLS vector,
// allocated by pthread_create) stay the dynamic linker's, as under its own name, with the
// checks too.
BOOST_DATA_TEST_CASE(renamed_library, bdata::make({"off", "light"}), check) {
  const char* tmp = getenv("TMPDIR");
  std::string dir = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/mpshim-renamed-XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(dir.data()) != nullptr);
  std::string lib = dir + "/libother.so";
  std::filesystem::copy_file(g_paths.shim, lib);
  RunOptions o;
  o.preload = false;
  o.env = {{"LD_PRELOAD", lib}, {"MPSHIM_CHECK", check}};
  Run r = run_prog("threads", "O2", o);
  std::filesystem::remove_all(dir);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 38400, 800, 1);
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "direct", "leak_in_thread", 38400, 800, "malloc");
  }
}

// Frames in system libraries (start_thread, in libc) are named from the separate debug
// file's symbol table without its DWARF, so no file:line; MPSHIM_SYSTEM_DEBUG=1 reads the
// DWARF too. Without a debug file for libc, both runs name the frame alike (or not at all).
BOOST_AUTO_TEST_CASE(system_library_frames) {
  Run plain = run_prog("threads", "O2");
  RunOptions system_debug;
  system_debug.env = {{"MPSHIM_SYSTEM_DEBUG", "1"}};
  Run full = run_prog("threads", "O2", system_debug);
  WITH_RUN(full) {
    Report a = the_report(plain), b = the_report(full);
    const Group* ga = check_group(a, "direct", "leak_in_thread", 38400, 800, "malloc");
    const Group* gb = check_group(b, "direct", "leak_in_thread", 38400, 800, "malloc");
    int ia = ga->frame_of("start_thread"), ib = gb->frame_of("start_thread");
    BOOST_TEST(ia == ib);
    if (ib >= 0 && !gb->stack[ib].file.empty()) {
      BOOST_TEST(ga->stack[ia].file.empty());
      BOOST_TEST(ga->stack[ia].module == gb->stack[ib].module);
    } else {
      BOOST_TEST_MESSAGE("no separate debug file for libc here: names compared only");
    }
  }
}

BOOST_DATA_TEST_CASE(realloc_chains, bdata::make(kOpts), opt) {
  Run r = run_prog("realloc", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 705024, 3, 3);
    check_group(rep, "direct", "leak_grown_chain", 5000, 1, "realloc");
    check_group(rep, "direct", "leak_shrunk_chain", 24, 1, "realloc");
    check_group(rep, "direct", "leak_big_chain", 700000, 1, "realloc");
  }
}

BOOST_DATA_TEST_CASE(allocation_functions, bdata::make(kOpts), opt) {
  Run r = run_prog("alloc_funcs", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 7857, 6, 6);
    check_group(rep, "direct", "leak_calloc", 330, 1, "calloc");
    check_group(rep, "direct", "leak_posix_memalign", 640, 1, "posix_memalign");
    check_group(rep, "direct", "leak_aligned_alloc", 1280, 1, "aligned_alloc");
    check_group(rep, "direct", "leak_memalign", 2560, 1, "memalign");
    check_group(rep, "direct", "leak_valloc", 3000, 1, "valloc");
    // strdup allocates inside libc: its frame comes first, the caller next.
    auto s = rep.groups("direct", "leak_strdup");
    BOOST_TEST_REQUIRE(s.size() == 1u);
    BOOST_TEST(s[0]->bytes == 47u);
    BOOST_TEST(s[0]->count == 1u);
    BOOST_TEST(s[0]->function == "malloc");
    BOOST_TEST(s[0]->frame_of("leak_strdup") == 1);
  }
}

BOOST_DATA_TEST_CASE(cxx_operators, bdata::make(kOpts), opt) {
  Run r = run_prog("cxx_new", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 732, 5, 5);
    check_group(rep, "direct", "leak_new", 24, 1, "operator new");
    check_group(rep, "direct", "leak_new_array", 100, 1, "operator new[]");
    check_group(rep, "direct", "leak_new_array_cookie", 32, 1, "operator new[]");
    for (auto [site, bytes, array] : {std::tuple{"leak_aligned_new", 192u, false},
                                      std::tuple{"leak_aligned_new_array", 384u, true}}) {
      auto gs = rep.groups("direct", site);
      BOOST_TEST_REQUIRE(gs.size() == 1u);
      const std::string& f = gs[0]->function;
      BOOST_TEST(gs[0]->bytes == bytes);
      BOOST_TEST(gs[0]->frame_of(site) == 0);
      BOOST_TEST((f.rfind("operator new", 0) == 0 && f.find("align") != std::string::npos), f);
      BOOST_TEST((f.find("[]") != std::string::npos) == array, f);
    }
  }
}

// C++ frames are named in full, as valgrind and LeakSanitizer name them: a member function
// with its namespace, class and parameters, a lambda with the function it is in (debug
// info alone gives `fill` and `<lambda>`).
BOOST_DATA_TEST_CASE(cxx_frames_named_in_full, bdata::make(kOpts), opt) {
  Run r = run_prog("names", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 96, 2, 2);
    std::map<std::string, uint64_t> by_frame;
    for (const Group& g : rep.leaks)
      if (!g.stack.empty()) by_frame[g.stack[0].function] += g.bytes;
    BOOST_TEST(by_frame["shop::Basket::fill(int)"] == 40u);
    BOOST_TEST(by_frame["make_counter(int)::{lambda(int)#1}::operator()(int) const"] == 56u);
  }
}

// ---- deep stacks, many leaks ------------------------------------------------------------

BOOST_DATA_TEST_CASE(deep_recursion, bdata::make(kOpts), opt) {
  for (unsigned depth : {16u, 64u}) {
    RunOptions o;
    o.env = {{"MPSHIM_STACK_DEPTH", std::to_string(depth)}};
    Run r = run_prog("recursion", opt, o);
    WITH_RUN(r) {
      Report rep = the_report(r);
      check_class("direct", rep.direct, 2699, 5, 2);
      const Group* g40 = check_group(rep, "direct", "leak_bottom_40", 231, 3, "malloc");
      const Group* g1k = check_group(rep, "direct", "leak_bottom_1000", 2468, 2, "malloc");
      BOOST_TEST(g1k->stack.size() == depth);
      BOOST_TEST(g40->stack.size() <= depth);
      size_t descents = std::count_if(g40->stack.begin(), g40->stack.end(),
                                      [](const Frame& f) { return names(f.function, "descend_40"); });
      if (depth == 16) {
        BOOST_TEST(g40->stack.size() == 16u);
        BOOST_TEST(descents == 15u);
      } else {
        BOOST_TEST(descents == 40u);
        BOOST_TEST(g40->frame_of("repeat") == 41);
        BOOST_TEST(g40->frame_of("main") == 42);
      }
    }
  }
}

BOOST_DATA_TEST_CASE(million_and_ten_thousand_sites, bdata::make(kOpts), opt) {
  Run r = run_prog("many", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    uint64_t site_bytes = 0;
    for (int i = 0; i < N_SITES; i++) site_bytes += SITE_BYTES(i);
    const uint64_t million = uint64_t(MILLION_COUNT) * MILLION_BYTES;
    check_class("direct", rep.direct, million + site_bytes, MILLION_COUNT + N_SITES, 1 + N_SITES);
    BOOST_TEST(rep.groups_listed == uint64_t(1 + N_SITES));
    BOOST_TEST(rep.groups_total == uint64_t(1 + N_SITES));
    BOOST_TEST_REQUIRE(rep.leaks.size() == size_t(1 + N_SITES));
    BOOST_TEST(rep.leaks[0].bytes == million);
    BOOST_TEST(rep.leaks[0].count == uint64_t(MILLION_COUNT));
    BOOST_TEST(names(rep.leaks[0].stack.at(0).function, "leak_a_million"));
    // Every generated site exactly once, with its own size.
    std::vector<int> seen(N_SITES, 0);
    size_t wrong = 0;
    for (size_t k = 1; k < rep.leaks.size(); k++) {
      const Group& g = rep.leaks[k];
      const std::string& f = g.stack.empty() ? std::string() : g.stack[0].function;
      int i = f.size() == 10 && f.rfind("site_", 0) == 0 ? std::atoi(f.c_str() + 5) : -1;
      if (i < 0 || i >= N_SITES || g.count != 1 || g.bytes != uint64_t(SITE_BYTES(i)) ||
          g.function != "malloc" || g.cls != "direct")
        wrong++;
      else
        seen[i]++;
    }
    BOOST_TEST(wrong == 0u);
    BOOST_TEST(std::count(seen.begin(), seen.end(), 1) == N_SITES);
  }
}

BOOST_AUTO_TEST_CASE(ten_thousand_sites_fast) {
  for (bool json : {true, false}) {
    RunOptions o;
    o.args = {"sites"};
    o.json = json;
    Run r = run_prog("many", "O2", o);
    WITH_RUN(r) {
      BOOST_TEST(r.status == 0);
      BOOST_TEST(r.seconds < 3.0, "took " << r.seconds << " s");
      BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
      if (json) {
        Report rep = read_report(r.reports.at(r.pid));
        BOOST_TEST(rep.leaks.size() == size_t(N_SITES));
      } else {
        TextReport t = parse_text(read_file(r.reports.at(r.pid)), r.pid);
        BOOST_TEST(t.leaks.size() == size_t(N_SITES));
        BOOST_TEST(t.listed == uint64_t(N_SITES));
      }
    }
  }
}

// ---- processes and libraries ------------------------------------------------------------

BOOST_DATA_TEST_CASE(fork_one_report_per_process, bdata::make(kOpts), opt) {
  Run r = run_prog("fork", opt);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    BOOST_TEST_REQUIRE(r.reports.size() == 2u);
    BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
    Report parent = read_report(r.reports.at(r.pid));
    auto other = r.reports.begin()->first == r.pid ? std::next(r.reports.begin()) : r.reports.begin();
    Report child = read_report(other->second);
    BOOST_TEST(parent.pid == uint64_t(r.pid));
    BOOST_TEST(child.pid == uint64_t(other->first));
    check_class("parent direct", parent.direct, 144, 2, 2);
    check_group(parent, "direct", "leak_before_fork", 33, 1, "malloc");
    check_group(parent, "direct", "leak_in_parent", 111, 1, "malloc");
    check_class("child direct", child.direct, 477, 3, 2);
    check_group(child, "direct", "leak_before_fork", 33, 1, "malloc");
    check_group(child, "direct", "leak_in_child", 444, 2, "malloc");
  }
}

// _exit and _Exit run no exit handler: the report is written at the call, with what main
// still holds in its frame then reachable, and stdout's buffer dropped as _exit drops it.
BOOST_DATA_TEST_CASE(immediate_exit_reports, bdata::make(kOpts) * bdata::make({"_exit", "_Exit", "fork", "vfork"}),
                     opt, how) {
  RunOptions o;
  o.args = {how};
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  Run r = run_prog("immediate_exit", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 7);
    BOOST_TEST(r.out.find("unflushed") == std::string::npos, r.out);
    // A child of fork or vfork that leaves with _exit writes no report of its own.
    BOOST_TEST(r.reports.size() == 1u);
    Report rep = the_report(r);
    check_class("direct", rep.direct, 321, 1, 1);
    check_group(rep, "direct", "leak_before_exit", 321, 1, "malloc");
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "reachable", "at_exit_held", 64, 1, "malloc");
  }
  o.env = {{"MPSHIM_LEAK_EXITCODE", "23"}};
  Run failed = run_prog("immediate_exit", opt, o);
  WITH_RUN(failed) { BOOST_TEST(failed.status == 23); }
}

// A worker's _exit while main returns from main: main's exit waits for the worker's
// report, and the process ends with the worker's status.
BOOST_DATA_TEST_CASE(immediate_exit_from_a_thread, bdata::make(kOpts), opt) {
  RunOptions o;
  o.args = {"thread"};
  Run r = run_prog("immediate_exit", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 7);
    Report rep = the_report(r);
    check_class("direct", rep.direct, 321, 1, 1);
    check_group(rep, "direct", "leak_before_exit", 321, 1, "malloc");
  }
}

// main returns while other threads allocate and free, or wait in calls that a signal
// handler would make fail: blocks freed during the check are not leaks, and the check
// interrupts no call.
BOOST_DATA_TEST_CASE(threads_busy_at_exit, bdata::make(kOpts), opt) {
  for (int round = 0; round < 3; ++round) {
    Run r = run_prog("busy_threads", opt);
    WITH_RUN(r) {
      BOOST_TEST(r.status == 0);
      BOOST_TEST(r.out.empty(), r.out);
      Report rep = the_report(r);
      check_class("direct", rep.direct, 128, 3, 2);
      check_group(rep, "direct", "leak_in_main", 64, 1, "malloc");
      check_group(rep, "direct", "leak_in_churner", 64, 2, "malloc");
      check_class("indirect", rep.indirect, 0, 0, 0);
    }
  }
}

// abort() called by the program, by std::terminate or by a failed assert(): the report,
// then SIGABRT.
BOOST_DATA_TEST_CASE(abort_reports, bdata::make(kOpts) * bdata::make({"call", "terminate", "assert"}), opt, who) {
  RunOptions o;
  o.args = {who};
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}, {"MPSHIM_LEAK_EXITCODE", "23"}};
  Run r = run_prog("abort", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 128 + SIGABRT);  // MPSHIM_LEAK_EXITCODE cannot replace a signal
    Report rep = the_report(r);
    check_class("direct", rep.direct, 432, 1, 1);
    check_group(rep, "direct", "leak_before_abort", 432, 1, "malloc");
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "reachable", "abort_held", 48, 1, "malloc");
    if (std::string(who) == "terminate") BOOST_TEST(r.err.find("nobody catches this") != std::string::npos, r.err);
    if (std::string(who) == "assert")
      BOOST_TEST(r.err.find("Assertion `strcmp(who, \"assert\") != 0 && \"the program's own check\"' failed.") != std::string::npos, r.err);
  }
}

// Inside a signal handler the code it interrupted may hold the allocator's locks: no
// report from _exit or abort there, a note that says why.
BOOST_DATA_TEST_CASE(end_in_handler_notes, bdata::make(kOpts) * bdata::make({"_exit", "abort"}), opt, how) {
  bool exits = std::string(how) == "_exit";
  RunOptions o;
  o.args = {"handler"};
  o.report_to_file = false;
  Run r = run_prog(exits ? "immediate_exit" : "abort", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == (exits ? 7 : 128 + SIGABRT));
    BOOST_TEST(r.reports.empty());
    BOOST_TEST(r.err == "mpshim: " + std::string(how) + " called with signals blocked (in a signal handler?): no leak report\n",
               r.err);
  }
}

BOOST_DATA_TEST_CASE(dlclosed_library_frames, bdata::make(kOpts), opt) {
  RunOptions o;
  std::string lib = "libleak_plugin_" + opt + ".so";
  o.args = {g_paths.bin + "/" + lib};
  Run r = run_prog("dlopen", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    Report rep = the_report(r);
    check_class("direct", rep.direct, 4321, 1, 1);
    const Group* g = check_group(rep, "direct", "plugin_make_leak", 4321, 1, "malloc");
    BOOST_TEST(ends_with(g->stack[0].module, "/" + lib), g->stack[0].module);
    BOOST_TEST(g->frame_of("plugin_entry") == 1);
    BOOST_TEST(g->frame_of("main") == 2);
    if (opt == "O0") check_line(*g, "plugin.c", "@plugin");
  }
}

// ---- classification ---------------------------------------------------------------------

BOOST_DATA_TEST_CASE(cycle_one_direct_one_indirect, bdata::make(kOpts), opt) {
  Run r = run_prog("cycle", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 48, 1, 1);
    check_class("indirect", rep.indirect, 48, 1, 1);
    for (const char* cls : {"direct", "indirect"}) {
      const Group* g = check_group(rep, cls, "make_node", 48, 1, "calloc");
      BOOST_TEST(g->frame_of("leak_cycle") == 1);
    }
  }
}

BOOST_DATA_TEST_CASE(reachable_not_reported_by_default, bdata::make(kOpts), opt) {
  Run r = run_prog("reachable", opt);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_no_leaks(rep);
    BOOST_TEST(rep.leaks.empty());
  }
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  Run all = run_prog("reachable", opt, o);
  WITH_RUN(all) {
    Report rep = the_report(all);
    check_class("direct", rep.direct, 0, 0, 0);
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "reachable", "keep_block", 555, 1, "malloc");
    auto chain = rep.groups("reachable", "keep_chain");
    BOOST_TEST_REQUIRE(chain.size() == 2u);
    BOOST_TEST(chain[0]->bytes + chain[1]->bytes == 144u);
    BOOST_TEST(chain[0]->count + chain[1]->count == 2u);
    // Only the program's own blocks are reachable: libc keeps nothing for a program that
    // never used stdio.
    BOOST_TEST(rep.reachable.bytes == 699u);
    BOOST_TEST(rep.reachable.blocks == 3u);
  }
}

BOOST_DATA_TEST_CASE(interior_pointer_keeps_block, bdata::make(kOpts), opt) {
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  Run r = run_prog("interior", opt, o);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 0, 0, 0);
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "reachable", "keep_interior", 1000, 1, "malloc");
  }
}

BOOST_DATA_TEST_CASE(register_of_a_blocked_thread_keeps_block, bdata::make(kOpts), opt) {
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  Run r = run_prog("thread_register", opt, o);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    Report rep = the_report(r);
    check_class("direct", rep.direct, 1111, 1, 1);
    check_class("indirect", rep.indirect, 0, 0, 0);
    check_group(rep, "direct", "leak_hidden", 1111, 1, "malloc");
    check_group(rep, "reachable", "keep_in_register", 4242, 1, "malloc");
  }
}

BOOST_DATA_TEST_CASE(suppressions, bdata::make(kOpts), opt) {
  Run plain = run_prog("suppress", opt);
  WITH_RUN(plain) {
    Report rep = the_report(plain);
    check_class("direct", rep.direct, 8100, 4, 3);
    BOOST_TEST(rep.suppressed_bytes == 0u);
    BOOST_TEST(rep.suppressed_blocks == 0u);
  }
  RunOptions o;
  o.env = {{"MPSHIM_SUPPRESSIONS", g_paths.src + "/suppress.supp"}};
  Run r = run_prog("suppress", opt, o);
  WITH_RUN(r) {
    Report rep = the_report(r);
    check_class("direct", rep.direct, 100, 1, 1);
    check_group(rep, "direct", "keep_reported", 100, 1, "malloc");
    BOOST_TEST(rep.suppressed_bytes == 8000u);
    BOOST_TEST(rep.suppressed_blocks == 3u);
    BOOST_TEST(rep.leaks.size() == 1u);
    // Per pattern, as in suppress.supp.
    std::map<std::string, std::pair<uint64_t, uint64_t>> used;
    for (auto& u : rep.suppressions) used[u.pattern] = {u.bytes, u.blocks};
    BOOST_TEST(used.size() == 2u);
    BOOST_TEST((used["suppressed_exact_site"] == std::pair<uint64_t, uint64_t>{2000, 1}));
    BOOST_TEST((used["*_supp_*"] == std::pair<uint64_t, uint64_t>{6000, 2}));
  }
}

BOOST_DATA_TEST_CASE(clean_programs_report_nothing,
                     bdata::make(kOpts) * bdata::make({"clean_basic", "clean_exit", "clean_thread_exit"}),
                     opt, name) {
  Run r = run_prog(name, opt);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    check_no_leaks(the_report(r));
  }
}

BOOST_DATA_TEST_CASE(clean_text, bdata::make({"clean_basic", "clean_exit", "clean_thread_exit"}),
                     name) {
  RunOptions o;
  o.json = false;
  Run r = run_prog(name, "O2", o);
  WITH_RUN(r) {
    BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
    TextReport t = parse_text(read_file(r.reports.at(r.pid)), r.pid);
    BOOST_TEST(t.no_leaks);
    BOOST_TEST(!t.header);
    BOOST_TEST(t.leaks.empty());
    BOOST_TEST_REQUIRE(t.summary);
    BOOST_TEST(t.total_bytes == 0u);
    BOOST_TEST(t.total_blocks == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// ---- valgrind agrees ---------------------------------------------------------------------

/// Figures the programs state (direct, indirect, possibly lost to valgrind), checked
/// against valgrind without the shim, and against mpshim when a library is given.
struct Stated {
  const char* name;
  Memcheck expect;
};
const Stated kStated[] = {
    {"sites", {1400, 6, 0, 0, 0, 0}},      {"containers", {128, 2, 573, 10, 0, 0}},
    {"cycle", {48, 1, 48, 1, 0, 0}},       {"alloc_funcs", {7857, 6, 0, 0, 0, 0}},
    {"cxx_new", {732, 5, 0, 0, 0, 0}},     {"interior", {0, 0, 0, 0, 1000, 1}},
};

BOOST_TEST_DECORATOR(*utf::precondition(valgrind_found))
BOOST_DATA_TEST_CASE(valgrind_agrees, bdata::xrange(std::size(kStated)), k) {
  const Stated& st = kStated[k];
  paths();
  std::string exe = program(st.name, "O0"), log;
  Memcheck m = memcheck(exe, &log);
  BOOST_TEST_CONTEXT(st.name << "; valgrind: " << log) {
    BOOST_TEST(m.definite_bytes == st.expect.definite_bytes);
    BOOST_TEST(m.definite_blocks == st.expect.definite_blocks);
    BOOST_TEST(m.indirect_bytes == st.expect.indirect_bytes);
    BOOST_TEST(m.indirect_blocks == st.expect.indirect_blocks);
    BOOST_TEST(m.possible_bytes == st.expect.possible_bytes);
    BOOST_TEST(m.possible_blocks == st.expect.possible_blocks);
  }
  if (paths().shim.empty()) return;
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  Run r = run_prog(st.name, "O0", o);
  WITH_RUN(r) BOOST_TEST_CONTEXT("valgrind: " << log) {
    Report rep = the_report(r);
    BOOST_TEST(rep.direct.bytes == m.definite_bytes);
    BOOST_TEST(rep.direct.blocks == m.definite_blocks);
    BOOST_TEST(rep.indirect.bytes == m.indirect_bytes);
    BOOST_TEST(rep.indirect.blocks == m.indirect_blocks);
    // valgrind's "possibly lost" (here only interior pointers) is reachable for mpshim, as
    // for LeakSanitizer.
    uint64_t interior = 0;
    for (auto& g : rep.groups("reachable", "keep_interior")) interior += g->bytes;
    BOOST_TEST(interior == m.possible_bytes);
  }
}
