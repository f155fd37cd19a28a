/* Runs one measured program: bench-launch RESULT_FILE PROGRAM ARGS...
 *
 * run.py starts every workload through this small program because a child's peak RSS
 * (ru_maxrss) keeps the high-water mark of the process it was forked from, across exec: a
 * child forked by python3 would start at python's 16 MiB. Forked from here it starts at
 * about 1 MiB. The preload is passed as BENCH_PRELOAD so that this launcher itself runs
 * without it. Writes "status user_s sys_s maxrss_kib wall_s" to RESULT_FILE; exits 0 when
 * it could run the program, whatever the program's status. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "launch.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s RESULT_FILE PROGRAM [ARGS...]\n", argv[0]);
    return 2;
  }
  pass_preload();
  double start = now();
  pid_t pid = fork();
  if (pid < 0) {
    perror("fork");
    return 2;
  }
  if (pid == 0) {
    execvp(argv[2], argv + 2);
    perror(argv[2]);
    _exit(127);
  }
  int status = 0;
  struct rusage ru;
  if (wait4(pid, &status, 0, &ru) < 0) {
    perror("wait4");
    return 2;
  }
  double wall = now() - start;
  /* Same convention as Python's returncode: -N for a signal. */
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  FILE* f = fopen(argv[1], "w");
  if (!f) {
    perror(argv[1]);
    return 2;
  }
  fprintf(f, "%d %.6f %.6f %ld %.6f\n", code, ru.ru_utime.tv_sec + ru.ru_utime.tv_usec * 1e-6,
          ru.ru_stime.tv_sec + ru.ru_stime.tv_usec * 1e-6, ru.ru_maxrss, wall);
  return fclose(f) == 0 ? 0 : 2;
}
