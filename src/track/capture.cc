#include "track/capture.h"

#include <link.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <iterator>

#include "prim/defines.h"
#include "prim/file.h"
#include "track/track.h"
#include "track/unwind.h"
#include "track/unwinder.h"

// glibc's entry point, which calls main (through __libc_start_call_main) and exit() with
// what it returned.
extern "C" int __libc_start_main(int (*)(int, char**, char**), int, char**, void (*)(),
                                 void (*)(), void (*)(), void*);

namespace mpshim::track {
namespace {

struct CodeRange {
  uintptr_t lo = 0, hi = 0;
  bool contains(uintptr_t pc) const { return pc - lo < hi - lo; }
};

CodeRange g_own;  // the shim's text when it runs as a shared object, else empty
CodeRange g_own_data[4];  // its writable segments (data, bss) then
size_t g_own_ndata = 0;
CodeRange g_ld;   // the dynamic linker's mapped image
// Frames inside the shim seen below the caller's skipped ones (grows to the deepest path
// seen, so the unwinder is asked for just enough frames).
std::atomic<size_t> g_own_frames{0};

// Raised while this thread runs libunwind (see in_unwinder).
MPSHIM_TLS bool t_unwinding = false;

// Scope in which this thread may run libunwind: `ok` is false when the pipe libunwind
// checks memory with cannot be made (prim/file.h), and libunwind must not run then.
struct Unwinding {
  bool outer = !t_unwinding;
  bool ok = true;
  Unwinding() {
    if (!outer) return;
    ok = prim::unwinder_pipe_acquire();
    t_unwinding = ok;
  }
  ~Unwinding() {
    if (!outer || !ok) return;
    t_unwinding = false;
    prim::unwinder_pipe_release();
  }
};

const char* base_name(const char* path) {
  const char* slash = strrchr(path, '/');
  return slash != nullptr ? slash + 1 : path;
}

int on_object(dl_phdr_info* info, size_t, void*) {
  CodeRange all{~uintptr_t(0), 0}, text{~uintptr_t(0), 0};
  CodeRange data[std::size(g_own_data)];
  size_t ndata = 0;
  bool has_self = false;
  auto self = reinterpret_cast<uintptr_t>(&capture_stack);
  for (int i = 0; i < info->dlpi_phnum; ++i) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD) continue;
    uintptr_t lo = info->dlpi_addr + ph.p_vaddr, hi = lo + ph.p_memsz;
    if (lo < all.lo) all.lo = lo;
    if (hi > all.hi) all.hi = hi;
    if ((ph.p_flags & PF_W) != 0 && ndata < std::size(data)) data[ndata++] = CodeRange{lo, hi};
    if ((ph.p_flags & PF_X) == 0) continue;
    if (lo < text.lo) text.lo = lo;
    if (hi > text.hi) text.hi = hi;
    has_self |= self - lo < hi - lo;
  }
  const char* name = info->dlpi_name != nullptr ? info->dlpi_name : "";
  // The shim is the shared object holding this code, whatever the user named its file;
  // the program itself (no name) only when the cores are linked into it (tests).
  if (has_self && name[0] != '\0') {
    g_own = text;
    for (size_t i = 0; i < ndata; ++i) g_own_data[i] = data[i];
    g_own_ndata = ndata;
  }
  const char* base = base_name(name);
  if (all.hi != 0 && (strncmp(base, "ld-linux", 8) == 0 || strncmp(base, "ld.so", 5) == 0 ||
                      strncmp(base, "ld64.so", 7) == 0))
    g_ld = all;
  return 0;
}

}  // namespace

void capture_init() { dl_iterate_phdr(on_object, nullptr); }

bool in_unwinder() { return t_unwinding; }

bool capture_skips_own_object() { return g_own.hi != 0; }
bool in_dynamic_linker(uintptr_t pc) { return g_ld.contains(pc); }
bool in_own_object(uintptr_t pc) { return g_own.contains(pc); }

void for_each_own_data(void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  for (size_t i = 0; i < g_own_ndata; ++i) fn(g_own_data[i].lo, g_own_data[i].hi, ctx);
}

namespace {

// libunwind's walk, for stacks walk_stack cannot follow: the same result, out[0] being the
// return address into this function's caller. kWalkFailed when libunwind cannot run now.
MPSHIM_NOINLINE size_t general_stack(uintptr_t* out, size_t max) {
  void* buf[kMaxDepth + 40];
  auto ra = reinterpret_cast<void*>(__builtin_return_address(0));
  Unwinding u;
  const Unwinder* unw = u.ok ? unwinder() : nullptr;
  if (unw == nullptr) return kWalkFailed;
  int got = unw->backtrace(buf, int(max + 3 < std::size(buf) ? max + 3 : std::size(buf)));
  size_t n = got > 0 ? size_t(got) : 0, first = 0;
  while (first < 3 && first < n && buf[first] != ra) ++first;
  if (first == 3 || first == n) first = 1;  // not found: assume one frame of our own
  size_t count = 0;
  for (size_t i = first; i < n && count < max; ++i) out[count++] = reinterpret_cast<uintptr_t>(buf[i]);
  return count;
}

}  // namespace

size_t capture_stack(uintptr_t* out, size_t depth, size_t skip, WalkMemo* memo, WalkCache* cache,
                     uint32_t* recalled) {
  if (depth > kMaxDepth) depth = kMaxDepth;
  if (depth == 0) return 0;
  constexpr size_t kCap = kMaxDepth + 32;
  uintptr_t buf[kCap];
  for (;;) {
    size_t own = g_own_frames.load(std::memory_order_relaxed);
    // buf[0] is this function's own frame.
    size_t want = depth + skip + own + 1;
    if (want > kCap) want = kCap;
    size_t walked = 0;
    size_t n = walk_stack(buf, want, memo, &walked, memo != nullptr ? cache : nullptr, recalled);
    if (n == kWalkRecalled) return n;
    if (n == kWalkFailed) {
      // libunwind, else (it cannot be loaded while the dynamic linker is busy) the frames
      // up to the one the walker could not follow. A frame of the dynamic linker without
      // unwind rules is the bottom of the stack that runs the libraries' constructors
      // (_dl_start_user), where libunwind stops too: it is not loaded for that.
      uintptr_t general[kCap];
      size_t got = walked != 0 && g_ld.contains(buf[walked - 1]) ? kWalkFailed
                                                                  : general_stack(general, want);
      if (got != kWalkFailed) {
        n = got;
        for (size_t i = 0; i < n; ++i) buf[i] = general[i];
      } else {
        n = walked;
      }
    }
    size_t i = 1 + skip;
    size_t first = i;
    while (i < n && g_own.contains(buf[i])) ++i;
    size_t seen = i - first;
    if (seen > own) {
      // A deeper path through the shim than before: remember it, and walk again when the
      // shim's frames took room from the caller's. A walk of a few frames (one, without
      // stacks) learns only that many more at a time: again until they all fit (each time
      // `own` grows, so at most kCap times, once per path).
      while (own < seen && !g_own_frames.compare_exchange_weak(own, seen)) {
      }
      if (n == want && want < kCap) continue;
    }
    size_t count = 0;
    for (; i < n && count < depth; ++i) out[count++] = buf[i];
    return count;
  }
}

void load_unwinder() {
  Unwinding u;
  if (u.ok) unwinder();
}

bool exit_caller_frame(uintptr_t* sp, uintptr_t* regs, size_t cap, size_t* nregs) {
  *nregs = 0;
  unw_context_t uc;
  unw_cursor_t c;
  Unwinding u;
  const Unwinder* unw = u.ok ? unwinder() : nullptr;
  if (unw == nullptr || unw->getcontext(&uc) != 0 || unw->init_local(&c, &uc) != 0) return false;
  auto exit_fn = reinterpret_cast<unw_word_t>(&exit);
  for (int depth = 0; depth < 256 && unw->step(&c) > 0; ++depth) {
    unw_proc_info_t pi;
    if (unw->get_proc_info(&c, &pi) != 0 || pi.start_ip != exit_fn) continue;
    if (unw->step(&c) <= 0) return false;
    unw_word_t v;
    if (unw->get_reg(&c, UNW_REG_SP, &v) != 0) return false;
    *sp = v;
#if defined(__x86_64__)
    const int saved[] = {UNW_X86_64_RBX, UNW_X86_64_RBP, UNW_X86_64_R12,
                         UNW_X86_64_R13, UNW_X86_64_R14, UNW_X86_64_R15};
    for (int r : saved)
      if (*nregs < cap && unw->get_reg(&c, r, &v) == 0) regs[(*nregs)++] = v;
#endif
    // main returned: exit() was called by libc's __libc_start_call_main, whose frame holds
    // no live value of the program's, only what the program's constructors (run from
    // __libc_start_main before it) left there. The scan starts at its caller's frame.
    auto start_main = reinterpret_cast<unw_word_t>(&__libc_start_main);
    if (unw->get_proc_info(&c, &pi) == 0 && pi.start_ip != start_main && unw->step(&c) > 0 &&
        unw->get_proc_info(&c, &pi) == 0 && pi.start_ip == start_main &&
        unw->get_reg(&c, UNW_REG_SP, &v) == 0)
      *sp = v;
    return true;
  }
  return false;
}

}  // namespace mpshim::track
