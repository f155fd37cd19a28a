#include "prim/os.h"

#include "prim/file.h"

#include <atomic>
#include <cerrno>
#include <dlfcn.h>
#include <cstring>
#include <fcntl.h>
#include <link.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "prim/fs.h"

extern char** environ;

namespace mpshim::prim {

void* os_map(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

namespace {

// Mappings of one alignment unit (the heap's segments) are tried first just below the last
// one, where the kernel's top-down order would put them anyway: one mmap instead of an
// over-sized one and two munmaps. The first is tried below the C library, whose
// neighbourhood the kernel fills next. When the place is taken, the over-sized way finds
// one and the next try starts below it. Segments unmapped above are not reused this way, so
// the tries stay within 64 GiB of where the kernel last chose, and mappings larger than
// one unit (large blocks, often short-lived) never take part.
constexpr uintptr_t kDrift = uintptr_t(64) << 30;
std::atomic<uintptr_t> g_aligned_below{0};
std::atomic<uintptr_t> g_aligned_floor{0};

void* map_below(uintptr_t below, size_t size, size_t align) {
  uintptr_t floor = g_aligned_floor.load(std::memory_order_relaxed);
  if (below < size + align || below - size < floor) return nullptr;
  uintptr_t want = (below - size) & ~(uintptr_t(align) - 1);
  int saved = errno;
  void* p = mmap(reinterpret_cast<void*>(want), size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0);
  errno = saved;
  if (p == MAP_FAILED) return nullptr;  // taken
  if (reinterpret_cast<uintptr_t>(p) == want) return p;
  munmap(p, size);  // a kernel before 4.17 took the address as a hint only
  return nullptr;
}

}  // namespace

void* os_map_aligned(size_t size, size_t align) {
  if (size == align) {
    uintptr_t below = g_aligned_below.load(std::memory_order_relaxed);
    if (below == 0) {
      below = reinterpret_cast<uintptr_t>(&munmap) & ~(uintptr_t(align) - 1);
      g_aligned_floor.store(below > kDrift ? below - kDrift : 0, std::memory_order_relaxed);
    }
    if (void* p = map_below(below, size, align)) {
      g_aligned_below.store(reinterpret_cast<uintptr_t>(p), std::memory_order_relaxed);
      return p;
    }
  }
  // Over-map by `align` and trim both ends, so the result starts on the boundary.
  size_t span = size + align;
  if (span < size) return nullptr;
  char* raw = static_cast<char*>(os_map(span));
  if (raw == nullptr) return nullptr;
  uintptr_t start = (reinterpret_cast<uintptr_t>(raw) + align - 1) & ~(uintptr_t(align) - 1);
  char* p = reinterpret_cast<char*>(start);
  size_t head = size_t(p - raw);
  size_t tail = span - head - size;
  if (head != 0) munmap(raw, head);
  if (tail != 0) munmap(p + size, tail);
  if (size == align) {
    g_aligned_below.store(start, std::memory_order_relaxed);
    g_aligned_floor.store(start > kDrift ? start - kDrift : 0, std::memory_order_relaxed);
  }
  return p;
}

void os_unmap(void* p, size_t size) { munmap(p, size); }

void os_purge(void* p, size_t size) {
  int saved = errno;
  madvise(p, size, MADV_DONTNEED);
  errno = saved;
}

bool os_protect(void* p, size_t size, bool accessible) {
  int saved = errno;
  bool ok = mprotect(p, size, accessible ? PROT_READ | PROT_WRITE : PROT_NONE) == 0;
  errno = saved;
  return ok;
}

bool os_guard(void* p, size_t size) {
  int saved = errno;
  bool ok = mprotect(p, size, PROT_NONE) == 0;
  if (ok) madvise(p, size, MADV_DONTDUMP);  // without it, merely slower
  errno = saved;
  return ok;
}

void* os_remap(void* old, size_t old_size, size_t size, void* target) {
  void* p = mremap(old, old_size, size, MREMAP_MAYMOVE | MREMAP_FIXED, target);
  return p == MAP_FAILED ? nullptr : p;
}

size_t page_size() {
  static size_t cached = 0;  // plain static: trivially initialised, no guard
  if (cached == 0) cached = size_t(sysconf(_SC_PAGESIZE));
  return cached;
}

void write_fd(int fd, const char* s, size_t n) {
  int saved = errno;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EBADF && fd == 2) {
        // The program closed its stderr (save_stderr kept a copy when it did).
        fd = stderr_copy();
        if (fd >= 0) continue;
      }
      break;
    }
    s += w;
    n -= size_t(w);
  }
  errno = saved;
}

void write_err(const char* s, size_t n) { write_fd(2, s, n); }

uint64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

int os_getpid() { return int(syscall(SYS_getpid)); }
int os_gettid() { return int(syscall(SYS_gettid)); }
size_t os_getcwd(char* buf, size_t cap) {
  long n = syscall(SYS_getcwd, buf, cap);  // the length with the NUL, or -errno
  return n > 1 && buf[0] == '/' ? size_t(n - 1) : 0;
}
long os_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
              unsigned long a5) {
  return syscall(SYS_prctl, option, a2, a3, a4, a5);
}
bool prctl_sets_seccomp(int option) { return option == PR_SET_SECCOMP; }

const char* const* environment() {
  if (environ != nullptr) return environ;
  // Very early in start-up libc may not have set `environ` yet: read it from /proc once.
  static const char* const* from_proc = nullptr;
  if (from_proc != nullptr) return from_proc;
  const size_t cap = 1 << 20;
  char* buf = static_cast<char*>(os_map(cap));
  if (buf == nullptr) return nullptr;
  long n = read_file("/proc/self/environ", buf, cap - 1);
  size_t len = n > 0 ? size_t(n) : 0;
  size_t count = 0;
  for (size_t i = 0; i < len; ++i) count += buf[i] == '\0';
  const char** vec = static_cast<const char**>(os_map((count + 2) * sizeof(char*)));
  if (vec == nullptr) return nullptr;
  size_t k = 0;
  for (size_t i = 0; i < len && k < count + 1;) {
    vec[k++] = buf + i;
    while (i < len && buf[i] != '\0') ++i;
    ++i;
  }
  vec[k] = nullptr;
  from_proc = vec;
  return vec;
}

size_t os_rss() {
  char buf[128];
  long len = read_file("/proc/self/statm", buf, sizeof buf - 1);
  buf[len > 0 ? len : 0] = '\0';
  const char* s = buf;
  while (*s != '\0' && *s != ' ') ++s;  // skip total size
  size_t pages = 0;
  while (*s == ' ') ++s;
  while (*s >= '0' && *s <= '9') pages = pages * 10 + size_t(*s++ - '0');
  return pages * page_size();
}

void os_close(int fd) { close(fd); }

void* load_library(const char* name) {
  if (_r_debug.r_state != r_debug::RT_CONSISTENT) return nullptr;
  return dlopen(name, RTLD_NOW | RTLD_LOCAL);
}

bool library_loaded(const char* name) {
  // The reference RTLD_NOLOAD takes stays: the library is never unloaded by the shim.
  return dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD) != nullptr;
}

void* library_symbol(void* library, const char* symbol) { return dlsym(library, symbol); }

const char* symbol_at(const void* addr) {
  Dl_info info;
  return dladdr(addr, &info) != 0 ? info.dli_sname : nullptr;
}

bool defines_symbol(const void* addr, const char* name) {
  Dl_info info;
  void* entry = nullptr;
  // An imported function's canonical PLT entry is an undefined symbol with a value.
  if (dladdr1(addr, &info, &entry, RTLD_DL_SYMENT) == 0 || entry == nullptr) return false;
  const auto* sym = static_cast<const ElfW(Sym)*>(entry);
  return sym->st_shndx != SHN_UNDEF && info.dli_saddr == addr && info.dli_sname != nullptr &&
         strcmp(info.dli_sname, name) == 0;
}

bool in_module(const void* addr) {
  Dl_info info;
  return dladdr(addr, &info) != 0 && info.dli_fname != nullptr;
}

}  // namespace mpshim::prim
