// Child processes (MPSHIM_CHILDREN): tracking, reports and the exit-code option apply to
// the program started and to what MPSHIM_CHILDREN names among the programs it execs; the
// others keep the allocator and print nothing. The README's recipes (a shell script,
// `make check`, ctest, pytest with a C extension) run here end to end.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_children
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "harness.h"

namespace {

const char* const kLeaky66 =
    "#include <stdlib.h>\n#include <string.h>\n"
    "int main(void) { char* p = malloc(66); memset(p, 1, 66); p = 0; return 0; }\n";

// A program built here that leaks 104 B in 2 blocks (parity/main_locals.c).
std::string leaky() { return e2e::built("parity/leak_main_locals_O0"); }

struct ShimPreloaded {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result res(!e2e::shim_library().empty());
    res.message() << "SHIM_TEST_LIB=none: nothing is preloaded";
    return res;
  }
};

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t at = s.find(what); at != std::string::npos; at = s.find(what, at + 1)) ++n;
  return n;
}

// Runs `script` with /bin/sh under the shim, leaks making the exit status 23.
e2e::Result shell(const std::string& script, const std::string& children, const std::string& cwd = "") {
  e2e::Command c;
  c.argv = {"/bin/sh", "-c", script};
  c.env = {{"MPSHIM_LEAK_EXITCODE", "23"}};
  if (!children.empty()) c.env.push_back({"MPSHIM_CHILDREN", children});
  c.cwd = cwd;
  c.timeout_s = 120;
  e2e::Result r = e2e::run(c);
  BOOST_TEST_MESSAGE("reproduce: " << e2e::reproduce(c));
  return r;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(children, *boost::unit_test::precondition(ShimPreloaded()))

BOOST_AUTO_TEST_CASE(execd_programs_are_not_followed_by_default) {
  e2e::Result r = shell(leaky() + "; echo status $?", "");
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "leak_main_locals_O0 1\nstatus 0\n", r.describe());
  BOOST_TEST(r.err.find("mpshim") == std::string::npos, r.err);
}

// A launcher that execs the program in its own process (a script's `exec`, env, nice, the
// shims of version managers) hands it the place of the program started.
BOOST_AUTO_TEST_CASE(exec_in_the_same_process_is_followed) {
  e2e::Result r = shell("exec env " + leaky(), "");
  BOOST_TEST(r.exit_code == 23, r.describe());
  BOOST_TEST(count(r.err, "Direct leak of") == 2u, r.err);
  BOOST_TEST(r.err.find("groups listed) in leak_main_locals_O0\n") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(all_follows_every_program) {
  e2e::Result r = shell(leaky() + "; echo status $?", "all");
  BOOST_TEST(r.out == "leak_main_locals_O0 1\nstatus 23\n", r.describe());
  BOOST_TEST(count(r.err, "Direct leak of") == 2u, r.err);
  BOOST_TEST(r.err.find("groups listed) in leak_main_locals_O0\n") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(globs_name_the_programs_followed) {
  e2e::Result path = shell(leaky() + "; echo status $?", "sort,*/parity/leak_main_*");
  BOOST_TEST(path.out == "leak_main_locals_O0 1\nstatus 23\n", path.describe());
  e2e::Result name = shell(leaky() + "; echo status $?", "leak_main_locals_O?");
  BOOST_TEST(name.out == "leak_main_locals_O0 1\nstatus 23\n", name.describe());
  e2e::Result other = shell(leaky() + "; echo status $?", "sort,*/tests/leak_*");
  BOOST_TEST(other.out == "leak_main_locals_O0 1\nstatus 0\n", other.describe());
  BOOST_TEST(other.err.find("mpshim") == std::string::npos, other.err);
}

// A program run through a symbolic link (mysql -> mariadb, python3 -> python3.11) is named
// by the link's name and path as well as by its executable's.
BOOST_AUTO_TEST_CASE(globs_name_a_program_by_its_link) {
  e2e::TempDir dir;
  std::filesystem::create_symlink(leaky(), dir / "my_client");
  for (const char* children : {"my_client", "*/my_cl*", "leak_main_locals_O0"}) {
    e2e::Result r = shell(dir / "my_client; echo status $?", children);
    BOOST_TEST(r.out == "my_client 1\nstatus 23\n", children << ": " << r.describe());
  }
  e2e::Result other = shell(dir / "my_client; echo status $?", "my_server");
  BOOST_TEST(other.out == "my_client 1\nstatus 0\n", other.describe());
}

// The wrapper's --children sets MPSHIM_CHILDREN.
BOOST_AUTO_TEST_CASE(wrapper_option) {
  for (std::string children : {"", "*/parity/leak_main_*"}) {
    e2e::Command c;
    c.argv = {e2e::source("../../scripts/mpshim"), "--lib", e2e::shim_library(), "--exitcode", "23"};
    if (!children.empty()) c.argv.insert(c.argv.end(), {"--children", children});
    c.argv.insert(c.argv.end(), {"--", "/bin/sh", "-c", leaky() + "; echo status $?"});
    c.preload = false;
    e2e::Result r = e2e::run(c);
    BOOST_TEST(r.out == std::string("leak_main_locals_O0 1\nstatus ") + (children.empty() ? "0" : "23") + "\n",
               e2e::reproduce(c) << "\n" << r.describe());
  }
}

// A program given MPSHIM_* settings of its own is started anew: it is followed.
BOOST_AUTO_TEST_CASE(own_settings_start_anew) {
  e2e::Result r = shell("MPSHIM_STACK_DEPTH=8 " + leaky() + "; echo status $?", "");
  BOOST_TEST(r.out == "leak_main_locals_O0 1\nstatus 23\n", r.describe());
}

// The README's recipe: a script that compiles a test and runs it. The compiler and the
// shell are not followed; the test is, and its leak sets the status.
BOOST_AUTO_TEST_CASE(script_that_compiles_and_runs_a_leaky_test) {
  e2e::TempDir dir;
  e2e::write_file(dir / "t.c",
                  "#include <stdlib.h>\n#include <string.h>\n"
                  "int main(void) { char* p = malloc(77); memset(p, 1, 77); p = 0; return 0; }\n");
  e2e::Result r = shell("cc -O0 -o t t.c && ./t", "*/t", dir.path());
  BOOST_TEST(r.exit_code == 23, r.describe());
  BOOST_TEST(count(r.err, "mpshim: leak report") == 1u, r.err);
  BOOST_TEST(r.err.find("Direct leak of 77 byte(s) in 1 object(s)") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("groups listed) in t\n") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(make_check) {
  if (e2e::which("make").empty()) {
    BOOST_TEST_MESSAGE("make not installed: skipped");
    return;
  }
  e2e::TempDir dir;
  e2e::write_file(dir / "t.c",
                  "#include <stdlib.h>\n#include <string.h>\n"
                  "int main(void) { char* p = malloc(55); memset(p, 1, 55); p = 0; return 0; }\n");
  e2e::write_file(dir / "Makefile", "check: t\n\t./t\nt: t.c\n\tcc -O0 -o t t.c\n");
  e2e::Result r = shell("make -s check; echo status $?", "*/t", dir.path());
  BOOST_TEST(r.out.find("status 2") != std::string::npos, r.describe());
  BOOST_TEST(r.err.find("Error 23") != std::string::npos, r.err);
  BOOST_TEST(count(r.err, "mpshim: leak report") == 1u, r.err);
  BOOST_TEST(r.err.find("Direct leak of 55 byte(s) in 1 object(s)") != std::string::npos, r.err);
}


// ctest runs the test executables it was given; CMake and the compiler ran before, not
// under the shim. Only the tests matching */tests/* are followed.
BOOST_AUTO_TEST_CASE(ctest) {
  if (e2e::which("cmake").empty() || e2e::which("ctest").empty()) {
    BOOST_TEST_MESSAGE("cmake not installed: skipped");
    return;
  }
  e2e::TempDir dir;
  e2e::write_file(dir / "CMakeLists.txt",
                  "cmake_minimum_required(VERSION 3.13)\nproject(t C)\nenable_testing()\n"
                  "add_executable(leaky tests/leaky.c)\nset_target_properties(leaky PROPERTIES "
                  "RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)\n"
                  "add_test(NAME leaky COMMAND leaky)\n");
  std::filesystem::create_directories(dir / "tests");
  e2e::write_file(dir / "tests/leaky.c", kLeaky66);
  e2e::Command configure;
  configure.argv = {"sh", "-c", "cmake -S . -B build >/dev/null && cmake --build build >/dev/null"};
  configure.cwd = dir.path();
  configure.preload = false;
  e2e::Result built = e2e::run(configure);
  BOOST_TEST_REQUIRE(built.ok(), built.describe());
  e2e::Result r = shell("ctest --test-dir build --output-on-failure; echo status $?", "*/tests/*",
                        dir.path());
  BOOST_TEST(r.out.find("status 8") != std::string::npos, r.describe());
  BOOST_TEST(r.out.find("Direct leak of 66 byte(s) in 1 object(s)") != std::string::npos, r.out);
  BOOST_TEST(count(r.out + r.err, "mpshim: leak report") == 1u, r.out + r.err);
}

// A test runner and its tests with one report file named without %p: every followed
// process's report is kept, whole. Before, each process emptied the file at its exit and
// the runner, the last to exit, left only its own; reports written at once would mix.
// A program that leaks 40 blocks from 40 stacks: a report much longer than one write
// (about 17 groups of 17 lines each), built in `dir` as ./t.
bool build_long_leaker(const e2e::TempDir& dir) {
  if (e2e::which("cc").empty()) return false;
  e2e::write_file(dir / "t.c",
                  "#include <stdlib.h>\n#include <string.h>\nvoid* keep;\n"
                  "__attribute__((noinline)) void down(int k) {\n"
                  "  if (k == 0) return;\n  char* p = malloc(33); memset(p, k, 33); keep = p;\n"
                  "  down(k - 1);\n  keep = 0;\n}\n"
                  "int main(void) { down(40); return 0; }\n");
  return true;
}

// Nine processes of ./t (eight at once, then one) with their reports in `text`: each runs
// from its first line to its SUMMARY with nothing between but its own groups.
void check_whole_reports(const std::string& text) {
  BOOST_TEST(count(text, "groups listed) in t\n") == 9u, text);
  size_t reports = 0, groups = 0;
  bool inside = false;
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(at, end - at);
    at = end + 1;
    if (line.find("== mpshim: leak report") != std::string::npos) {
      BOOST_TEST_REQUIRE(!inside, "a report starts inside another:\n" << text);
      inside = true;
    } else if (line.rfind("SUMMARY: mpshim: ", 0) == 0 && inside) {
      inside = false;
      ++reports;
    } else if (inside) {
      bool own = line.empty() || line.rfind("Direct leak of ", 0) == 0 || line.rfind("    #", 0) == 0;
      BOOST_TEST_REQUIRE(own, "a foreign line inside a report: '" << line << "'\n" << text);
      if (line.rfind("Direct", 0) == 0) ++groups;
    }
  }
  BOOST_TEST(!inside);
  BOOST_TEST(reports == 9u, text);
  BOOST_TEST(groups >= 9u * 10u, text);
}

const char kNineLeakers[] = "cc -O0 -o t t.c && for i in 1 2 3 4 5 6 7 8; do ./t & done; wait; ./t; true";

BOOST_AUTO_TEST_CASE(one_report_file_for_many_processes) {
  e2e::TempDir dir;
  if (!build_long_leaker(dir)) {
    BOOST_TEST_MESSAGE("cc not installed: skipped");
    return;
  }
  e2e::write_file(dir / "leaks.txt", "an earlier run's report\n");
  e2e::Command c;
  c.argv = {"/bin/sh", "-c", kNineLeakers};
  c.env = {{"MPSHIM_CHILDREN", "*/t"}, {"MPSHIM_REPORT", dir / "leaks.txt"}};
  c.cwd = dir.path();
  e2e::Result r = e2e::run(c);
  BOOST_TEST_MESSAGE("reproduce: " << e2e::reproduce(c));
  BOOST_TEST_REQUIRE(r.ok(), r.describe());
  std::string text = e2e::read_file(dir / "leaks.txt");
  BOOST_TEST(count(text, "an earlier run") == 0u, text);
  check_whole_reports(text);
}

// The same processes reporting to the stderr they share (a pipe here; a terminal alike).
BOOST_AUTO_TEST_CASE(reports_to_a_shared_stderr_do_not_mix) {
  e2e::TempDir dir;
  if (!build_long_leaker(dir)) {
    BOOST_TEST_MESSAGE("cc not installed: skipped");
    return;
  }
  e2e::Command c;
  c.argv = {"/bin/sh", "-c", kNineLeakers};
  c.env = {{"MPSHIM_CHILDREN", "*/t"}};
  c.cwd = dir.path();
  e2e::Result r = e2e::run(c);
  BOOST_TEST_MESSAGE("reproduce: " << e2e::reproduce(c));
  BOOST_TEST_REQUIRE(r.ok(), r.describe());
  check_whole_reports(r.err);
}

// pytest testing a C extension: the interpreter is the program started, and the extension's
// leak is the only one reported (CPython frees its own memory at exit).
BOOST_AUTO_TEST_CASE(pytest_with_a_c_extension) {
  e2e::Command probe;
  probe.argv = {"/usr/bin/python3", "-c", "import pytest, sysconfig; print(sysconfig.get_paths()['include'])"};
  probe.preload = false;
  e2e::Result where = e2e::run(probe);
  if (!where.ok() || where.out.empty()) {
    BOOST_TEST_MESSAGE("python3 with pytest not installed: skipped");
    return;
  }
  std::string include = where.out.substr(0, where.out.find('\n'));
  e2e::TempDir dir;
  e2e::write_file(dir / "leakmod.c",
                  "#include <Python.h>\n#include <stdlib.h>\n#include <string.h>\n"
                  "static PyObject* make_buffer(PyObject* self, PyObject* args) {\n"
                  "  char* p = malloc(88); memset(p, 1, 88); p = NULL; return PyLong_FromLong(88);\n}\n"
                  "static PyMethodDef methods[] = {{\"make_buffer\", make_buffer, METH_NOARGS, \"\"},"
                  " {NULL, NULL, 0, NULL}};\n"
                  "static struct PyModuleDef mod = {PyModuleDef_HEAD_INIT, \"leakmod\", NULL, -1, methods};\n"
                  "PyMODINIT_FUNC PyInit_leakmod(void) { return PyModule_Create(&mod); }\n");
  e2e::write_file(dir / "test_leak.py",
                  "import leakmod\n\ndef test_buffer():\n    assert leakmod.make_buffer() == 88\n");
  if (!e2e::which("cc").empty() && access((include + "/Python.h").c_str(), R_OK) != 0) {
    BOOST_TEST_MESSAGE("Python.h not installed: skipped");
    return;
  }
  e2e::Command build;
  build.argv = {"cc", "-shared", "-fPIC", "-O0", "-g", "-I" + include, "leakmod.c", "-o", "leakmod.so"};
  build.cwd = dir.path();
  build.preload = false;
  e2e::Result b = e2e::run(build);
  BOOST_TEST_REQUIRE(b.ok(), b.describe());
  e2e::Command c;
  c.argv = {"/usr/bin/python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_leak.py"};
  c.env = {{"MPSHIM_LEAK_EXITCODE", "23"}};
  c.cwd = dir.path();
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.exit_code == 23, r.describe());
  BOOST_TEST(r.out.find("1 passed") != std::string::npos, r.out);
  BOOST_TEST(count(r.err, "Direct leak of") == 1u, r.err);
  BOOST_TEST(r.err.find("Direct leak of 88 byte(s) in 1 object(s)") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("in make_buffer") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_SUITE_END()
