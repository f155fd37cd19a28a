// Boost.Test helpers shared by the leak report drivers (leak_e2e, parity_e2e): the paths
// from the command line, running a program under the shim, and checks of its report.
#pragma once
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "run.h"

namespace leaktest {

/// Reads the paths from the command line once: <programs build dir> <source dir>
/// [libmpshim.so], or the library from SHIM_TEST_LIB ("none": no library). Also used by
/// preconditions, which run before any fixture.
const Paths& paths();

/// Precondition: a library to test was given.
boost::test_tools::assertion_result shim_given(boost::unit_test::test_unit_id);

/// Precondition: valgrind can be run.
boost::test_tools::assertion_result valgrind_found(boost::unit_test::test_unit_id);

extern const std::vector<std::string> kOpts;  ///< "O0", "O2"

#define WITH_RUN(r) BOOST_TEST_CONTEXT("reproduce: " << (r).command)

bool ends_with(const std::string& s, const std::string& tail);

/// Runs program `name` at `opt` under the shim. The run's output directory is removed at
/// the end when the test case passed.
Run run_prog(const std::string& name, const std::string& opt, RunOptions o = {});

/// The one report of a run without fork; fails the test when there is not exactly one.
Report the_report(const Run& r);

void check_class(const char* what, const ClassTotals& t, uint64_t bytes, uint64_t blocks,
                 uint64_t groups);

/// The single group of class `cls` whose stack names `site`, checked for its figures and
/// for `site` being its innermost frame (the shim's own frames never appear).
const Group* check_group(const Report& rep, const std::string& cls, const std::string& site,
                         uint64_t bytes, uint64_t count, const std::string& function);

/// Checks that frame `frame` of `g` points at the line of `marker` in source `file`.
void check_line(const Group& g, const std::string& file, const std::string& marker,
                size_t frame = 0);

void check_no_leaks(const Report& rep);

/// valgrind's leak summary of one process.
struct Memcheck {
  uint64_t definite_bytes = 0, definite_blocks = 0, indirect_bytes = 0, indirect_blocks = 0,
           possible_bytes = 0, possible_blocks = 0;
};

/// Runs `exe` under valgrind --leak-check=full (no shim); fills `log` with its output.
Memcheck memcheck(const std::string& exe, std::string* log);

}  // namespace leaktest
