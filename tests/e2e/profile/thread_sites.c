// Four threads allocate at the same sites at once, and each at more sites (300) than a
// thread's table of profile counters holds (256 entries), so entries move into the shared
// sites while others stay in the tables until exit. The figures must still be exact.
#include <pthread.h>
#include <stdlib.h>

#define THREADS 4
#define ROUNDS 20
#define KEPT 1000
#define STAY 100

// One per thread: with one shared, two threads could free the same block and lose the other.
static __thread void* volatile sink;

// 300 functions, each a site of one temporary 24-byte block.
#define SITE(n) \
  __attribute__((noinline)) static void site_##n(void) { \
    sink = malloc(24); \
    free(sink); \
  }
#define SITE10(n) SITE(n##0) SITE(n##1) SITE(n##2) SITE(n##3) SITE(n##4) SITE(n##5) SITE(n##6) SITE(n##7) SITE(n##8) SITE(n##9)
#define SITE100(n) SITE10(n##0) SITE10(n##1) SITE10(n##2) SITE10(n##3) SITE10(n##4) SITE10(n##5) SITE10(n##6) SITE10(n##7) SITE10(n##8) SITE10(n##9)
SITE100(0) SITE100(1) SITE100(2)

#define REF(n) site_##n,
#define REF10(n) REF(n##0) REF(n##1) REF(n##2) REF(n##3) REF(n##4) REF(n##5) REF(n##6) REF(n##7) REF(n##8) REF(n##9)
#define REF100(n) REF10(n##0) REF10(n##1) REF10(n##2) REF10(n##3) REF10(n##4) REF10(n##5) REF10(n##6) REF10(n##7) REF10(n##8) REF10(n##9)
static void (*const sites[])(void) = {REF100(0) REF100(1) REF100(2)};

static void* kept[THREADS][KEPT];

__attribute__((noinline)) static void* keep_block(void) { return malloc(64); }

__attribute__((noinline)) static void make_peak(void) {
  sink = malloc(16 << 20);
  free(sink);
}

static void* worker(void* arg) {
  void** mine = arg;
  for (int r = 0; r < ROUNDS; ++r) {
    for (unsigned i = 0; i < sizeof sites / sizeof sites[0]; ++i) sites[i]();
    for (int i = r * KEPT / ROUNDS; i < (r + 1) * KEPT / ROUNDS; ++i) mine[i] = keep_block();
  }
  return NULL;
}

int main(void) {
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; ++i)
    if (pthread_create(&t[i], NULL, worker, kept[i]) != 0) return 1;
  for (int i = 0; i < THREADS; ++i) pthread_join(t[i], NULL);
  // Freed by another thread than the one that allocated them; STAY of each stay live.
  for (int i = 0; i < THREADS; ++i)
    for (int k = STAY; k < KEPT; ++k) free(kept[i][k]);
  make_peak();
  return 0;
}
