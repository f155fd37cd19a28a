// Leak report parity tests: realistic leaky programs (this folder) run under
// LD_PRELOAD=libmpshim.so. Each report is checked to the byte and the block against the
// figures the program's header comment states, per allocation site: the groups of one class
// whose innermost frame in the program's own source is a given function at the line of a
// "@marker" comment (library frames, inlined or not, may come before it). Every direct and
// indirect group must belong to a stated site. A few programs are also run under valgrind,
// whose figures must be the same. Arguments after "--": <programs build dir> <source dir>
// [libmpshim.so]; SHIM_TEST_LIB as for leak_e2e.
#define BOOST_TEST_MODULE parity_e2e
#include <gnu/libc-version.h>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "checks.h"

using namespace leaktest;
namespace bdata = boost::unit_test::data;
namespace utf = boost::unit_test;

namespace {

struct Site {
  const char* cls;       ///< direct, indirect or reachable
  const char* fn;        ///< innermost function in the program's source
  const char* marker;    ///< on the line of its call
  uint64_t bytes, blocks;
  const char* function;  ///< allocation function of each of the site's groups; null: any
};

struct Program {
  const char* name;
  const char* source;
  int status;
  ClassTotals direct, indirect;  ///< bytes, blocks, groups
  std::vector<Site> sites;
};

const char* const kNew = "operator new";

// libc_leaks' figures inside libc are those of this version (Debian 12).
const char* const kLibcOfFigures = "2.36";

const Program kPrograms[] = {
    {"hashtable", "hashtable.c", 0, {128, 1, 1}, {320, 20, 2},
     {{"direct", "table_rehash", "@buckets", 128, 1, "calloc"},
      {"indirect", "table_put", "@entry", 240, 10, "malloc"},
      {"indirect", "table_put", "@key", 80, 10, "malloc"}}},
    {"ring", "ring.c", 0, {56, 2, 2}, {280, 7, 2},
     {{"direct", "ring_add", "@ring_add", 40, 1, "malloc"},
      {"indirect", "ring_add", "@ring_add", 160, 4, "malloc"},
      {"direct", "list_new", "@list_new", 16, 1, "malloc"},
      {"indirect", "list_push", "@list_push", 120, 3, "malloc"}}},
    {"strings", "strings.c", 0, {526, 7, 4}, {0, 0, 0},
     {{"direct", "greet", "@asprintf", 25, 1, "malloc"},
      {"direct", "remember", "@strdup", 15, 1, "malloc"},
      {"direct", "prefix", "@strndup", 6, 1, "malloc"},
      {"direct", "read_lines", "@getline", 480, 4, "malloc"}}},
    {"tree", "tree.c", 0, {48, 1, 1}, {288, 6, 1},
     {{"direct", "new_node", "@new_node", 48, 1, "malloc"},
      {"indirect", "new_node", "@new_node", 288, 6, "malloc"}}},
    {"owners", "owners.cc", 0, {312, 8, 3}, {633, 11, 4},
     {{"direct", "make_names", "@names", 128, 4, kNew},
      {"indirect", "make_names", "@names", 164, 4, kNew},
      {"direct", "register_widgets", "@widgets", 168, 3, kNew},
      {"indirect", "register_widgets", "@widget_name", 93, 3, kNew},
      {"indirect", "register_widgets", "@widget_data", 120, 3, kNew},
      {"direct", "take_buffer", "@take_buffer", 16, 1, kNew},
      {"indirect", "Buffer::Buffer", "@buffer_bytes", 256, 1, "operator new[]"}}},
    {"shared_cycle", "shared_cycle.cc", 0, {136, 2, 2}, {40, 1, 1},
     {{"direct", "new_peer", "@peer", 40, 1, kNew},
      {"indirect", "new_peer", "@peer", 40, 1, kNew},
      {"direct", "open_session", "@session", 96, 1, kNew}}},
    {"pool", "pool.cc", 0, {1280, 20, 1}, {0, 0, 0},
     {{"direct", "handle_request", "@request", 1280, 20, kNew},
      {"reachable", "main", "@pool", 248, 1, kNew}}},
    {"blocked", "blocked.c", 0, {160, 5, 5}, {0, 0, 0},
     {{"direct", "thread_name", "@thread_name", 160, 5, "malloc"}}},
    {"growth", "growth.c", 0, {48, 2, 2}, {256, 1, 1},
     {{"direct", "vec_new", "@vec_new", 24, 1, "malloc"},
      {"direct", "sb_append", "@sb_append", 24, 1, "realloc"},
      {"indirect", "vec_push", "@vec_push", 256, 1, "realloc"}}},
    {"intrusive", "intrusive.c", 0, {16, 1, 1}, {200, 1, 1},
     {{"direct", "parser_new", "@parser_new", 16, 1, "malloc"},
      {"indirect", "read_input", "@read_input", 200, 1, "malloc"},
      {"reachable", "item_new", "@item_new", 168, 3, "malloc"},
      {"reachable", "lstr_new", "@lstr_new", 32, 1, "malloc"}}},
    {"global_overwrite", "global_overwrite.c", 0, {848, 3, 3}, {58, 4, 4},
     {{"direct", "load_config", "@load_config", 48, 2, "malloc"},
      {"direct", "build_cache", "@build_cache", 800, 1, "calloc"},
      {"indirect", "load_config", "@config_name", 13, 2, "malloc"},
      {"indirect", "config_path", "@config_path", 45, 2, "malloc"},
      {"reachable", "load_config", "@load_config", 24, 1, "malloc"},
      {"reachable", "build_cache", "@build_cache", 800, 1, "calloc"}}},
    {"libc_leaks", "libc_leaks.c", 0, {33360, 4, 4}, {13884, 101, 56},
     {{"direct", "resolve", "@getaddrinfo", 64, 1, "malloc"},
      {"direct", "count_entries", "@opendir", 32816, 1, "malloc"},
      {"direct", "matches", "@regcomp", 480, 2, nullptr},
      {"indirect", "matches", "@regcomp", 2356, 48, nullptr},
      {"indirect", "matches", "@regexec", 11528, 53, nullptr},
      {"reachable", "first_char", "@fopen", 472, 1, "malloc"}}},
    {"libc_quiet", "libc_quiet.c", 0, {0, 0, 0}, {0, 0, 0}, {}},
    {"thread_exit", "thread_exit.c", 3, {40, 1, 1}, {0, 0, 0},
     {{"direct", "parse_error", "@parse_error", 40, 1, "malloc"},
      {"reachable", "parse_error", "@parse_error", 40, 1, "malloc"},
      {"reachable", "new_job", "@new_job", 96, 1, "malloc"}}},
    {"matrix", "matrix.cc", 0, {104, 2, 2}, {536, 7, 4},
     {{"direct", "make_matrix", "@make_matrix", 40, 1, kNew},
      {"direct", "make_packet", "@packet", 64, 1, "operator new(align_val_t)"},
      {"indirect", "alloc_row", "@alloc_row", 320, 4, "posix_memalign"},
      {"indirect", "make_matrix", "@row_table", 32, 1, "calloc"},
      {"indirect", "make_matrix", "@scratch", 96, 1, "aligned_alloc"},
      {"indirect", "make_matrix", "@cells", 88, 1, "operator new[]"}}},
    {"hundredk", "hundredk.c", 0, {3600032, 100001, 2}, {1599968, 49999, 1},
     {{"direct", "make_token", "@make_token", 3600000, 100000, "malloc"},
      {"direct", "push_node", "@push_node", 32, 1, "malloc"},
      {"indirect", "push_node", "@push_node", 1599968, 49999, "malloc"}}},
    {"main_locals", "main_locals.c", 0, {104, 2, 2}, {0, 0, 0},
     {{"direct", "main", "@name", 64, 1, "malloc"},
      {"direct", "main", "@counts", 40, 1, "calloc"}}},
    {"statics", "statics.cc", 0, {460, 5, 3}, {31, 1, 1},
     {{"direct", "add_widgets", "@widget", 120, 3, kNew},
      {"direct", "add_plugin", "@plugin", 40, 1, kNew},
      {"indirect", "add_plugin", "@plugin_path", 31, 1, kNew},
      {"direct", "thread_scratch", "@scratch", 300, 1, "malloc"},
      {"reachable", "thread_scratch", "@scratch", 200, 1, "malloc"},
      {"reachable", "cache", "@cache", 24, 1, kNew}}},
    {"sizes", "sizes.c", 0, {31981313, 63, 1}, {0, 0, 0},
     {{"direct", "leak_one", "@leak", 31981313, 63, "malloc"}}},
    // valgrind calls the stack lost: it ignores pointers to pages that cannot be read.
    {"guard_page", "guard_page.c", 0, {40, 1, 1}, {0, 0, 0},
     {{"direct", "lose_request", "@lose_request", 40, 1, "malloc"},
      {"reachable", "main", "@stack", 65536, 1, "posix_memalign"},
      {"reachable", "new_record", "@record", 72, 3, "malloc"}}},
    // valgrind's figures here follow the allocation order: sessions first, it calls one
    // session direct too (80 B in 2 blocks).
    {"cycle_into_cycle", "cycle_into_cycle.c", 0, {48, 1, 1}, {160, 4, 4},
     {{"direct", "new_conn", "@conn", 48, 1, "malloc"},
      {"indirect", "new_conn", "@conn", 96, 2, "malloc"},
      {"indirect", "new_session", "@session", 64, 2, "malloc"}}},
    {"reused_slot", "reused_slot.c", 0, {1200, 11, 2}, {0, 0, 0},
     {{"direct", "new_payload", "@payload", 1000, 10, "malloc"},
      {"direct", "new_blob", "@blob", 200, 1, "malloc"},
      {"reachable", "new_label", "@label", 320, 10, "malloc"},
      {"reachable", "new_page", "@page", 1024, 1, "malloc"}}},
    {"realloc_tail", "realloc_tail.c", 0, {1000, 10, 1}, {0, 0, 0},
     {{"direct", "new_payload", "@payload", 1000, 10, "malloc"},
      {"reachable", "grow_label", "@label", 1200, 10, "realloc"}}},
    // A shared library's static destructors and destructor functions run from the dynamic
    // linker's exit code, after the shim's own destructor: the check runs after them.
    {"lib_statics", "lib_statics_objects.cc", 0, {184, 5, 3}, {26, 1, 1},
     {{"direct", "make_modifier", "@modifier", 120, 3, kNew},
      {"indirect", "make_modifier", "@name", 26, 1, kNew},
      {"direct", "lib_add_handler", "@handler", 64, 2, "malloc"},
      {"reachable", "make_modifier", "@modifier", 40, 1, kNew}}},
    // Every block of the cycle is pointed at or into: the table, made first, is direct.
    {"table_cycle", "table_cycle.c", 0, {200, 1, 1}, {144, 3, 3},
     {{"direct", "new_table", "@table", 200, 1, "calloc"},
      {"indirect", "new_column", "@column", 144, 3, "calloc"}}},
    {"sampled_page", "sampled_page.c", 0, {200, 2, 2}, {0, 0, 0},
     {{"direct", "new_payload", "@payload", 200, 2, "malloc"},
      {"reachable", "new_label", "@label", 40000, 40, "malloc"}}},
    {"zero_size", "zero_size.c", 0, {24, 2, 2}, {0, 1, 1},
     {{"direct", "lose_empty", "@lose_empty", 0, 1, "malloc"},
      {"direct", "new_record", "@record", 24, 1, "malloc"},
      {"indirect", "new_empty", "@empty", 0, 1, "malloc"},
      {"reachable", "new_record", "@record", 24, 1, "malloc"},
      {"reachable", "new_empty", "@empty", 0, 2, "malloc"}}},
    // The names' copies are kept by glibc's variables (reachable, 2 blocks).
    {"invocation_name", "invocation_name.c", 0, {40, 1, 1}, {0, 0, 0},
     {{"direct", "lose_record", "@record", 40, 1, "malloc"}}},
    // main returned: what the constructor left in libc's frame that called main is dead.
    {"ctor_leak", "ctor_leak.c", 0, {44, 2, 2}, {0, 0, 0},
     {{"direct", "early_registry", "@early", 20, 1, "malloc"},
      {"direct", "late_record", "@late", 24, 1, "malloc"}}},
    // Threads waiting in raw system calls right where they allocated: nothing of the
    // allocation is left in the words just below their stack pointers.
    {"raw_wait", "raw_wait.c", 0, {160, 2, 1}, {0, 0, 0},
     {{"direct", "lose_block", "@lose_block", 160, 2, "malloc"}}},
    // A waiting thread's vector registers, saved below its stack pointer by the signal of
    // the register snapshot, hold the lost block's address: that frame is no root.
    {"vector_regs", "vector_regs.c", 0, {40, 1, 1}, {0, 0, 0},
     {{"direct", "new_settings", "@settings", 40, 1, "malloc"}}},
    // The check runs after the main thread ended: /proc/self's maps and exe are empty then.
    {"main_pthread_exit", "main_pthread_exit.c", 0, {64, 1, 1}, {0, 0, 0},
     {{"direct", "lose_block", "@lose_block", 64, 1, "malloc"},
      {"reachable", "worker", "@keep", 70, 1, "malloc"}}},
    // libunwind's memory, which saw the handler's alternate stack, is no root.
    {"heap_altstack", "heap_altstack.c", 0, {65536, 1, 1}, {0, 0, 0},
     {{"direct", "new_alt_stack", "@alt_stack", 65536, 1, "malloc"},
      {"reachable", "on_signal", "@handler_block", 64, 1, "malloc"}}},
    // The untouched pages of a file's private mapping hold the file's bytes.
    {"file_map", "file_map.c", 0, {48, 1, 1}, {0, 0, 0},
     {{"direct", "lost_record", "@lost", 48, 1, "malloc"},
      {"reachable", "mapped_record", "@mapped", 200, 1, "malloc"}}},
    // The allocator's slow path leaves no copy of the block's address on the stack.
    {"slow_path", "slow_path.c", 0, {48, 1, 1}, {0, 0, 0},
     {{"direct", "drop_first", "@first", 48, 1, "malloc"}}},
};

/// The innermost frame of `g` in source file `source`, or null.
const Frame* own_frame(const Group& g, const std::string& source) {
  for (const Frame& f : g.stack)
    if (ends_with(f.file, "/" + source)) return &f;
  return nullptr;
}

/// Checks the totals of `rep` and every site of `p`; `exact` false checks only that each
/// site is found (figures of another libc).
void check_program(const Program& p, const Report& rep, bool exact = true) {
  if (exact) {
    check_class("direct", rep.direct, p.direct.bytes, p.direct.blocks, p.direct.groups);
    check_class("indirect", rep.indirect, p.indirect.bytes, p.indirect.blocks, p.indirect.groups);
  }
  std::vector<uint64_t> bytes(p.sites.size()), blocks(p.sites.size());
  for (const Group& g : rep.leaks) {
    const Frame* f = own_frame(g, p.source);
    bool found = false;
    for (size_t k = 0; k < p.sites.size(); ++k) {
      const Site& s = p.sites[k];
      if (g.cls != s.cls || f == nullptr || !names(f->function, s.fn) ||
          f->line != uint64_t(marker_line(p.source, s.marker)))
        continue;
      found = true;
      bytes[k] += g.bytes;
      blocks[k] += g.count;
      if (s.function != nullptr) BOOST_TEST(g.function == s.function, s.fn << " " << s.marker);
    }
    if (g.cls != "reachable")
      BOOST_TEST(found, "a " << g.cls << " group of " << g.bytes << " B in " << g.count
                              << " at no stated site: "
                              << (f ? f->function + ":" + std::to_string(f->line) : "no own frame"));
  }
  for (size_t k = 0; k < p.sites.size(); ++k) {
    const Site& s = p.sites[k];
    BOOST_TEST_CONTEXT(s.cls << " at " << s.fn << " " << s.marker) {
      BOOST_TEST(blocks[k] != 0u);
      if (exact) {
        BOOST_TEST(bytes[k] == s.bytes);
        BOOST_TEST(blocks[k] == s.blocks);
      }
    }
  }
}

RunOptions with_reachable() {
  RunOptions o;
  o.env = {{"MPSHIM_REPORT_REACHABLE", "1"}};
  return o;
}

/// Runs program `name` (reachable blocks reported) with `check` as MPSHIM_CHECK and the
/// extra settings `env`, and checks its report against its stated figures.
void check_in_mode(const char* name, const std::string& opt, const char* check,
                   std::vector<std::pair<std::string, std::string>> env = {}) {
  RunOptions o = with_reachable();
  o.env.push_back({"MPSHIM_CHECK", check});
  o.env.insert(o.env.end(), env.begin(), env.end());
  Run r = run_prog(name, opt, o);
  WITH_RUN(r) BOOST_TEST_CONTEXT(check << " " << name) {
    BOOST_TEST(r.status == 0);
    for (const Program& p : kPrograms)
      if (std::strcmp(p.name, name) == 0) check_program(p, the_report(r), true);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parity, *utf::precondition(shim_given))

BOOST_DATA_TEST_CASE(programs, bdata::xrange(std::size(kPrograms)) * bdata::make(kOpts), k, opt) {
  const Program& p = kPrograms[k];
  Run r = run_prog(p.name, opt, with_reachable());
  WITH_RUN(r) BOOST_TEST_CONTEXT(p.name) {
    BOOST_TEST(r.status == p.status);
    check_program(p, the_report(r),
                  std::strcmp(p.name, "libc_leaks") != 0 ||
                      std::strcmp(gnu_get_libc_version(), kLibcOfFigures) == 0);
  }
}

// The programs that end with 0 (libc_leaks aside: its figures are stated for one libc).
std::vector<const char*> clean_exits() {
  std::vector<const char*> names;
  for (const Program& p : kPrograms)
    if (p.status == 0 && std::strcmp(p.name, "libc_leaks") != 0) names.push_back(p.name);
  return names;
}

// The allocation profile keeps nothing the scan could take for a pointer to a block (the
// last block of each thread, for its temporaries, was such a pointer).
BOOST_DATA_TEST_CASE(programs_with_a_profile, bdata::make(clean_exits()), name) {
  check_in_mode(name, "O2", "off", {{"MPSHIM_PROFILE", "/dev/null"}});
}

// Every program's figures under each memory check, every block sampled in sample mode (a
// sampled block on guard pages is read around a page the program made unreadable, as a
// block in a slot is: guard_page's coroutine stack). `blocked` is left out: under load one
// of its workers may not have reached its blocking call when main returns, and then the
// thread name it lost can still lie in its red zone (its own test runs it in the default
// mode).
// slow_path's block may stay reachable there: the checked paths' own frames (find_block's
// saved registers) hold its address below the program's frame, and only the allocator's
// slow paths wipe what they leave.
std::vector<const char*> check_mode_programs() {
  std::vector<const char*> names = clean_exits();
  std::erase_if(names, [](const char* n) { return std::strcmp(n, "blocked") == 0 || std::strcmp(n, "slow_path") == 0; });
  return names;
}
BOOST_DATA_TEST_CASE(programs_in_check_modes,
                     bdata::make(check_mode_programs()) * bdata::make({"sample", "light", "full"}), name, mode) {
  check_in_mode(name, "O2", mode, {{"MPSHIM_SAMPLE_RATE", "1"}});
}

// A freed block's stale pointers are gone under the memory checks too, where a block
// leaves the quarantine at once (records only) and its slot may be reused: sample clears
// a new unsampled block (and realloc's new bytes) as tracking alone does, light and full
// write their patterns.
BOOST_DATA_TEST_CASE(reused_slot_in_check_modes,
                     bdata::make({"sample", "light", "full"}) * bdata::make({"reused_slot", "realloc_tail"}),
                     mode, name) {
  check_in_mode(name, "O2", mode, {{"MPSHIM_QUARANTINE", "0"}});
}

// The checked allocation paths leave no copy of a new block's address in the words just
// below the caller's stack pointer either.
BOOST_DATA_TEST_CASE(raw_wait_in_check_modes, bdata::make({"sample", "light", "full"}) * bdata::make(kOpts),
                     mode, opt) {
  check_in_mode("raw_wait", opt, mode);
}

// A sampled block that takes over the page of one freed earlier: what the freed block left
// there, before the new block or inside it, is gone.
BOOST_DATA_TEST_CASE(sampled_block_on_a_reused_page, bdata::make(kOpts), opt) {
  check_in_mode("sampled_page", opt, "sample", {{"MPSHIM_SAMPLE_RATE", "1"}});
}

// A pointer to a zero-byte block's address refers to it in every mode, also where a redzone
// lies before the block.
BOOST_DATA_TEST_CASE(zero_size_in_check_modes, bdata::make({"sample", "light", "full"}) * bdata::make(kOpts),
                     mode, opt) {
  check_in_mode("zero_size", opt, mode);
}

// The snapshot's signal frame is no root in any mode (memcached's 40 B under sample).
BOOST_DATA_TEST_CASE(vector_regs_in_check_modes, bdata::make({"sample", "light", "full"}), mode) {
  check_in_mode("vector_regs", "O2", mode, {{"MPSHIM_SAMPLE_RATE", "1"}});
}

// Each process that ends through exit() reports once; the worker that ends with _exit()
// does not (nor does it under LeakSanitizer; valgrind checks it too).
BOOST_DATA_TEST_CASE(forker_one_report_per_exit, bdata::make(kOpts), opt) {
  Run r = run_prog("forker", opt);
  WITH_RUN(r) {
    BOOST_TEST(r.status == 0);
    BOOST_TEST_REQUIRE(r.reports.size() == 3u);
    BOOST_TEST_REQUIRE(r.reports.count(r.pid) == 1u);
    int workers[3] = {0, 0, 0};  // reports by the number of leak_in_worker blocks
    for (auto& [pid, path] : r.reports) {
      Report rep = read_report(path);
      BOOST_TEST(rep.pid == uint64_t(pid));
      check_class("indirect", rep.indirect, 0, 0, 0);
      const Group* table = check_group(rep, "direct", "leak_job_table", 48, 1, "malloc");
      check_line(*table, "forker.c", "@job_table");
      if (pid == r.pid) {
        check_class("parent direct", rep.direct, 125, 2, 2);
        check_group(rep, "direct", "leak_in_parent", 77, 1, "malloc");
        continue;
      }
      auto gs = rep.groups("direct", "leak_in_worker");
      BOOST_TEST_REQUIRE(gs.size() == 1u);
      uint64_t n = gs[0]->count;
      BOOST_TEST_REQUIRE((n == 1 || n == 2));
      workers[n]++;
      check_class("worker direct", rep.direct, 48 + 200 * n, 1 + n, 2);
      check_line(*gs[0], "forker.c", "@worker");
    }
    BOOST_TEST(workers[1] == 1);
    BOOST_TEST(workers[2] == 1);
  }
}

// The exit status for leaks replaces the program's own, also when a thread calls exit().
BOOST_AUTO_TEST_CASE(leak_exitcode) {
  RunOptions o;
  o.env = {{"MPSHIM_LEAK_EXITCODE", "23"}};
  for (const char* name : {"thread_exit", "pool", "main_locals"}) {
    Run r = run_prog(name, "O2", o);
    WITH_RUN(r) BOOST_TEST(r.status == 23);
  }
  Run quiet = run_prog("libc_quiet", "O2", o);
  WITH_RUN(quiet) BOOST_TEST(quiet.status == 0);
}

BOOST_AUTO_TEST_SUITE_END()

// ---- valgrind agrees ---------------------------------------------------------------------

namespace {

/// valgrind's figures for a program (-O0): definitely lost is mpshim's direct, indirectly
/// lost its indirect, and possibly lost (blocks reached only through interior pointers) the
/// reachable site named here.
struct Agreed {
  const char* name;
  Memcheck expect;
  const char* interior_site;  ///< mpshim's reachable site of valgrind's possibly lost
};
const Agreed kAgreed[] = {
    {"hashtable", {128, 1, 320, 20, 0, 0}, nullptr},
    {"ring", {56, 2, 280, 7, 0, 0}, nullptr},
    {"strings", {526, 7, 0, 0, 0, 0}, nullptr},
    {"intrusive", {16, 1, 200, 1, 168, 3}, "item_new"},
    {"matrix", {104, 2, 536, 7, 0, 0}, nullptr},
    {"reused_slot", {1200, 11, 0, 0, 0, 0}, nullptr},
    {"realloc_tail", {1000, 10, 0, 0, 0, 0}, nullptr},
    {"table_cycle", {200, 1, 144, 3, 0, 0}, nullptr},
    {"lib_statics", {184, 5, 26, 1, 0, 0}, nullptr},
    {"invocation_name", {40, 1, 0, 0, 0, 0}, nullptr},
    {"ctor_leak", {44, 2, 0, 0, 0, 0}, nullptr},
};

}  // namespace

BOOST_TEST_DECORATOR(*utf::precondition(valgrind_found))
BOOST_DATA_TEST_CASE(valgrind_agrees, bdata::xrange(std::size(kAgreed)), k) {
  const Agreed& a = kAgreed[k];
  paths();
  std::string log;
  Memcheck m = memcheck(program(a.name, "O0"), &log);
  BOOST_TEST_CONTEXT(a.name << "; valgrind: " << log) {
    BOOST_TEST(m.definite_bytes == a.expect.definite_bytes);
    BOOST_TEST(m.definite_blocks == a.expect.definite_blocks);
    BOOST_TEST(m.indirect_bytes == a.expect.indirect_bytes);
    BOOST_TEST(m.indirect_blocks == a.expect.indirect_blocks);
    BOOST_TEST(m.possible_bytes == a.expect.possible_bytes);
    BOOST_TEST(m.possible_blocks == a.expect.possible_blocks);
  }
  if (paths().shim.empty()) return;
  Run r = run_prog(a.name, "O0", with_reachable());
  WITH_RUN(r) BOOST_TEST_CONTEXT("valgrind: " << log) {
    Report rep = the_report(r);
    BOOST_TEST(rep.direct.bytes == m.definite_bytes);
    BOOST_TEST(rep.direct.blocks == m.definite_blocks);
    BOOST_TEST(rep.indirect.bytes == m.indirect_bytes);
    BOOST_TEST(rep.indirect.blocks == m.indirect_blocks);
    uint64_t interior_bytes = 0, interior_blocks = 0;
    if (a.interior_site != nullptr)
      for (const Group* g : rep.groups("reachable", a.interior_site)) {
        interior_bytes += g->bytes;
        interior_blocks += g->count;
      }
    BOOST_TEST(interior_bytes == m.possible_bytes);
    BOOST_TEST(interior_blocks == m.possible_blocks);
  }
}
