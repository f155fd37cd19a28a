/* Start-up cost: bench-startup COUNT PROGRAM [ARGS...] runs PROGRAM COUNT times, one after
 * the other (fork, exec, wait), and prints "wall_ms cpu_ms" per process: the mean wall time
 * from fork to the end of wait, and the children's user + system CPU time. The preload is
 * passed as BENCH_PRELOAD, as for bench-launch, so that this program itself runs without
 * it. Exits 1 when a run fails. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"

int main(int argc, char** argv) {
  if (argc < 3 || atoi(argv[1]) <= 0) {
    fprintf(stderr, "usage: %s COUNT PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  int count = atoi(argv[1]);
  pass_preload();
  double cpu = 0, start = now();
  for (int i = 0; i < count; ++i) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 2;
    }
    if (pid == 0) {
      execvp(argv[2], argv + 2);
      _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0) {
      perror("wait4");
      return 2;
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      fprintf(stderr, "%s: run %d failed (status %d)\n", argv[2], i + 1, status);
      return 1;
    }
    cpu += ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec * 1e-6;
  }
  printf("%.4f %.4f\n", (now() - start) * 1e3 / count, cpu * 1e3 / count);
  return 0;
}
