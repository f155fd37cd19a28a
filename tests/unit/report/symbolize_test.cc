// Symbolisation: names from debug info and symbol tables, demangling, module+offset,
// caching, and modules unloaded with dlclose.
#include "report/symbolize.h"

#include <link.h>

#include <chrono>
#include <cstring>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <string>
#include <unistd.h>

#include "common.h"
#include "report/debug_files.h"
#include "report/report.h"

using namespace mpshim::report;

namespace {

int g_static_line;

__attribute__((noinline)) uintptr_t return_here() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  asm volatile("" : : : "memory");
  return pc;
}

std::string exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool ends_with(const char* s, const std::string& suffix) {
  if (s == nullptr) return false;
  size_t n = strlen(s);
  return n >= suffix.size() && memcmp(s + n - suffix.size(), suffix.data(), suffix.size()) == 0;
}

}  // namespace

// A static function: in the symbol table only as a local symbol, named by debug info.
static __attribute__((noinline)) uintptr_t probe_static(int x) {
  uintptr_t pc = return_here(); g_static_line = __LINE__;
  asm volatile("" : : "r"(x) : "memory");
  return pc;
}

// A function of its own, so that no other test has looked up its address.
static __attribute__((noinline)) uintptr_t probe_detail() {
  uintptr_t pc = return_here();
  asm volatile("" : : : "memory");
  return pc;
}

TEST(Demangle, CxxNames) {
  char buf[256];
  EXPECT_TRUE(demangle("_Z9make_nodei", buf, sizeof buf));
  EXPECT_STREQ(buf, "make_node(int)");
  EXPECT_TRUE(demangle("_ZN2ns5Klass6methodERKSt6vectorIiSaIiEE", buf, sizeof buf));
  EXPECT_STREQ(buf, "ns::Klass::method(std::vector<int, std::allocator<int> > const&)");
  EXPECT_TRUE(demangle("_ZL12probe_statici", buf, sizeof buf));
  EXPECT_STREQ(buf, "probe_static(int)");
}

TEST(Demangle, RustNames) {
  char buf[256];
  // Legacy: a C++ name whose last component is a hash, which the report leaves out.
  EXPECT_TRUE(demangle("_ZN9r01_leaks9arc_cycle17hbbddc9e2f023ea52E", buf, sizeof buf));
  EXPECT_STREQ(buf, "r01_leaks::arc_cycle");
  EXPECT_TRUE(demangle("_ZN4core3ptr13drop_in_place17ha0df1402a2ec3167E", buf, sizeof buf));
  EXPECT_STREQ(buf, "core::ptr::drop_in_place");
  // v0.
  EXPECT_TRUE(demangle("_RNvCs15kBYyAo9fc_7mycrate7example", buf, sizeof buf));
  EXPECT_STREQ(buf, "mycrate::example");
}

TEST(Demangle, PlainNamesAndTruncation) {
  char buf[256];
  EXPECT_FALSE(demangle("main", buf, sizeof buf));
  EXPECT_STREQ(buf, "main");
  EXPECT_FALSE(demangle("_Zgarbage", buf, sizeof buf));
  EXPECT_STREQ(buf, "_Zgarbage");
  char small[6];
  EXPECT_TRUE(demangle("_Z9make_nodei", small, sizeof small));
  EXPECT_STREQ(small, "make_");
}

TEST(Symbolize, StaticFunctionWithDebugInfo) {
  uintptr_t pc = probe_static(3);
  const SymInfo* si = symbolize(pc);
  ASSERT_NE(si, nullptr);
  EXPECT_EQ(si->pc, pc);
  EXPECT_STREQ(si->frame.function, "probe_static(int)");
  EXPECT_TRUE(ends_with(si->frame.file, "symbolize_test.cc")) << si->frame.file;
  EXPECT_EQ(si->frame.line, uint32_t(g_static_line));
  EXPECT_EQ(si->frame.next, nullptr);
}

// A signal handler returns to the C library's signal return code, which a stripped libc
// names nowhere: the report calls it as gdb does.
uintptr_t g_handler_return;
void note_return(int) { g_handler_return = reinterpret_cast<uintptr_t>(__builtin_return_address(0)); }

TEST(Symbolize, SignalReturnIsNamed) {
  struct sigaction sa {}, old {};
  sa.sa_handler = note_return;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  raise(SIGUSR2);
  sigaction(SIGUSR2, &old, nullptr);
  ASSERT_NE(g_handler_return, 0u);
  const SymInfo* si = symbolize(g_handler_return);
  ASSERT_NE(si->frame.function, nullptr);
  EXPECT_STREQ(si->frame.function, "<signal handler called>");
  EXPECT_TRUE(si->module != nullptr && strstr(si->module, "libc") != nullptr) << si->module;
}

TEST(Symbolize, ModuleAndOffset) {
  uintptr_t pc = rt::site_a();
  const SymInfo* si = symbolize(pc);
  ASSERT_NE(si->module, nullptr);
  EXPECT_EQ(std::string(si->module), exe());
  EXPECT_STREQ(executable_path(), exe().c_str());
  Dl_info info;
  ASSERT_NE(dladdr(reinterpret_cast<void*>(pc), &info), 0);
  EXPECT_EQ(si->offset, pc - reinterpret_cast<uintptr_t>(info.dli_fbase));
  EXPECT_STREQ(si->frame.function, "rt::site_a()");
  EXPECT_EQ(si->frame.line, uint32_t(rt::site_a_line));
}

TEST(Symbolize, SharedLibraryFunction) {
  // A return address inside libc's getpid wrapper region: module is libc, a name exists.
  uintptr_t pc = reinterpret_cast<uintptr_t>(&getpid) + 1;
  const SymInfo* si = symbolize(pc);
  ASSERT_NE(si->module, nullptr);
  EXPECT_NE(strstr(si->module, "libc.so"), nullptr) << si->module;
  ASSERT_NE(si->frame.function, nullptr);
  EXPECT_NE(strstr(si->frame.function, "getpid"), nullptr) << si->frame.function;
}

TEST(Symbolize, FunctionsOnlyThenLines) {
  uintptr_t pc = probe_detail();
  const SymInfo* f = symbolize(pc, Detail::Functions);
  EXPECT_FALSE(f->lines);
  EXPECT_STREQ(f->frame.function, "probe_detail()");  // the symbol table's local symbol
  EXPECT_EQ(f->frame.file, nullptr);
  size_t cached = symbolize_cached();
  const SymInfo* l = symbolize(pc);
  EXPECT_NE(l, f);
  EXPECT_TRUE(l->lines);
  EXPECT_TRUE(ends_with(l->frame.file, "symbolize_test.cc")) << l->frame.file;
  EXPECT_STREQ(f->frame.function, "probe_detail()") << "the first answer stays valid";
  EXPECT_EQ(symbolize(pc, Detail::Functions), l);
  EXPECT_EQ(symbolize_cached(), cached);
  const uint8_t* id = nullptr;
  size_t len = 0;
  ASSERT_TRUE(module_build_id(pc, &id, &len));
  EXPECT_GE(len, 8u);
  EXPECT_FALSE(module_build_id(0x10, &id, &len));
}

TEST(Symbolize, UnknownAddress) {
  const SymInfo* si = symbolize(0x10);
  EXPECT_EQ(si->module, nullptr);
  EXPECT_EQ(si->frame.function, nullptr);
  EXPECT_EQ(si->frame.file, nullptr);
}

TEST(Symbolize, CachedPerAddress) {
  uintptr_t pc = rt::site_b();
  const SymInfo* a = symbolize(pc);
  size_t cached = symbolize_cached();
  const SymInfo* b = symbolize(pc);
  EXPECT_EQ(a, b);
  EXPECT_EQ(symbolize_cached(), cached);
}

TEST(Symbolize, ModuleLoadedLaterAndUnloaded) {
  symbolize(rt::site_a());  // the debug-info state exists before the dlopen
  void* h = dlopen(REPORT_TESTLIB, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  auto site = reinterpret_cast<uintptr_t (*)()>(dlsym(h, "report_testlib_site"));
  ASSERT_NE(site, nullptr);
  uintptr_t pc = site();
  uintptr_t other = reinterpret_cast<uintptr_t>(site) + 1;  // in no recorded stack
  uintptr_t lo, hi;
  const char* path;
  ASSERT_TRUE(module_of(pc, &lo, &hi, &path));
  EXPECT_TRUE(ends_with(path, "libreport_testlib.so")) << path;

  rt::FakeStacks stacks;
  stacks.add({rt::site_b()});
  stacks.add({pc, rt::outer()});
  before_module_unload(h);
  ASSERT_EQ(dlclose(h), 0);
  EXPECT_FALSE(module_of(pc, &lo, &hi, &path)) << "the module is still mapped";

  const SymInfo* si = symbolize(pc);  // named before the unload
  EXPECT_STREQ(si->frame.function, "hidden_site(int)");
  EXPECT_TRUE(ends_with(si->module, "libreport_testlib.so"));
  EXPECT_EQ(si->frame.file, nullptr);  // built without debug info
  const SymInfo* gone = symbolize(other);  // not recorded: its module is gone
  EXPECT_EQ(gone->module, nullptr);

}

// Report-sized work: 10,000 stacks of 16 distinct return addresses each, spread over the
// test program's code, symbolised from a cold cache.
TEST(Symbolize, ManyDistinctAddressesAreFast) {
  uintptr_t lo, hi;
  rt::code_range(&lo, &hi);
  ASSERT_LT(lo, hi);
  const size_t n = 160000;
  symbolize_reset();
  auto t0 = std::chrono::steady_clock::now();
  symbolize(lo + 1);  // reads the debug info of every module
  auto t1 = std::chrono::steady_clock::now();
  size_t named = 0;
  for (size_t i = 0; i < n; ++i) {
    uintptr_t pc = lo + 1 + (i * (hi - lo - 1)) / n;
    if (symbolize(pc)->frame.function != nullptr) ++named;
  }
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  RecordProperty("seconds", std::to_string(s));
  printf("symbolised %zu addresses (%zu named) in %.3f s, %.3f s of it reading debug info\n", n,
         named, s, std::chrono::duration<double>(t1 - t0).count());
  EXPECT_EQ(symbolize_cached(), n);
  EXPECT_GT(named, n / 2);
  if (rt::timing_checked()) {
    EXPECT_LT(s, 5.0);
  }
}

namespace {

// The GNU build id of the module holding `addr`, from its loaded notes.
struct BuildId {
  uintptr_t addr, bias = 0;
  const uint8_t* id = nullptr;
  size_t len = 0;
};

int find_id(dl_phdr_info* info, size_t, void* data) {
  auto* b = static_cast<BuildId*>(data);
  bool inside = false;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr;
    if (ph.p_type == PT_LOAD && b->addr - lo < ph.p_memsz) inside = true;
  }
  if (!inside) return 0;
  b->bias = info->dlpi_addr;
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_NOTE) continue;
    auto* p = reinterpret_cast<const uint8_t*>(info->dlpi_addr + ph.p_vaddr);
    const auto* nh = reinterpret_cast<const ElfW(Nhdr)*>(p);
    if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4) {
      b->id = p + sizeof(ElfW(Nhdr)) + 4;
      b->len = nh->n_descsz;
    }
  }
  return 1;
}

}  // namespace

// libc's functions are named from its separate debug file (when the system has one),
// whose DWARF libbacktrace is not given by default; unknown ids and addresses give none.
TEST(DebugFiles, SymbolTableOfTheSeparateDebugFile) {
  EXPECT_EQ(mpshim::report::debug_file_symbol(nullptr, 0, 0), nullptr);
  const uint8_t bogus[20] = {1, 2, 3};
  EXPECT_EQ(mpshim::report::debug_file_symbol(bogus, sizeof bogus, 0x1000), nullptr);
  void* handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(handle, nullptr);
  BuildId libc{reinterpret_cast<uintptr_t>(dlsym(handle, "qsort"))};  // not a PLT entry
  dlclose(handle);
  dl_iterate_phdr(find_id, &libc);
  ASSERT_NE(libc.id, nullptr);
  const char* name = mpshim::report::debug_file_symbol(libc.id, libc.len, libc.addr - libc.bias);
  if (name == nullptr) GTEST_SKIP() << "no separate debug file for libc on this system";
  EXPECT_NE(strstr(name, "qsort"), nullptr) << name;
  EXPECT_EQ(mpshim::report::debug_file_symbol(libc.id, libc.len, ~uintptr_t(0) >> 8), nullptr);
}
