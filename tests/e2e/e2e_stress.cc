// Threads, fork, out-of-memory and dlopen under LD_PRELOAD: each case runs
// `stress CASE` (see programs/stress.cc for what each case checks).
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_stress
#include <boost/test/unit_test.hpp>

#include "harness.h"

namespace {

void stress_case(std::vector<std::string> args) {
  e2e::Command c;
  c.argv = {e2e::built("stress")};
  c.argv.insert(c.argv.end(), args.begin(), args.end());
  c.timeout_s = 150;
  e2e::Result r = e2e::run(c);
  BOOST_TEST(r.ok(), "reproduce: " << e2e::reproduce(c) << "\n" << r.describe());
  BOOST_TEST_MESSAGE(args[0] << ": " << r.seconds << " s; " << r.out);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stress)

BOOST_AUTO_TEST_CASE(threads_fill_and_verify) { stress_case({"fill"}); }
BOOST_AUTO_TEST_CASE(producer_consumer_frees) { stress_case({"cross_thread"}); }
BOOST_AUTO_TEST_CASE(short_lived_threads_bounded_rss) { stress_case({"short_threads"}); }
BOOST_AUTO_TEST_CASE(fork_while_allocating) { stress_case({"fork"}); }
BOOST_AUTO_TEST_CASE(out_of_memory_rlimit) { stress_case({"oom"}); }
BOOST_AUTO_TEST_CASE(dlopen_dlclose_allocating_library) {
  stress_case({"dlopen", e2e::built("libe2e_dl_alloc.so")});
}

BOOST_AUTO_TEST_SUITE_END()
