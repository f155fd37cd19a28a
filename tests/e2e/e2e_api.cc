// API conformance of every allocation entry point: each case runs `api_check CASE` under
// LD_PRELOAD (see programs/api_check.cc for what each case checks).
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_api
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <string>

#include "harness.h"

namespace {

void api_case(const char* name) {
  e2e::Command c;
  c.argv = {e2e::built("api_check"), name};
  c.timeout_s = 120;
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
}

struct ShimPreloaded {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    boost::test_tools::assertion_result res(!e2e::shim_library().empty());
    res.message() << "SHIM_TEST_LIB=none: nothing is preloaded";
    return res;
  }
};

}  // namespace

#define API_CASE(name) \
  BOOST_AUTO_TEST_CASE(name) { api_case(#name); }

BOOST_AUTO_TEST_SUITE(api)

API_CASE(malloc_sizes)
API_CASE(malloc_zero)
API_CASE(malloc_huge)
API_CASE(free_null)
API_CASE(calloc_reuse)
API_CASE(calloc_overflow)
API_CASE(realloc_contents)
API_CASE(realloc_null_and_zero)
API_CASE(realloc_huge)
API_CASE(reallocarray)
API_CASE(posix_memalign)
API_CASE(aligned_alloc)
API_CASE(memalign_valloc)
API_CASE(usable_size)
API_CASE(malloc_extras)
API_CASE(libc_aliases)
API_CASE(libc_internal)
API_CASE(dlerror_threads)
API_CASE(operator_new)
API_CASE(new_failure)
API_CASE(fork_stdio_threads)
API_CASE(single_threaded)

// A single-threaded program may fork from a signal handler that interrupted malloc, free
// or fork: it stays single-threaded with memory waiting to go back (default delay) and
// with every free given back at once (delay 0).
BOOST_AUTO_TEST_CASE(fork_in_signal_handler) {
  for (const char* check : {"off", "light"})
  for (const char* delay : {"500", "0"}) {
    e2e::Command c;
    c.argv = {e2e::built("api_check"), "fork_in_signal_handler"};
    c.env = {{"MPSHIM_PURGE_DELAY", delay}, {"MPSHIM_CHECK", check}};
    c.timeout_s = 120;
    e2e::Result r = e2e::run(c);
    BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  }
}

// Every C entry point must resolve to the preloaded library.
BOOST_AUTO_TEST_CASE(interposed, *boost::unit_test::precondition(ShimPreloaded())) {
  api_case("interposed");
}

// The shim exports dlsym (for the CUDA driver's entry points): a library preloaded before
// it must still get "the next object after me" from RTLD_NEXT.
BOOST_AUTO_TEST_CASE(dlsym_rtld_next, *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command c;
  c.argv = {"/bin/true"};
  c.preload = false;
  c.env = {{"LD_PRELOAD", e2e::built("libnext_probe.so") + " " + e2e::shim_library()}};
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "next=shim\n", "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
}

// A library opened with RTLD_DEEPBIND would bind libc's malloc and free ahead of the shim's:
// the shim clears the flag, so blocks pass both ways in every mode and the library's leak
// is reported; $ORIGIN in the name still means the caller's directory.
BOOST_AUTO_TEST_CASE(dlopen_deepbind, *boost::unit_test::precondition(ShimPreloaded())) {
  for (const char* check : {"off", "sample", "light", "full"}) {
    e2e::TempDir dir;
    e2e::Command c;
    c.argv = {e2e::built("deepbind")};
    c.env = e2e::json_report_env(dir.path());
    c.env.push_back({"MPSHIM_CHECK", check});
    c.env.push_back({"MPSHIM_SAMPLE_RATE", "3"});
    e2e::Result r = e2e::run(c);
    BOOST_TEST_REQUIRE(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
    BOOST_TEST(r.out == "ok\n");
    auto reports = e2e::read_json_reports(dir.path());
    BOOST_TEST_REQUIRE(reports.size() == 1u);
    BOOST_TEST(reports[0].direct_bytes == 4321u, "MPSHIM_CHECK=" << check);
  }
}

// A program that defines malloc, free, calloc, realloc, new and delete itself (Chromium,
// Firefox) but not reallocarray or sized delete: the shim's must call the program's realloc
// and delete, as glibc's and libstdc++'s do, so that no block crosses between the heaps.
BOOST_AUTO_TEST_CASE(program_brings_its_own_malloc) {
  for (const char* host : {"on", "off"})
  for (const char* leaks : {"0", "1"})
  for (const char* check : {"off", "light"}) {
    e2e::Command c;
    c.argv = {e2e::built("own_malloc")};
    c.env = {{"MPSHIM_HOST", host}, {"MPSHIM_LEAKS", leaks}, {"MPSHIM_CHECK", check}};
    e2e::Result r = e2e::run(c);
    BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
    BOOST_TEST(r.out == "ok\n");
    BOOST_TEST(e2e::shim_lines(r.err).empty(), r.err);
  }
}

BOOST_AUTO_TEST_SUITE_END()

// Under an address-space limit (RLIMIT_AS, `ulimit -v`) 1 GiB above what the process maps,
// leak tracking must leave the program at least 90% of the memory the allocator alone
// gives it, and malloc must still end in NULL with ENOMEM.
namespace {

uint64_t bytes_under_limit(size_t size, bool tracking) {
  e2e::Command c;
  c.argv = {e2e::built("as_limit"), std::to_string(size)};
  c.env = {{"MPSHIM_LEAKS", tracking ? "1" : "0"}};
  c.timeout_s = 120;
  e2e::Result r = e2e::run(c);
  BOOST_TEST_REQUIRE(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  return std::stoull(r.out);
}

}  // namespace

// A process whose threads all end with pthread_exit (main first) ends with the last of
// them, also after the allocator had memory to give back. exit() runs, so the leak report
// is there.
BOOST_AUTO_TEST_CASE(last_thread_ends_the_process, *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command c;
  c.argv = {e2e::built("main_exits_thread")};
  c.timeout_s = 30;
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  BOOST_TEST(r.seconds < 15, r.seconds);
  BOOST_TEST(r.out == "main leaves\n");
  BOOST_TEST(r.err.find("Direct leak of 777 byte(s) in 1 object(s)") != std::string::npos, r.err);
}

// A process that installs a seccomp filter killing it on unexpected system calls (sshd's
// pre-authentication child) ends with its own status in every mode: the shim writes nothing
// at exit there. Before, the leak scan's system calls ended it with SIGSYS.
BOOST_AUTO_TEST_CASE(sandboxed_process_ends_with_its_status, *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command alone;
  alone.argv = {e2e::built("sandboxed")};
  alone.preload = false;
  alone.timeout_s = 30;
  if (e2e::run(alone).exit_code != 7) {
    BOOST_TEST_MESSAGE("this machine lets no process install a seccomp filter: nothing to check");
    return;
  }
  for (const char* check : {"off", "sample", "light", "full"}) {
    e2e::Command c;
    c.argv = {e2e::built("sandboxed")};
    c.env = {{"MPSHIM_CHECK", check}, {"MPSHIM_SAMPLE_RATE", "1"}, {"MPSHIM_STATS", "1"}};
    c.timeout_s = 30;
    e2e::Result r = e2e::run(c);
    BOOST_TEST(r.exit_code == 7, "MPSHIM_CHECK=" << check << ", reproduce: " << e2e::reproduce(c)
                                                << "\n" << r.describe());
    BOOST_TEST(r.out == "confined\n");
  }
}

// A process that changed its root to a directory without /proc cannot be checked for leaks
// (no memory map): it ends as without the shim, and the one line says why (before: "out of
// memory"). /proc is not kept open across chroot: it would let the process out of its root.
BOOST_AUTO_TEST_CASE(chrooted_process_says_why_it_has_no_report, *boost::unit_test::precondition(ShimPreloaded())) {
  char dir[] = "/tmp/mpshim-chroot-XXXXXX";
  BOOST_TEST_REQUIRE(mkdtemp(dir) != nullptr);
  e2e::Command c;
  c.argv = {e2e::built("chrooted"), dir};
  c.timeout_s = 30;
  e2e::Result r = e2e::run(c);
  rmdir(dir);
  if (r.exit_code == 77) {
    BOOST_TEST_MESSAGE("no process may change its root here: nothing to check");
    return;
  }
  BOOST_TEST(r.exit_code == 0, "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  BOOST_TEST(r.out == "chrooted\n");
  BOOST_TEST(r.err.find("mpshim: leak check failed (/proc/self/maps cannot be read); no report") != std::string::npos,
             r.err);
}

// The leak check takes other threads' registers with a signal whose handler runs on the
// thread's own stack: varnish's workers share one alternate stack, and the child died with
// SIGSEGV at exit when several answered on it at once.
BOOST_AUTO_TEST_CASE(register_snapshot_leaves_alternate_stacks_alone,
                     *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command c;
  c.argv = {e2e::built("alt_stacks")};
  c.env = {{"MPSHIM_REPORT", "/dev/null"}};
  c.timeout_s = 30;
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.exit_code == 0, "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  BOOST_TEST(r.out == "alternate stacks written: 0\n");
}

// The leak check reads no page that the program never touched: each read faults one in,
// and sbcl's 1 GiB heap, reserved and mostly untouched, took a second at exit. Pointers on
// the pages it did write still count, in a mapping of its own and in a block.
BOOST_AUTO_TEST_CASE(leak_check_reads_no_untouched_page, *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command c;
  c.argv = {e2e::built("untouched")};
  c.timeout_s = 60;
  e2e::Result r = e2e::run(c);
  BOOST_TEST_REQUIRE(r.exit_code == 0, "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  long faults = -1;
  BOOST_TEST_REQUIRE(sscanf(r.out.c_str(), "faults %ld", &faults) == 1, r.out);
  // 512 MiB untouched are 131072 pages; the check's own memory faults a few hundred.
  BOOST_TEST(faults < 5000, faults << " page faults in the leak check");
  std::string summary = "SUMMARY: mpshim: 100 byte(s) leaked in 1 allocation(s)";
  size_t first = r.err.find(summary);
  BOOST_TEST(first != std::string::npos, r.err);
  BOOST_TEST(r.err.find(summary, first + 1) != std::string::npos, r.err);  // and at exit
}

// Threads that allocate and free from their caches during a leak check wait for it: a
// block one of them freed meanwhile was reported as lost.
BOOST_AUTO_TEST_CASE(leak_checks_while_threads_churn, *boost::unit_test::precondition(ShimPreloaded())) {
  e2e::Command c;
  c.argv = {e2e::built("checks_while_busy")};
  c.env = {{"MPSHIM_REPORT", "/dev/null"}};
  c.timeout_s = 120;
  e2e::Result r = e2e::run(c);
  BOOST_TEST_REQUIRE(r.exit_code == 0, "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  BOOST_TEST(r.out == "leaks found by 0 of 40 checks\n", r.out);
}

BOOST_AUTO_TEST_SUITE(address_space, *boost::unit_test::precondition(ShimPreloaded()))

BOOST_AUTO_TEST_CASE(tracking_costs_little_address_space) {
  for (size_t size : {size_t(100), size_t(64) << 10, size_t(1) << 20}) {
    uint64_t alone = bytes_under_limit(size, false), tracked = bytes_under_limit(size, true);
    BOOST_TEST_MESSAGE("blocks of " << size << " B: " << alone << " B alone, " << tracked
                                    << " B tracked");
    BOOST_TEST(alone > (uint64_t(1) << 29), size);
    BOOST_TEST(double(tracked) >= 0.9 * double(alone), size << " B: " << tracked << " of " << alone);
  }
}

BOOST_AUTO_TEST_SUITE_END()
