#include "common.h"

#include <cstring>
#include <fstream>
#include <link.h>
#include <sstream>

namespace rt {

namespace {
std::vector<std::vector<uintptr_t>> g_stacks;

size_t frames(uint32_t id, const uintptr_t** pcs) {
  if (id >= g_stacks.size()) return 0;
  *pcs = g_stacks[id].data();
  return g_stacks[id].size();
}
uint32_t count() { return static_cast<uint32_t>(g_stacks.size()); }

__attribute__((noinline)) uintptr_t capture() {
  uintptr_t pc = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  asm volatile("" : : : "memory");
  return pc;
}
}  // namespace

const char* const kThisFile = __FILE__;
int site_a_line, site_b_line, outer_line;

__attribute__((noinline)) uintptr_t site_a() {
  uintptr_t pc = capture(); site_a_line = __LINE__;
  asm volatile("" : : : "memory");
  return pc;
}

__attribute__((noinline)) uintptr_t site_b() {
  uintptr_t pc = capture(); site_b_line = __LINE__;
  asm volatile("" : : : "memory");
  return pc;
}

__attribute__((noinline)) uintptr_t outer() {
  uintptr_t pc = capture(); outer_line = __LINE__;
  asm volatile("" : : : "memory");
  return pc;
}

void code_range(uintptr_t* lo, uintptr_t* hi) {
  uintptr_t range[2] = {0, 0};
  dl_iterate_phdr(
      [](dl_phdr_info* info, size_t, void* data) {
        if (info->dlpi_name[0] != '\0') return 0;  // the executable comes first
        auto* r = static_cast<uintptr_t*>(data);
        for (int i = 0; i < info->dlpi_phnum; ++i)
          if (info->dlpi_phdr[i].p_type == PT_LOAD && (info->dlpi_phdr[i].p_flags & PF_X)) {
            r[0] = info->dlpi_addr + info->dlpi_phdr[i].p_vaddr;
            r[1] = r[0] + info->dlpi_phdr[i].p_memsz;
          }
        return 1;
      },
      range);
  *lo = range[0];
  *hi = range[1];
}

bool timing_checked() {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  return false;
#else
  const char* preload = getenv("LD_PRELOAD");
  return preload == nullptr || strstr(preload, "vgpreload") == nullptr;
#endif
}

FakeStacks::FakeStacks() {
  g_stacks.clear();
  mpshim::report::StackSource s{frames, count};
  mpshim::report::set_stack_source(&s);
}

FakeStacks::~FakeStacks() {
  mpshim::report::set_stack_source(nullptr);
  g_stacks.clear();
}

uint32_t FakeStacks::add(std::vector<uintptr_t> pcs) {
  g_stacks.push_back(std::move(pcs));
  return static_cast<uint32_t>(g_stacks.size() - 1);
}

TempFile::TempFile() {
  char tmpl[] = "/tmp/mpshim_report_XXXXXX";
  fd_ = mkstemp(tmpl);
  path_ = tmpl;
}

TempFile::~TempFile() {
  if (fd_ >= 0) close(fd_);
  unlink(path_.c_str());
}

std::string TempFile::read() const {
  std::ifstream in(path_);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace rt
