/* Eight threads make their first cuMemAlloc at the same moment, before the shim has resolved
 * the driver functions it needs. Under the shim every block must come from the cache: one
 * segment from the driver, no block passed to it (a thread that found the table being filled
 * used to fall back to the driver). The race is short, so 32 child processes try it; exits 0
 * when in each the fake counted exactly one cuMemAlloc and no cuMemFree. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakecuda.h"

enum { kThreads = 8, kTries = 32 };
typedef int (*GetProc)(const char*, void**, int, uint64_t, int*);
static int (*set_current)(void*);
static int (*mem_alloc)(unsigned long long*, size_t);
static int (*mem_free)(unsigned long long);
static void* ctx;
static pthread_barrier_t start;
static int failures;

static void* fn(GetProc get, const char* name) {
  void* p = NULL;
  int status;
  return get(name, &p, 12000, 0, &status) == 0 ? p : NULL;
}

static void* worker(void* arg) {
  (void)arg;
  unsigned long long p = 0;
  int ok = set_current(ctx) == 0;
  pthread_barrier_wait(&start);
  ok = ok && mem_alloc(&p, 4096) == 0 && mem_free(p) == 0;
  if (!ok) __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);
  return NULL;
}

static int attempt(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  GetProc get = lib ? (GetProc)dlsym(lib, "cuGetProcAddress_v2") : NULL;
  void (*counters)(struct fakecuda_counters*) =
      (void (*)(struct fakecuda_counters*))dlsym(RTLD_DEFAULT, "fakecuda_counters");
  if (!get || !counters) return 1;
  int (*init)(unsigned) = fn(get, "cuInit");
  int (*retain)(void**, int) = fn(get, "cuDevicePrimaryCtxRetain");
  set_current = fn(get, "cuCtxSetCurrent");
  mem_alloc = fn(get, "cuMemAlloc");
  mem_free = fn(get, "cuMemFree");
  if (!init || !retain || !set_current || !mem_alloc || !mem_free) return 1;
  if (init(0) != 0 || retain(&ctx, 0) != 0) return 1;
  pthread_t t[kThreads];
  pthread_barrier_init(&start, NULL, kThreads);
  for (int i = 0; i < kThreads; ++i) pthread_create(&t[i], NULL, worker, NULL);
  for (int i = 0; i < kThreads; ++i) pthread_join(t[i], NULL);
  struct fakecuda_counters c;
  counters(&c);
  if (failures != 0 || c.mem_alloc != 1 || c.mem_free != 0) {
    fprintf(stderr, "first_use: %d failures, %llu cuMemAlloc, %llu cuMemFree in the driver\n",
            failures, (unsigned long long)c.mem_alloc, (unsigned long long)c.mem_free);
    return 1;
  }
  return 0;
}

int main(void) {
  int failed = 0;
  for (int i = 0; i < kTries; ++i) {
    pid_t pid = fork();
    if (pid == 0) _exit(attempt());
    int status = 1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
      ++failed;
  }
  if (failed) fprintf(stderr, "first_use: %d of %d tries failed\n", failed, kTries);
  return failed != 0;
}
