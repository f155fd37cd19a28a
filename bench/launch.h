/* What bench-launch and bench-startup share: the clock, and the preload they pass on to
 * the programs they start (as BENCH_PRELOAD, so that they themselves run without it). */
#pragma once
#include <stdlib.h>
#include <time.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Makes BENCH_PRELOAD the LD_PRELOAD of the programs exec'd from here on. */
static void pass_preload(void) {
  const char* preload = getenv("BENCH_PRELOAD");
  if (preload) {
    setenv("LD_PRELOAD", preload, 1);
    unsetenv("BENCH_PRELOAD");
  }
}
