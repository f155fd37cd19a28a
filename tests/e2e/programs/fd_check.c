// Descriptors as a program sees them, one case per run (driven by e2e_files):
//   fd_check list           prints the numbers of its open descriptors (compared with a run
//                           without the shim)
//   fd_check close_all      closes every descriptor above 2, opens a pipe of its own (it gets
//                           the lowest numbers), allocates through code without unwind tables
//                           and checks that the pipe holds exactly what it wrote; leaks 77
//                           bytes, and 33 through that code
//   fd_check fclose_stderr  leaks 77 bytes, closes stdout and stderr in an atexit handler
//                           (as coreutils do)
//   fd_check close_stderr   the same with close(2)
//   fd_check close_range    leaks 77 bytes, then closes every descriptor with close_range
//                           (as daemons do before they exit) and checks that at most one is
//                           left: the report's copy of stderr, numbered 200 or above
//   fd_check closefrom      the same with closefrom(0)
//   fd_check stale_copy     leaks 77 bytes, closes fd 2, then every descriptor that
//                           appeared, puts a read-only file on fd 2 and the file named by
//                           argv[2] on the numbers that appeared (a report must not go there)
//   fd_check leak           leaks 77 bytes and exits 0
//   fd_check raw_close_stderr  closes fd 2 with the close system call (the shim does not see
//                           it, as with libuv's uv_fs_close) and exits 0 without a leak
//   fd_check quick_exit     leaks 77 bytes and ends with quick_exit(5)
//   fd_check chdir DIR [PROGRAM ARGS...]  leaks 77 bytes, changes to DIR, runs PROGRAM there
//                           (when given) and waits for it
// Exit status 0 when every check holds, failures on stderr.
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);        \
      ++failures;                                                            \
    }                                                                        \
  } while (0)

void* volatile g_sink;

// Calls malloc from a function without unwind information (no CFI): a stack walk through
// it cannot use unwind tables and falls back on frame pointers, which is where libunwind
// checks memory with its pipe.
void* no_cfi_alloc(size_t n);
__asm__(".text\n"
        ".globl no_cfi_alloc\n"
        ".type no_cfi_alloc, @function\n"
        "no_cfi_alloc:\n"
        "  push %rbp\n"
        "  mov %rsp, %rbp\n"
        "  call malloc@PLT\n"
        "  pop %rbp\n"
        "  ret\n"
        ".size no_cfi_alloc, .-no_cfi_alloc\n");

// The open descriptors, ascending, without the one reading the directory; returns the count.
static int open_fds(int* out, int cap) {
  DIR* d = opendir("/proc/self/fd");
  if (d == NULL) return -1;
  int n = 0, self = dirfd(d);
  struct dirent* e;
  while ((e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.') continue;
    int fd = atoi(e->d_name);
    if (fd != self && n < cap) out[n++] = fd;
  }
  closedir(d);
  for (int i = 1; i < n; ++i)
    for (int j = i; j > 0 && out[j - 1] > out[j]; --j) {
      int t = out[j];
      out[j] = out[j - 1];
      out[j - 1] = t;
    }
  return n;
}

static void leak77(void) {
  char* p = malloc(77);
  memset(p, 1, 77);
  p = NULL;
}

static void close_std_streams(void) {
  fclose(stdout);
  fclose(stderr);
}

static void close_fd2(void) {
  fclose(stdout);
  close(2);
}

static int case_list(void) {
  for (int i = 0; i < 1000; ++i) free(malloc((size_t)i + 1));
  free(no_cfi_alloc(40));
  int fds[256];
  int n = open_fds(fds, 256);
  for (int i = 0; i < n; ++i) printf("%d\n", fds[i]);
  return 0;
}

static int case_close_all(void) {
  g_sink = malloc(10);
  CHECK(syscall(SYS_close_range, 3u, ~0u, 0) == 0);
  int p[2];
  CHECK(pipe2(p, O_NONBLOCK) == 0);
  CHECK(p[0] == 3 && p[1] == 4);
  CHECK(write(p[1], "x", 1) == 1);
  for (int i = 0; i < 200; ++i) free(no_cfi_alloc((size_t)i * 8 + 8));
  for (int i = 0; i < 200; ++i) free(malloc((size_t)i + 1));
  char buf[8];
  ssize_t got = read(p[0], buf, sizeof buf);
  CHECK(got == 1 && buf[0] == 'x');
  leak77();
  g_sink = no_cfi_alloc(33);
  g_sink = NULL;
  return failures == 0 ? 0 : 1;
}

// Exit status 0, or the check that failed (its output would go nowhere).
static int case_close_every(int with_closefrom) {
  leak77();
  puts("done");
  fflush(stdout);
  if (with_closefrom)
    closefrom(0);
  else if (close_range(0, ~0u, 0) != 0)
    return 3;
  int fds[8];
  int n = open_fds(fds, 8);
  if (n < 0 || n > 1 || (n == 1 && fds[0] < 200)) return 4;
  // A daemon's next descriptor is 0.
  return open("/dev/null", O_WRONLY) == 0 ? 0 : 5;
}

static int case_stale_copy(const char* path) {
  int before[256], after[256];
  int nb = open_fds(before, 256);
  fflush(stdout);
  close(2);
  int na = open_fds(after, 256);
  int ro = open("/dev/null", O_RDONLY);  // lands on fd 2: reports written there fail
  if (ro != 2) return 3;
  int target = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (target < 0) return 2;
  // Whatever appeared when fd 2 was closed is closed, and reused for the program's file.
  for (int i = 0; i < na; ++i) {
    int known = after[i] == target;
    for (int j = 0; j < nb; ++j) known |= after[i] == before[j];
    if (!known) {
      close(after[i]);
      dup2(target, after[i]);
    }
  }
  leak77();
  return 0;
}

int main(int argc, char** argv) {
  const char* c = argc > 1 ? argv[1] : "";
  if (strcmp(c, "list") == 0) return case_list();
  if (strcmp(c, "close_all") == 0) return case_close_all();
  if (strcmp(c, "close_range") == 0) return case_close_every(0);
  if (strcmp(c, "closefrom") == 0) return case_close_every(1);
  if (strcmp(c, "stale_copy") == 0 && argc > 2) return case_stale_copy(argv[2]);
  if (strcmp(c, "fclose_stderr") == 0 || strcmp(c, "close_stderr") == 0) {
    atexit(c[0] == 'f' ? close_std_streams : close_fd2);
    leak77();
    puts("done");
    return 0;
  }
  if (strcmp(c, "raw_close_stderr") == 0) return syscall(SYS_close, 2) == 0 ? 0 : 1;
  if (strcmp(c, "leak") == 0) {
    leak77();
    return 0;
  }
  if (strcmp(c, "quick_exit") == 0) {
    leak77();
    quick_exit(5);
  }
  if (strcmp(c, "chdir") == 0 && argc > 2) {
    leak77();
    if (chdir(argv[2]) != 0) return 1;
    if (argc == 3) return 0;
    pid_t pid = fork();
    if (pid == 0) {
      execv(argv[3], argv + 3);
      _exit(127);
    }
    int status = 0;
    return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) ? WEXITSTATUS(status) : 1;
  }
  fprintf(stderr, "fd_check: unknown case %s\n", c);
  return 2;
}
