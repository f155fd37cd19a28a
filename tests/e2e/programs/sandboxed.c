// A process that confines itself with a seccomp filter before it ends, as sshd's
// pre-authentication child does: the filter allows only what the program itself still
// needs (writing to stdout, memory, exit) and kills the process on any other system call.
// It must end with its own exit status: the shim writes nothing at exit in such a process.
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ALLOW(nr) BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
                  BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)

static int confine(void) {
  struct sock_filter filter[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    ALLOW(SYS_write), ALLOW(SYS_exit), ALLOW(SYS_exit_group), ALLOW(SYS_brk),
    ALLOW(SYS_mmap), ALLOW(SYS_munmap), ALLOW(SYS_mremap), ALLOW(SYS_madvise),
    ALLOW(SYS_mprotect), ALLOW(SYS_futex), ALLOW(SYS_rt_sigprocmask), ALLOW(SYS_getpid),
    ALLOW(SYS_gettid), ALLOW(SYS_clock_gettime), ALLOW(SYS_read), ALLOW(SYS_close),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

int main(void) {
  char* keep[64];
  for (int i = 0; i < 64; ++i) keep[i] = malloc(16 + 100 * i);
  printf("confined\n");
  fflush(stdout);
  if (confine() != 0) return 2;
  for (int i = 0; i < 64; ++i) free(keep[i]);
  char* leak = malloc(321);
  memset(leak, 1, 321);
  leak = NULL;
  return 7;
}
