// Descriptors and files: a program finds the same descriptors with and without the shim,
// the shim survives a program that closes every descriptor above 2, the report reaches a
// stderr the program closed before exit, and report files are never written through a
// symbolic link or over another user's file. Helper: programs/fd_check.c.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_files
#include <boost/test/unit_test.hpp>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "harness.h"

namespace {

const char kLeak[] = "Direct leak of 77 byte(s) in 1 object(s)";
const char kPythonTest[] = "/usr/lib/python3.11/test/test_subprocess.py";

struct ShimPreloaded {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result res(!e2e::shim_library().empty());
    res.message() << "SHIM_TEST_LIB=none: nothing is preloaded";
    return res;
  }
};

struct IsRoot {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result res(geteuid() == 0 && !e2e::shim_library().empty());
    res.message() << "needs root (to give a file to another user) and the shim";
    return res;
  }
};

struct HasPythonTests {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result res(access(kPythonTest, R_OK) == 0);
    res.message() << kPythonTest << " is missing: install libpython3.11-testsuite";
    return res;
  }
};

e2e::Command fd_check(std::initializer_list<std::string> args) {
  e2e::Command c;
  c.argv = {e2e::built("fd_check")};
  c.argv.insert(c.argv.end(), args);
  c.timeout_s = 60;
  return c;
}

e2e::Result run_ok(const e2e::Command& c) {
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  return r;
}

bool has(const std::string& s, const std::string& what) { return s.find(what) != std::string::npos; }

}  // namespace

BOOST_AUTO_TEST_SUITE(descriptors)

// The same open descriptors with the shim (tracking on, statistics on) as without it: no
// stderr duplicate, no libunwind pipe.
BOOST_AUTO_TEST_CASE(same_descriptors_as_without_shim) {
  e2e::Command plain = fd_check({"list"});
  plain.preload = false;
  std::string expected = run_ok(plain).out;
  BOOST_TEST(has(expected, "0\n1\n2\n"));
  for (auto env : {std::pair<std::string, std::string>{"MPSHIM_LEAKS", "1"}, {"MPSHIM_STATS", "1"}}) {
    e2e::Command c = fd_check({"list"});
    c.env = {env};
    e2e::Result r = run_ok(c);
    BOOST_TEST(r.out == expected, env.first << ": " << e2e::first_difference(expected, r.out));
  }
}

// A program closes every descriptor above 2, opens a pipe of its own (numbers 3 and 4) and
// allocates through code without unwind tables, where libunwind checks memory with its
// pipe: the program's pipe keeps exactly what the program wrote, the stack through that
// code is whole, and the report still comes.
BOOST_AUTO_TEST_CASE(program_closes_every_descriptor_above_2) {
  e2e::Result r = run_ok(fd_check({"close_all"}));
  if (e2e::shim_library().empty()) return;
  BOOST_TEST(has(r.err, kLeak), r.describe());
  size_t at = r.err.find("Direct leak of 33 byte(s)");
  BOOST_TEST_REQUIRE(at != std::string::npos, r.describe());
  std::string group = r.err.substr(at, r.err.find("\n\n", at) - at);
  BOOST_TEST(has(group, "#0 "), group);
  BOOST_TEST(has(group, " in no_cfi_alloc "), group);
  BOOST_TEST(has(group, " in case_close_all "), group);
  BOOST_TEST(has(group, " in main "), group);
}

// CPython's own test: a child given pass_fds must find exactly the descriptors passed.
BOOST_AUTO_TEST_CASE(cpython_pass_fds_redirected, *boost::unit_test::precondition(HasPythonTests())) {
  e2e::Command c;
  c.argv = {"python3", "-B", "-m", "unittest", "-v",
            "test.test_subprocess.POSIXProcessTestCase.test_pass_fds_redirected",
            "test.test_subprocess.POSIXProcessTestCase.test_close_fds"};
  c.timeout_s = 120;
  e2e::Result r = run_ok(c);
  BOOST_TEST(has(r.err, "OK"), r.describe());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(closed_stderr, *boost::unit_test::precondition(ShimPreloaded()))

// coreutils close stdout and stderr with fclose in an atexit handler.
BOOST_AUTO_TEST_CASE(fclose_in_atexit_still_reports) {
  e2e::Result r = run_ok(fd_check({"fclose_stderr"}));
  BOOST_TEST(r.out == "done\n");
  BOOST_TEST(has(r.err, kLeak), r.describe());
}

BOOST_AUTO_TEST_CASE(close_2_in_atexit_still_reports) {
  e2e::Result r = run_ok(fd_check({"close_stderr"}));
  BOOST_TEST(has(r.err, kLeak), r.describe());
}

// A program that closes every descriptor with close_range or closefrom (daemons, sandboxed
// workers) keeps only the copy of stderr, and the report reaches it.
BOOST_AUTO_TEST_CASE(close_range_of_every_descriptor_still_reports) {
  for (const char* how : {"close_range", "closefrom"}) {
    e2e::Result r = run_ok(fd_check({how}));
    BOOST_TEST(r.out == "done\n", how);
    BOOST_TEST(has(r.err, kLeak), how << ": " << r.describe());
  }
}

// The program closes the copy of stderr too and reuses its number for a file of its own,
// with a read-only file on fd 2: the report goes nowhere rather than into that file.
BOOST_AUTO_TEST_CASE(reused_copy_number_gets_no_report) {
  e2e::TempDir dir;
  e2e::Result r = run_ok(fd_check({"stale_copy", dir / "program.log"}));
  BOOST_TEST(e2e::read_file(dir / "program.log").empty());
  BOOST_TEST(!has(r.err, "mpshim"), r.describe());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_files, *boost::unit_test::precondition(ShimPreloaded()))

// MPSHIM_REPORT and MPSHIM_FOLDED at a planted symbolic link: the link's target keeps its
// contents and the report goes to stderr, with one line saying why.
BOOST_AUTO_TEST_CASE(symlink_is_not_followed) {
  e2e::TempDir dir;
  e2e::write_file(dir / "victim", "keep\n");
  BOOST_REQUIRE(symlink((dir / "victim").c_str(), (dir / "report").c_str()) == 0);
  BOOST_REQUIRE(symlink((dir / "victim").c_str(), (dir / "folded").c_str()) == 0);
  e2e::Command c = fd_check({"leak"});
  c.env = {{"MPSHIM_REPORT", dir / "report"}, {"MPSHIM_FOLDED", dir / "folded"}};
  e2e::Result r = run_ok(c);
  BOOST_TEST(e2e::read_file(dir / "victim") == "keep\n");
  BOOST_TEST(has(r.err, "mpshim: MPSHIM_REPORT=" + dir / "report" +
                            " is a symbolic link; not following it, writing to stderr\n"),
             r.describe());
  BOOST_TEST(has(r.err, "mpshim: MPSHIM_FOLDED=" + dir / "folded" + " is a symbolic link"));
  BOOST_TEST(has(r.err, kLeak), r.describe());
}

// A report file left by another user is neither emptied nor written.
BOOST_AUTO_TEST_CASE(another_users_file_is_left_alone, *boost::unit_test::precondition(IsRoot())) {
  e2e::TempDir dir;
  e2e::write_file(dir / "report", "keep\n");
  BOOST_REQUIRE(chown((dir / "report").c_str(), 65534, 65534) == 0);
  e2e::Command c = fd_check({"leak"});
  c.env = {{"MPSHIM_REPORT", dir / "report"}};
  e2e::Result r = run_ok(c);
  BOOST_TEST(e2e::read_file(dir / "report") == "keep\n");
  BOOST_TEST(has(r.err, "mpshim: MPSHIM_REPORT=" + dir / "report" +
                            " belongs to another user; not overwriting it, writing to stderr\n"),
             r.describe());
  BOOST_TEST(has(r.err, kLeak));
}

// A report file that cannot be created (a missing directory, or a path outside a chroot):
// stderr gets the report, as the warning says, even a clean process's, which stays silent
// on stderr only when stderr is where reports were asked to go. Before, the warning was
// followed by nothing.
BOOST_AUTO_TEST_CASE(unwritable_path_reports_on_stderr) {
  e2e::TempDir dir;
  e2e::Command c = fd_check({"list"});
  c.env = {{"MPSHIM_REPORT", dir / "missing/report"}};
  e2e::Result r = run_ok(c);
  BOOST_TEST(has(r.err, "mpshim: MPSHIM_REPORT=" + dir / "missing/report" +
                            ": cannot open it, writing to stderr\n"),
             r.describe());
  BOOST_TEST(has(r.err, "mpshim: no leaks found"), r.describe());
  BOOST_TEST(has(r.err, "SUMMARY: mpshim: 0 byte(s) leaked"), r.describe());
}

// A program that closed fd 2 with a raw system call (libuv's uv_fs_close of a file it had
// put on fd 2, test spawn_stdout_and_stderr_to_file2) gives the report file number 2.
// Before, the report took it for stderr and, the process being clean, left the file empty.
BOOST_AUTO_TEST_CASE(report_file_opened_as_fd_2) {
  e2e::TempDir dir;
  e2e::Command c = fd_check({"raw_close_stderr"});
  c.env = {{"MPSHIM_REPORT", dir / "report"}};
  run_ok(c);
  std::string text = e2e::read_file(dir / "report");
  BOOST_TEST(has(text, "mpshim: no leaks found"), text);
  BOOST_TEST(has(text, "SUMMARY: mpshim: 0 byte(s) leaked"), text);
}

// The process's own earlier report is replaced, not appended to or partly overwritten; %p
// becomes the pid.
BOOST_AUTO_TEST_CASE(own_file_is_replaced) {
  e2e::TempDir dir;
  e2e::write_file(dir / "report", std::string(100000, 'z'));
  e2e::Command c = fd_check({"leak"});
  c.env = {{"MPSHIM_REPORT", dir / "report"}};
  e2e::Result r = run_ok(c);
  std::string text = e2e::read_file(dir / "report");
  BOOST_TEST(has(text, kLeak));
  BOOST_TEST(!has(text, "zzz"));
  BOOST_TEST(!has(r.err, "mpshim"), r.describe());
}

// quick_exit runs no exit handler but at_quick_exit's: the report is written there, and
// the program's status kept (or the leak exit code given).
BOOST_AUTO_TEST_CASE(quick_exit_reports) {
  e2e::TempDir dir;
  e2e::Command c = fd_check({"quick_exit"});
  c.env = {{"MPSHIM_REPORT", dir / "report"}};
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.exit_code == 5, r.describe());
  BOOST_TEST(has(e2e::read_file(dir / "report"), kLeak));
  c.env.push_back({"MPSHIM_LEAK_EXITCODE", "23"});
  BOOST_TEST(e2e::run(c).exit_code == 23);
}

// A relative report path names a file in the directory the program started in, for the
// program after it changed directory and for the processes it starts from there.
BOOST_AUTO_TEST_CASE(relative_path_from_the_start_directory) {
  e2e::TempDir dir;
  std::filesystem::create_directory(dir / "sub");
  e2e::Command c = fd_check({"chdir", "sub", e2e::built("fd_check"), "leak"});
  c.cwd = dir.path();
  c.env = {{"MPSHIM_REPORT", "report"}, {"MPSHIM_CHILDREN", "all"}};
  run_ok(c);
  std::string text = e2e::read_file(dir / "report");
  size_t first = text.find(kLeak);
  BOOST_TEST((first != std::string::npos && text.find(kLeak, first + 1) != std::string::npos), text);
  BOOST_TEST(!std::filesystem::exists(dir / "sub/report"));
}

BOOST_AUTO_TEST_SUITE_END()
