/* Threads that lose a block and then wait in a system call made directly (a runtime's own
   futex or nanosleep, with no libc wrapper frame below them): each thread's stack pointer
   stays at the depth it allocated from, so the words just below it (its red zone, which the
   scan of a thread's stack keeps, as valgrind's does) are what the allocation left there.
   Expected (as valgrind, which also calls the two threads' blocks of the dynamic linker
   possibly lost): direct 160 B in 2 blocks (malloc, lose_block: 72 B and 88 B). */
#include <pthread.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "leakprog.h"

static volatile int g_ready;
static unsigned long g_hidden[2];

/* Built with optimisation in the -O0 build too, so that its own frame keeps no copy. */
LEAK_FN __attribute__((optimize("O2"))) void* lose_block(size_t n) {
  void* p = malloc(n); /* @lose_block */
  __asm__ volatile("" : : "r"(p)); /* keep_alloc, which at -O0 is a call with a frame */
  return p;
}

static void* waiter(void* arg) {
  long nr = (long)arg;
  int sleeper = nr == SYS_nanosleep;
  /* Only a scrambled copy is kept: the block is lost. */
  static const size_t kSizes[2] = {88, 72};
  g_hidden[sleeper] = (unsigned long)lose_block(kSizes[sleeper]) ^ 0xffff;
  struct timespec ts = {100, 0};
  long a1 = sleeper ? (long)&ts : (long)&g_ready;
  __atomic_add_fetch(&g_ready, 1, __ATOMIC_SEQ_CST);
  register long r10 __asm__("r10") = 0;
  long ret;
  /* futex(&g_ready, FUTEX_WAIT, 0) waits while g_ready is 0: it is not, so that thread
     returns at once and waits again in the loop (g_ready never changes back). */
  for (;;) {
    long a2 = 0, a3 = sleeper ? 0 : g_ready;
    __asm__ volatile("syscall"
                     : "=a"(ret)
                     : "a"(nr), "D"(a1), "S"(a2), "d"(a3), "r"(r10)
                     : "rcx", "r11", "memory");
  }
  return NULL;
}

int main(void) {
  pthread_t t1, t2;
  pthread_create(&t1, NULL, waiter, (void*)(long)SYS_nanosleep);
  pthread_create(&t2, NULL, waiter, (void*)(long)SYS_futex);
  while (g_ready < 2) usleep(1000);
  usleep(100000);
  scrub_stack();
  exit(0);
}
