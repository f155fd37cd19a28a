#include "prim/file.h"

#include <atomic>
#include <cerrno>
#include <fcntl.h>
#include <linux/close_range.h>
#include <sys/auxv.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "prim/fmt.h"
#include "prim/fs.h"
#include "prim/lock.h"

extern "C" int __close(int fd);      // glibc's close, under the name the shim does not export
extern "C" int _IO_fclose(FILE* f);  // glibc's fclose, likewise

namespace mpshim::prim {

namespace {

// A descriptor the shim opens for itself, moved above 0-2: a program that closed stdin,
// stdout or stderr behind the shim's back (a raw close system call, as libuv makes) would
// hand it their number, and fd 2 is taken for stderr. -1 when it cannot be moved.
int above_std_fds(int fd) {
  if (fd < 0 || fd > 2) return fd;
  int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
  syscall(SYS_close, fd);
  return moved;
}

}  // namespace

int open_report_file(const char* path, uid_t owner, OpenStatus* status, bool append) {
  int saved = errno;
  // No O_TRUNC: a file is emptied only after fstat shows whose it is.
  int flags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | (append ? O_APPEND : 0);
  int fd = int(syscall(SYS_openat, AT_FDCWD, path, flags, 0644));
  *status = OpenStatus::Ok;
  if (fd < 0) {
    *status = errno == ELOOP ? OpenStatus::Symlink : OpenStatus::Failed;
  } else {
    struct stat st;
    if (fstat(fd, &st) != 0) {
      *status = OpenStatus::Failed;
    } else if (S_ISREG(st.st_mode)) {
      if (st.st_uid != owner) *status = OpenStatus::NotOwned;
      else if (!append && ftruncate(fd, 0) != 0) *status = OpenStatus::Failed;
    }
    if (*status != OpenStatus::Ok) {
      syscall(SYS_close, fd);
      fd = -1;
    }
  }
  if (fd >= 0 && (fd = above_std_fds(fd)) < 0) *status = OpenStatus::Failed;
  errno = saved;
  return fd;
}

void lock_file(int fd) {
  int saved = errno;
  const struct timespec ms = {0, 1000000};
  for (int i = 0; i < 5000 && flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK; ++i)
    syscall(SYS_nanosleep, &ms, nullptr);
  errno = saved;
}

int lock_stream(int fd) {
  int saved = errno;
  char path[48];
  size_t len = __builtin_strlen(proc_file("fd/", path, sizeof path));
  format_u64(path + len, sizeof path - len, uint64_t(fd));
  // Non-blocking: a pipe's other end gone makes the open fail rather than wait. No
  // controlling terminal is taken.
  int l = above_std_fds(int(syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)));
  if (l >= 0) lock_file(l);
  errno = saved;
  return l;
}

uid_t os_geteuid() { return geteuid(); }

bool secure_execution() { return getauxval(AT_SECURE) != 0; }

int os_pipe2(int fds[2], int flags) { return int(syscall(SYS_pipe2, fds, flags)); }

namespace {

Lock g_pipe_lock;
int g_pipe_users = 0;     // threads running libunwind
int g_pipe_base = -1;     // read end; the write end is the next number
ino_t g_pipe_ino = 0;     // the pipe's inode
bool g_pipe_open = false;  // made since the last thread left

bool is_free(int fd) { return fcntl(fd, F_GETFD) < 0 && errno == EBADF; }

bool is_ours(int fd) {
  struct stat st;
  return g_pipe_ino != 0 && fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode) && st.st_ino == g_pipe_ino;
}

// Free, or our pipe: libunwind may read and write it.
bool usable(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno == EBADF;
  return g_pipe_ino != 0 && S_ISFIFO(st.st_mode) && st.st_ino == g_pipe_ino;
}

void close_if_ours(int fd) {
  if (is_ours(fd)) syscall(SYS_close, fd);
}

// The numbers, chosen once: the top two below the descriptor limit, at most 1023 (a higher
// number grows the kernel's descriptor table). -1 when the limit is too small.
int pipe_base() {
  if (g_pipe_base < 0) {
    struct rlimit r;
    if (getrlimit(RLIMIT_NOFILE, &r) == 0 && r.rlim_cur >= 64)
      g_pipe_base = int(r.rlim_cur < 1024 ? r.rlim_cur : 1024) - 2;
  }
  return g_pipe_base;
}

// The pipe at the two numbers: there already, or made now when both are free. Lock held.
bool ensure_pipe() {
  const int base = pipe_base();
  if (base < 0) return false;
  if (is_ours(base) && is_ours(base + 1)) return true;
  close_if_ours(base);  // half of it left: start again
  close_if_ours(base + 1);
  if (!is_free(base) || !is_free(base + 1)) return false;
  int p[2];
  if (syscall(SYS_pipe2, p, O_CLOEXEC | O_NONBLOCK) != 0) return false;
  int made = 0;  // numbers dup'ed onto so far
  if (p[0] < base && p[1] < base) {
    if (syscall(SYS_dup3, p[0], base, O_CLOEXEC) == base) ++made;
    if (made == 1 && syscall(SYS_dup3, p[1], base + 1, O_CLOEXEC) == base + 1) ++made;
  }
  struct stat st;
  bool ok = made == 2 && fstat(base, &st) == 0;
  if (ok) g_pipe_ino = st.st_ino;
  for (int i = 0; !ok && i < made; ++i) syscall(SYS_close, base + i);
  syscall(SYS_close, p[0]);
  syscall(SYS_close, p[1]);
  g_pipe_open |= ok;
  return ok;
}

}  // namespace

// libunwind opens its pipe once and reopens it when a read from it fails: closed between
// calls, the pipe is made again (through unwinder_pipe) only by a call that checks memory
// its cache of checked pages does not hold. So a call costs two fstat here, and the pipe's
// system calls only now and then.
bool unwinder_pipe_acquire() {
  int saved = errno;
  Guard g(g_pipe_lock);
  int base = pipe_base();
  // libunwind writes to the second number even when it could not reopen the pipe.
  bool ok = g_pipe_users > 0 || (base >= 0 && usable(base) && usable(base + 1));
  if (ok) ++g_pipe_users;
  errno = saved;
  return ok;
}

void unwinder_pipe_release() {
  int saved = errno;
  Guard g(g_pipe_lock);
  if (--g_pipe_users == 0 && g_pipe_open) {
    close_if_ours(g_pipe_base);
    close_if_ours(g_pipe_base + 1);
    g_pipe_open = false;
  }
  errno = saved;
}

int unwinder_pipe(int fds[2]) {
  Guard g(g_pipe_lock);
  if (!ensure_pipe()) {
    errno = EMFILE;
    return -1;
  }
  fds[0] = g_pipe_base;
  fds[1] = g_pipe_base + 1;
  return 0;
}

void unwinder_pipe_after_fork_child() {
  g_pipe_lock.reset();
  g_pipe_users = 0;
  if (g_pipe_open) {
    close_if_ours(g_pipe_base);
    close_if_ours(g_pipe_base + 1);
    g_pipe_open = false;
  }
}

int libc_close(int fd) { return __close(fd); }
int libc_fclose(FILE* f) { return _IO_fclose(f); }
int stream_fd(FILE* f) { return f != nullptr ? fileno(f) : -1; }

namespace {

// The copy of stderr and the identity of the file it was made from. Published with the
// descriptor last, so a reader that sees it sees the identity too.
std::atomic<int> g_copy{-1};
dev_t g_dev;
ino_t g_ino;

}  // namespace

void save_stderr() {
  int seen = g_copy.load(std::memory_order_acquire);
  if (seen >= 0 && stderr_copy() >= 0) return;
  int saved = errno;
  int flags = fcntl(2, F_GETFL);
  struct stat st;
  if (flags >= 0 && (flags & O_ACCMODE) != O_RDONLY && fstat(2, &st) == 0) {
    // Far above the descriptors programs use, close-on-exec so children do not inherit it.
    int fd = fcntl(2, F_DUPFD_CLOEXEC, 200);
    if (fd >= 0) {
      g_dev = st.st_dev;
      g_ino = st.st_ino;
      // A stale copy is dropped, never closed: its number may be the program's now. Of two
      // threads closing fd 2 at once, one keeps its copy.
      if (!g_copy.compare_exchange_strong(seen, fd, std::memory_order_release)) syscall(SYS_close, fd);
    }
  }
  errno = saved;
}

int stderr_copy() {
  int fd = g_copy.load(std::memory_order_acquire);
  if (fd < 0) return -1;
  int saved = errno;
  // The program may have closed the copy and opened something else under its number: write
  // only while the descriptor is still close-on-exec and names the file saved.
  struct stat st;
  bool same = fcntl(fd, F_GETFD) == FD_CLOEXEC && fstat(fd, &st) == 0 && st.st_dev == g_dev &&
              st.st_ino == g_ino;
  errno = saved;
  return same ? fd : -1;
}

bool range_closes_stderr(unsigned first, unsigned last, int flags) {
  return (flags & CLOSE_RANGE_CLOEXEC) == 0 && first <= 2 && 2 <= last;
}

int close_range_but_copy(unsigned first, unsigned last, int flags) {
  int copy = (flags & CLOSE_RANGE_CLOEXEC) == 0 ? g_copy.load(std::memory_order_acquire) : -1;
  if (copy < 0 || unsigned(copy) < first || unsigned(copy) > last || stderr_copy() != copy)
    return int(syscall(SYS_close_range, first, last, flags));
  // Around the copy. The second call cannot fail where the first did not (same flags).
  if (unsigned(copy) > first && syscall(SYS_close_range, first, unsigned(copy) - 1, flags) != 0)
    return -1;
  if (unsigned(copy) < last) return int(syscall(SYS_close_range, unsigned(copy) + 1, last, flags));
  return 0;
}

void closefrom_but_copy(int low) {
  unsigned first = low < 0 ? 0u : unsigned(low);
  if (close_range_but_copy(first, ~0u, 0) == 0 || errno != ENOSYS) return;
  // A kernel without close_range (before 5.9): one descriptor at a time, up to the limit.
  struct rlimit rl;
  unsigned end = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1u << 20) ? unsigned(rl.rlim_cur) : (1u << 20);
  int copy = stderr_copy();
  for (unsigned fd = first; fd < end; ++fd)
    if (int(fd) != copy) syscall(SYS_close, fd);
}

}  // namespace mpshim::prim
