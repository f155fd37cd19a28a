// mpshim_leak_check() run again and again while four threads allocate and free from their
// caches (their live blocks in arrays in their frames): nothing is ever lost, so no check
// may find a leak, whatever the threads free while it runs. Prints how many did.
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "mpshim.h"

static volatile int g_stop;

static void* churn(void* arg) {
  unsigned long x = (unsigned long)arg;
  void* volatile slots[64] = {0};
  while (!g_stop) {
    x = x * 6364136223846793005ul + 1442695040888963407ul;
    unsigned k = (unsigned)(x >> 33) & 63;
    void* old = slots[k];
    slots[k] = malloc(16 + ((x >> 40) & 2047));
    free(old);
  }
  for (int i = 0; i < 64; ++i) free(slots[i]);
  return NULL;
}

int main(void) {
  if (mpshim_leak_check == NULL) return 3;
  pthread_t t[4];
  for (long i = 0; i < 4; ++i) pthread_create(&t[i], NULL, churn, (void*)(i + 1));
  int found = 0;
  for (int i = 0; i < 40; ++i) found += mpshim_leak_check() == 1;
  g_stop = 1;
  for (int i = 0; i < 4; ++i) pthread_join(t[i], NULL);
  printf("leaks found by %d of 40 checks\n", found);
  return 0;
}
