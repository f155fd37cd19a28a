#include "prim/fs.h"

#include "prim/os.h"

#include <cerrno>
#include <initializer_list>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace mpshim::prim {

// By system call: `open` itself is wrapped at link time (report/debug_files.cc).
int os_open(const char* path, int flags, int mode) {
  return int(syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

const char* exec_path() {
  const char* p = reinterpret_cast<const char*>(getauxval(AT_EXECFN));
  return p != nullptr ? p : "";
}

bool same_file(const char* a, const char* b) {
  int saved = errno;
  struct stat sa {}, sb {};
  bool same = stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  errno = saved;
  return same;
}

long read_file(const char* path, char* buf, size_t cap) {
  int saved = errno;
  int fd = os_open(path, O_RDONLY | O_CLOEXEC, 0);
  long len = -1;
  if (fd >= 0) {
    len = 0;
    while (size_t(len) < cap) {
      ssize_t r = read(fd, buf + len, cap - size_t(len));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) len = -1;
      if (r <= 0) break;
      len += long(r);
    }
    close(fd);
  }
  errno = saved;
  return len;
}

bool list_dir(const char* path, void (*fn)(const char* name, void* ctx), void* ctx) {
  int saved = errno;
  int fd = os_open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
  if (fd < 0) {
    errno = saved;
    return false;
  }
  alignas(8) char buf[4096];
  for (;;) {
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) break;
    for (long off = 0; off < n;) {
      auto* d = reinterpret_cast<struct dirent64*>(buf + off);
      off += d->d_reclen;
      fn(d->d_name, ctx);
    }
  }
  close(fd);
  errno = saved;
  return true;
}

const void* map_file(const char* path, size_t* size) {
  int saved = errno;
  int fd = os_open(path, O_RDONLY | O_CLOEXEC, 0);
  void* map = MAP_FAILED;
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0 && st.st_size > 0) {
    *size = size_t(st.st_size);
    map = mmap(nullptr, *size, PROT_READ, MAP_PRIVATE, fd, 0);
  }
  if (fd >= 0) close(fd);
  errno = saved;
  return map == MAP_FAILED ? nullptr : map;
}

bool for_each_untouched(uintptr_t lo, uintptr_t hi, size_t min_bytes,
                        void (*fn)(uintptr_t lo, uintptr_t hi, void* ctx), void* ctx) {
  int saved = errno;
  char path[40];
  int fd = os_open(proc_file("pagemap", path, sizeof path), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    errno = saved;
    return false;
  }
  constexpr uint64_t kPresent = 1ull << 63, kSwapped = 1ull << 62;
  const uintptr_t page = page_size();
  uint64_t entries[512];  // one pagemap word per page
  uintptr_t run = 0;      // start of the current untouched run, 0 when none
  bool ok = true;
  for (uintptr_t at = lo; at < hi && ok;) {
    size_t n = (hi - at) / page < 512 ? (hi - at) / page : 512;
    ssize_t r = pread(fd, entries, n * sizeof(uint64_t), off_t(at / page * sizeof(uint64_t)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0 || r % sizeof(uint64_t) != 0) {
      ok = false;
      break;
    }
    for (size_t i = 0; i < size_t(r) / sizeof(uint64_t); ++i, at += page) {
      bool touched = (entries[i] & (kPresent | kSwapped)) != 0;
      if (!touched && run == 0) run = at;
      if (touched && run != 0) {
        if (at - run >= min_bytes) fn(run, at, ctx);
        run = 0;
      }
    }
  }
  if (ok && run != 0 && hi - run >= min_bytes) fn(run, hi, ctx);
  close(fd);
  errno = saved;
  return ok;
}

const char* proc_file(const char* name, char* out, size_t cap) {
  // /proc/self while the main thread lives (valgrind shows its program there, and its own
  // launcher under /proc/thread-self).
  int saved = errno;
  char target[8];
  bool main_gone = readlink("/proc/self/exe", target, sizeof target) < 0 && access("/proc/thread-self", F_OK) == 0;
  errno = saved;
  const char* dir = main_gone ? "/proc/thread-self/" : "/proc/self/";
  size_t n = 0;
  for (const char* s : std::initializer_list<const char*>{dir, name})
    for (; *s != '\0' && n + 1 < cap; ++s) out[n++] = *s;
  out[n] = '\0';
  return out;
}

long read_link(const char* path, char* buf, size_t cap) {
  int saved = errno;
  long n = long(readlink(path, buf, cap));
  errno = saved;
  return n;
}

}  // namespace mpshim::prim
