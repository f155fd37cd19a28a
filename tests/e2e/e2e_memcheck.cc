// Memory-error checks (MPSHIM_CHECK): one program run per error class, in abort and in
// report mode, checking the kind, the sizes and the function names of the stacks; the JSON
// form; and a clean program that gets no report in any mode.
#ifndef BOOST_TEST_DYN_LINK
#define BOOST_TEST_DYN_LINK
#endif
#define BOOST_TEST_MODULE e2e_memcheck
#include <algorithm>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <csignal>
#include <filesystem>
#include <sstream>

#include "harness.h"
#include "leaks/json.h"

namespace {

struct Case {
  const char* name;   // errors.cc's argument
  const char* mode;   // MPSHIM_CHECK
  const char* kind;   // the error's name
  std::vector<std::string> expect;  // text the report must hold, in this order
};

std::ostream& operator<<(std::ostream& o, const Case& c) { return o << c.name << "/" << c.mode; }

const std::vector<Case> kCases = {
    {"overflow1", "light", "heap-buffer-overflow",
     {"1 byte(s) past the end of a 10-byte block", "Found when the block was freed:", "in release_block",
      "Block allocated with malloc at:", "in make_block"}},
    {"overflow100", "light", "heap-buffer-overflow",
     {"100 byte(s) past the end of a 1000-byte block", "in release_block", "in make_block"}},
    {"underflow", "full", "heap-buffer-underflow",
     {"1 byte(s) before the start of a 32-byte block", "in release_block", "in make_block"}},
    {"underflow", "sample", "heap-buffer-underflow",
     {"1 byte(s) before the start of a 32-byte block", "Found when the block was freed:", "in release_block",
      "in make_block"}},
    {"underflow_kept", "sample", "heap-buffer-underflow",
     {"1 byte(s) before the start of a 32-byte block", "(found at exit)", "in make_block"}},
    {"double", "light", "double-free",
     {"free of 0x", "a 32-byte block freed already", "Bad call:", "in release_block",
      "Block allocated with malloc at:", "in make_block", "Block freed at:", "in release_block"}},
    {"double", "sample", "double-free", {"free of 0x", "Bad call:", "in release_block"}},
    {"double_large", "light", "double-free",
     {"free of 0x", "a 2097152-byte block freed already", "Bad call:", "in release_block",
      "Block allocated with malloc at:", "in make_block", "Block freed at:", "in release_block"}},
    {"double_large", "full", "double-free",
     {"free of 0x", "a 2097152-byte block freed already", "Bad call:", "in release_block",
      "Block allocated with malloc at:", "in make_block", "Block freed at:", "in release_block"}},
    {"interior", "light", "bad-free",
     {"8 byte(s) inside a 32-byte block", "in release_block", "in make_block"}},
    {"free_before", "full", "bad-free",
     {"1 byte(s) before the start of a 1-byte block", "Bad call:", "in release_block", "in make_block"}},
    {"free_before", "sample", "bad-free",
     {"1 byte(s) before the start of a 1-byte block", "Bad call:", "in release_block", "in make_block"}},
    {"free_past", "light", "bad-free",
     {"1 byte(s) past the end of a 1-byte block", "Bad call:", "in release_block", "in make_block"}},
    {"free_past", "sample", "bad-free", {"1 byte(s) past the end of a 1-byte block", "in release_block"}},
    {"never", "light", "bad-free", {"never returned by an allocation function", "in release_block"}},
    {"stack_free", "light", "bad-free",
     {"free of 0x", "never returned by an allocation function: a stack address", "Bad call:", "in release_block"}},
    {"stack_free", "sample", "bad-free", {"never returned by an allocation function: a stack address", "in release_block"}},
    {"global_free", "light", "bad-free",
     {"never returned by an allocation function: a global (a loaded module's static data)", "in release_block"}},
    {"unmapped_free", "full", "bad-free",
     {"never returned by an allocation function: no memory is mapped there", "Bad call:", "in release_block"}},
    {"sized_delete", "light", "new-delete-type-mismatch",
     {"operator delete of 0x", "given the size 72, a 4-byte block allocated with operator new", "Bad call:",
      "in delete_wide", "Block allocated with operator new at:", "in make_object"}},
    {"sized_delete", "sample", "new-delete-type-mismatch",
     {"given the size 72, a 4-byte block allocated with operator new", "in delete_wide", "in make_object"}},
    {"sized_delete", "full", "new-delete-type-mismatch",
     {"given the size 72, a 4-byte block allocated with operator new", "in delete_wide", "in make_object"}},
    {"new_free", "light", "alloc-dealloc-mismatch",
     {"4-byte block", "allocated with operator new, freed with free", "in release_block", "in make_object"}},
    {"newarray_delete", "sample", "alloc-dealloc-mismatch",
     {"12-byte block", "allocated with operator new[], freed with operator delete", "in delete_object",
      "in make_array"}},
    {"malloc_delete", "full", "alloc-dealloc-mismatch",
     {"allocated with malloc, freed with operator delete", "in delete_object", "in make_block"}},
    {"write_after_free", "light", "heap-use-after-free",
     {"offset 3 in a freed 64-byte block", "(found at exit)", "in make_block", "Block freed at:",
      "in release_block"}},
    {"quarantine_holds", "light", "heap-use-after-free",
     {"offset 3 in a freed 64-byte block", "(found at exit)", "in make_block", "Block freed at:", "in release_block"}},
    {"quarantine_bound", "full", "heap-use-after-free",
     {"offset 3 in a freed 64-byte block", "Found when the block left the quarantine, in:", "in release_block",
      "in make_block", "Block freed at:", "in release_block"}},
    {"guard", "full", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 100000-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"guard_spare", "full", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 100000-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"guard_spare_underflow", "full", "heap-buffer-underflow",
     {"WRITE at 0x", "4096 byte(s) before the start of a 100000-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"guard_spare_rest", "full", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 100000-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"sample_overflow", "sample", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 64-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"sample_reused", "sample", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 64-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"realloc_in_place", "light", "heap-buffer-overflow",
     {"1 byte(s) past the end of a 104-byte block", "Found when the block was freed:", "in release_block",
      "Block allocated with realloc at:", "in resize_block"}},
    {"new_realloc", "light", "alloc-dealloc-mismatch",
     {"4-byte block", "allocated with operator new, freed with realloc", "in resize_block", "in make_object"}},
    {"realloc_grown_over", "light", "heap-buffer-overflow",
     {"2 byte(s) past the end of a 100-byte block", "Found when the block was reallocated:", "in resize_block",
      "Block allocated with malloc at:", "in make_block"}},
    {"realloc_grown_past", "light", "heap-buffer-overflow",
     {"7 byte(s) past the end of a 104-byte block", "Found when the block was freed:", "in release_block",
      "Block allocated with realloc at:", "in resize_block"}},
    {"sample_slots_full", "sample", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 64-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"sample_underflow", "sample", "heap-buffer-underflow",
     {"WRITE at 0x", "32 byte(s) before the start of a 4096-byte block", "Faulting access:", "in write_byte",
      "Block allocated with malloc at:", "in make_block"}},
    {"sample_freed_underflow", "sample", "heap-buffer-underflow",
     {"READ at 0x", "1 byte(s) before the start of a freed 1-byte block", "Faulting access:", "in read_byte",
      "in make_block", "Block freed at:", "in release_block"}},
    {"sample_freed_overflow", "sample", "heap-buffer-overflow",
     {"READ at 0x", "1 byte(s) past the end of a freed 4096-byte block", "Faulting access:", "in read_byte",
      "in make_block", "Block freed at:", "in release_block"}},
    {"sample_thread_first", "sample", "heap-buffer-overflow",
     {"WRITE at 0x", "1 byte(s) past the end of a 64-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"double_reused", "sample", "double-free",
     {"free of 0x", "a 16-byte block freed already", "Bad call:", "in release_block",
      "Block allocated with malloc at:", "in make_block", "Block freed at:", "in release_block"}},
    {"sample_fault_once", "sample", "heap-buffer-overflow",
     {"WRITE at 0x", "16 byte(s) past the end of a 17-byte block", "Faulting access:", "in write_byte",
      "in make_block"}},
    {"freed_next", "light", "bad-free",
     {"free of 0xdfdfdfdfdfdfdfdf", "(the fill of freed blocks: a pointer read from a freed block)", "Bad call:",
      "in release_block"}},
    {"sample_uaf", "sample", "heap-use-after-free",
     {"WRITE at 0x", "offset 0 in a freed 64-byte block", "Faulting access:", "in write_byte",
      "in make_block", "Block freed at:", "in release_block"}},
};

e2e::Result run(const Case& c, const char* on_error, std::vector<std::pair<std::string, std::string>> env = {}) {
  e2e::Command cmd;
  cmd.argv = {e2e::built("memcheck_errors"), c.name};
  cmd.env = {{"MPSHIM_CHECK", c.mode}, {"MPSHIM_ON_ERROR", on_error}, {"MPSHIM_SAMPLE_RATE", "1"}};
  for (auto& e : env) {  // replaces a default of the same name
    auto same = std::find_if(cmd.env.begin(), cmd.env.end(), [&](const auto& d) { return d.first == e.first; });
    if (same != cmd.env.end()) same->second = e.second;
    else cmd.env.push_back(e);
  }
  return e2e::run(cmd);
}

// The report's text holds each expected piece, in order, after the error line.
void check_text(const Case& c, const std::string& err) {
  std::string head = std::string("mpshim: ERROR: ") + c.kind + ": ";
  size_t at = err.find(head);
  BOOST_TEST_REQUIRE(at != std::string::npos, err);
  for (const std::string& piece : c.expect) {
    size_t next = err.find(piece, at);
    BOOST_TEST(next != std::string::npos, "missing '" << piece << "' in order:\n" << err);
    if (next != std::string::npos) at = next + piece.size();
  }
  BOOST_TEST(err.find(std::string("SUMMARY: mpshim: ") + c.kind + " in memcheck_errors") != std::string::npos, err);
}

}  // namespace

BOOST_DATA_TEST_CASE(report_mode_goes_on, boost::unit_test::data::make(kCases), c) {
  e2e::Result r = run(c, "report");
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  check_text(c, r.err);
  // One error, counted in the exit summary.
  BOOST_TEST(r.err.find("1 memory error(s)") != std::string::npos, r.err);
}

BOOST_DATA_TEST_CASE(abort_mode_stops, boost::unit_test::data::make(kCases), c) {
  e2e::Result r = run(c, "abort");
  BOOST_TEST(r.exit_code == -1, r.describe());
  int sig = std::string(c.name).find("sample_") == 0 || std::string(c.name).find("guard") == 0 ? SIGSEGV : SIGABRT;
  BOOST_TEST(r.signal == sig, r.describe());
  BOOST_TEST(r.out.empty(), r.describe());
  check_text(c, r.err);
}

// Sample mode, unsampled blocks (one sample in a million). It knows no history of them: a
// second free of a large one, given back to the allocator, is a free of no block allocated
// now, not of memory never returned. A sized delete's size is compared all the same.
const std::vector<Case> kUnsampled = {
    {"double_large", "sample", "bad-free",
     {"which is no block allocated now (freed already, or never returned", "Bad call:", "in release_block"}},
    {"sized_delete", "sample", "new-delete-type-mismatch",
     {"given the size 72, a 4-byte block allocated with operator new", "in delete_wide", "in make_object"}},
};

BOOST_DATA_TEST_CASE(sample_unsampled_blocks, boost::unit_test::data::make(kUnsampled), c) {
  e2e::Result r = run(c, "report", {{"MPSHIM_SAMPLE_RATE", "1000000"}});
  BOOST_TEST(r.ok(), r.describe());
  check_text(c, r.err);
}

// Memory the program mapped itself may be another allocator's: its free is never blamed,
// only noted in one line, in every mode; without checks, a stack address is named as such.
BOOST_DATA_TEST_CASE(own_mapping_free_is_no_error, boost::unit_test::data::make({"off", "sample", "light", "full"}),
                     mode) {
  e2e::Command cmd;
  cmd.argv = {e2e::built("memcheck_errors"), "mapped_free"};
  cmd.env = {{"MPSHIM_CHECK", mode}, {"MPSHIM_ON_ERROR", "abort"}};
  e2e::Result r = e2e::run(cmd);
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
  BOOST_TEST(r.err.find("free of memory mpshim did not allocate 0x") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("mapped there") == std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(stack_free_without_checks_is_named) {
  e2e::Command cmd;
  cmd.argv = {e2e::built("memcheck_errors"), "stack_free"};
  e2e::Result r = e2e::run(cmd);
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.err.find("free of memory mpshim did not allocate 0x") != std::string::npos, r.err);
  BOOST_TEST(r.err.find(" (a stack address); ignored") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(exit_code_counts_errors) {
  e2e::Result r = run(kCases[0], "report", {{"MPSHIM_LEAK_EXITCODE", "23"}});
  BOOST_TEST(r.exit_code == 23, r.describe());
}

BOOST_AUTO_TEST_CASE(json_report) {
  e2e::TempDir dir;
  const Case& c = kCases[5];  // double free, light: every stack
  e2e::Result r = run(c, "report", {{"MPSHIM_REPORT", dir / "r.%p.json"}, {"MPSHIM_REPORT_FORMAT", "json"}});
  BOOST_TEST_REQUIRE(r.ok(), r.describe());
  std::string text;
  for (auto& entry : std::filesystem::directory_iterator(dir.path())) text = e2e::read_file(entry.path());
  // One object per error line, then the leak report.
  std::istringstream lines(text);
  std::string first;
  std::getline(lines, first);
  leaktest::Json e = leaktest::parse_json(first);
  BOOST_TEST(e["kind"].str() == "double-free");
  BOOST_TEST(e["call"].str() == "free");
  BOOST_TEST(e["block"]["size"].u64() == 32u);
  BOOST_TEST(e["block"]["function"].str() == "malloc");
  BOOST_TEST(e["block"]["freed"].boolean);
  auto has = [](const leaktest::Json& stack, const std::string& fn) {
    for (const auto& f : stack.items)
      if (!f["function"].is_null() && f["function"].str() == fn) return true;
    return false;
  };
  BOOST_TEST(has(e["stack"], "release_block"));
  BOOST_TEST(has(e["block"]["alloc_stack"], "make_block"));
  BOOST_TEST(has(e["block"]["free_stack"], "release_block"));
  std::string rest((std::istreambuf_iterator<char>(lines)), std::istreambuf_iterator<char>());
  leaktest::Json leaks = leaktest::parse_json(rest);
  BOOST_TEST(leaks["summary"]["errors"].u64() == 1u);
}

// The JSON form names a sized delete's size, a bad free's place and its offset.
BOOST_AUTO_TEST_CASE(json_call_size_and_place) {
  auto first_error = [](const char* program, const char* mode = "light") {
    e2e::TempDir dir;
    e2e::Result r = run(Case{program, mode, "", {}}, "report",
                        {{"MPSHIM_REPORT", dir / "r.%p.json"}, {"MPSHIM_REPORT_FORMAT", "json"}});
    BOOST_TEST(r.ok(), r.describe());
    std::string text;
    for (auto& entry : std::filesystem::directory_iterator(dir.path())) text = e2e::read_file(entry.path());
    return leaktest::parse_json(text.substr(0, text.find('\n')));
  };
  leaktest::Json sized = first_error("sized_delete");
  BOOST_TEST(sized["kind"].str() == "new-delete-type-mismatch");
  BOOST_TEST(sized["call"].str() == "operator delete");
  BOOST_TEST(sized["call_size"].u64() == 72u);
  BOOST_TEST(sized["place"].is_null());
  BOOST_TEST(sized["block"]["size"].u64() == 4u);
  BOOST_TEST(sized["block"]["function"].str() == "operator new");
  leaktest::Json stack = first_error("stack_free");
  BOOST_TEST(stack["kind"].str() == "bad-free");
  BOOST_TEST(stack["place"].str() == "stack");
  BOOST_TEST(stack["call_size"].is_null());
  BOOST_TEST(stack["block"].is_null());
  BOOST_TEST(first_error("unmapped_free")["place"].str() == "unmapped");
  BOOST_TEST(first_error("global_free")["place"].str() == "global");
  // A bad free's distance is its offset into the block: negative before its start.
  leaktest::Json before = first_error("free_before", "full");
  BOOST_TEST(before["kind"].str() == "bad-free");
  BOOST_TEST(before["block"]["size"].u64() == 1u);
  BOOST_TEST(before["block"]["distance"].text == "-1");
  BOOST_TEST(first_error("free_past")["block"]["distance"].text == "1");
}

// malloc_usable_size's bytes survive realloc in every mode (tracking alone too, which
// clears the bytes a realloc adds), whether the old block, the new one, both or neither is
// sampled (rates 1, 3 and one in a million).
BOOST_DATA_TEST_CASE(usable_bytes_survive_realloc,
                     boost::unit_test::data::make({"off:1", "sample:1", "sample:3", "sample:1000000", "light:1", "full:1"}),
                     mode_rate) {
  std::string m(mode_rate);
  e2e::Command cmd;
  cmd.argv = {e2e::built("memcheck_errors"), "usable"};
  cmd.env = {{"MPSHIM_CHECK", m.substr(0, m.find(':'))}, {"MPSHIM_ON_ERROR", "abort"},
             {"MPSHIM_SAMPLE_RATE", m.substr(m.find(':') + 1)}};
  e2e::Result r = e2e::run(cmd);
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
}

// Full mode fills new blocks with 0xbe (reads of uninitialised memory show), a big block on
// pages mapped for it in its first 64 KiB only, so what the program never touches stays
// out of its resident memory.
BOOST_AUTO_TEST_CASE(full_fills_new_blocks) {
  e2e::Result r = run(Case{"uninit", "full", "", {}}, "abort");
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
}

// calloc's blocks are zero in every mode and size, and a big one costs no resident memory
// the program does not touch: it used to be cleared byte by byte under the checks, and by
// tracking alone when a smaller mapping freed before was grown to hold it.
BOOST_DATA_TEST_CASE(calloc_zeroes_without_touching, boost::unit_test::data::make({"off", "sample", "light", "full"}),
                     mode) {
  e2e::Result r = run(Case{"calloc", mode, "", {}}, "abort");
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
}

// A mapping of the program's right above a guarded block's guard page is no dead thread's
// stack: the block it alone points to is no leak. In a few runs in a hundred the address
// space never gives the program such a mapping (the blocks fill a large hole far from the
// program's mappings): then there is nothing to check.
BOOST_AUTO_TEST_CASE(mapping_above_a_guard_page_is_a_root) {
  e2e::Result r = run(Case{"guard_neighbour", "sample", "", {}}, "abort");
  BOOST_TEST(r.ok(), r.describe());
  if (r.out == "survived\n") {
    BOOST_TEST_MESSAGE("no mapping right above a guard page in this run: nothing to check");
    return;
  }
  BOOST_TEST(r.out == "adjacent\nsurvived\n", r.describe());
  BOOST_TEST(r.err.find("leak of") == std::string::npos, r.err);
}

// The blocks the dynamic linker keeps (a finished thread's TLS vector) are no leaks when
// they are guarded either: every block with sample rate 1 or a guard size of 0, with and
// without stacks.
BOOST_DATA_TEST_CASE(dynamic_linker_blocks_on_guard_pages_are_no_leaks,
                     boost::unit_test::data::make({"sample", "sample:depth0", "full:guard0"}), mode) {
  std::string m(mode), check = m.substr(0, m.find(':'));
  std::vector<std::pair<std::string, std::string>> env;
  if (m == "sample:depth0") env.push_back({"MPSHIM_STACK_DEPTH", "0"});
  if (m == "full:guard0") env.push_back({"MPSHIM_GUARD_SIZE", "0"});
  e2e::Result r = run(Case{"threads", check.c_str(), "", {}}, "abort", env);
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("leak of") == std::string::npos, r.err);
}

// A library's own operator new and delete (malloc and free underneath) used on blocks of
// the shim's operators and the other way round are no mismatch, sampled or not.
BOOST_DATA_TEST_CASE(module_operators_are_no_mismatch,
                     boost::unit_test::data::make({"sample", "light", "full"}), mode) {
  e2e::Command cmd;
  cmd.argv = {e2e::built("memcheck_own_new")};
  cmd.env = {{"MPSHIM_CHECK", mode}, {"MPSHIM_ON_ERROR", "abort"}, {"MPSHIM_SAMPLE_RATE", "3"}};
  e2e::Result r = e2e::run(cmd);
  BOOST_TEST(r.ok(), e2e::reproduce(cmd) << "\n" << r.describe());
  BOOST_TEST(r.out == "survived\n", r.describe());
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
}

// A program without errors gets no report in any mode, and the same output.
BOOST_DATA_TEST_CASE(clean_program_is_not_blamed,
                     boost::unit_test::data::make({"sample", "light", "full"}), mode) {
  Case c{"clean", mode, "", {}};
  e2e::Result r = run(c, "abort");
  BOOST_TEST(r.ok(), r.describe());
  BOOST_TEST(r.out == "survived\n");
  BOOST_TEST(r.err.find("ERROR") == std::string::npos, r.err);
}
