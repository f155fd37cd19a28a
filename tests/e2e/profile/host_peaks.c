/* Known figures for the allocation profile (MPSHIM_PROFILE); the test checks them exactly.
 * Each site is its own function, so its innermost frame names it.
 *   make_temporaries: 100 blocks of 1000 bytes, each freed before the next allocation:
 *                     100 allocations, 100 temporary, 0 at the peak, 0 at exit
 *   make_peak_part:   10 blocks of 100000 bytes held at the peak, then freed
 *   make_kept:        1 block of 500000 bytes held at the peak and never freed
 *   make_after_peak:  2 blocks of 300000 bytes after the peak, freed: 0 at the peak
 *   make_many:        1000 blocks of 16 bytes, all held together, freed before the peak
 *   make_grown, grow: a block of 1000 bytes reallocated to 1100, then to 3000, then freed:
 *                     realloc frees the old block and allocates the new one at its own
 *                     stack, each freed with no allocation between: 1 and 2 temporary
 * The program allocates nothing else, so the host peak is 1,500,000 bytes. With an argument
 * it drops its pointer to make_kept's block before it returns: a leak of 500,000 bytes. */
#include <stdlib.h>
#include <time.h>

static void pause_ms(int ms) {
  struct timespec t = {0, ms * 1000000L};
  nanosleep(&t, NULL);
}

__attribute__((noinline)) void* make_temporaries(size_t n) { return malloc(n); }
__attribute__((noinline)) void* make_peak_part(size_t n) { return malloc(n); }
__attribute__((noinline)) void* make_kept(size_t n) { return malloc(n); }
__attribute__((noinline)) void* make_after_peak(size_t n) { return malloc(n); }
__attribute__((noinline)) void* make_many(size_t n) { return malloc(n); }
__attribute__((noinline)) void* make_grown(size_t n) { return malloc(n); }
__attribute__((noinline)) void* grow(void* p, size_t n) { return realloc(p, n); }

void* volatile g_kept;

int main(int argc, char** argv) {
  (void)argv;
  void* many[1000];
  for (int i = 0; i < 100; ++i) free(make_temporaries(1000));
  free(grow(grow(make_grown(1000), 1100), 3000));
  for (int i = 0; i < 1000; ++i) many[i] = make_many(16);
  for (int i = 0; i < 1000; ++i) free(many[i]);
  pause_ms(30);
  void* part[10];
  for (int i = 0; i < 10; ++i) part[i] = make_peak_part(100000);
  g_kept = make_kept(500000);
  pause_ms(30);
  for (int i = 0; i < 10; ++i) free(part[i]);
  pause_ms(30);
  void* a = make_after_peak(300000);
  void* b = make_after_peak(300000);
  pause_ms(30);
  free(a);
  free(b);
  if (argc > 1) g_kept = NULL;
  return 0;
}
