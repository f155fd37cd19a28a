/* A worker thread holds the only pointer to a block in a callee-saved register (r12) while
   it waits in the kernel on a futex (as in a mutex or condition variable), and main calls
   exit() meanwhile. No memory holds that pointer:
   it is kept disguised (xor) until the worker loads it, and the worker's dead stack is
   scrubbed first. LeakSanitizer and valgrind scan the registers of every live thread, so
   the block is reachable. A second block, disguised the same way but in no register, is a
   real leak. x86-64 only.
   Expected: direct 1111 B in 1 block (leak_hidden), no indirect leak; reachable 4242 B in
   1 block (keep_in_register). */
#include <linux/futex.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "leakprog.h"

#define MASK 0x2d2d2d2d2d2d2d2dull

uintptr_t hidden_kept, hidden_lost; /* not static: the stores must stay */
static volatile int ready;
static int never; /* stays 0: the futex wait never ends */

LEAK_FN void keep_in_register(void) { hidden_kept = (uintptr_t)malloc(4242) ^ MASK; }

LEAK_FN void leak_hidden(void) { hidden_lost = (uintptr_t)malloc(1111) ^ MASK; }

static void* worker(void* arg) {
  (void)arg;
  keep_in_register();
  scrub_stack();
  /* Unmask into r12, tell main, then wait on the futex for ever. */
  __asm__ volatile(
      "mov %[h], %%r12\n\t"
      "movabs %[m], %%rax\n\t"
      "xor %%rax, %%r12\n\t"
      "xor %%eax, %%eax\n\t"
      "movl $1, %[r]\n\t"
      "1: mov %[nr], %%eax\n\t"
      "lea %[w], %%rdi\n\t"
      "mov %[op], %%esi\n\t"
      "xor %%edx, %%edx\n\t"
      "xor %%r10d, %%r10d\n\t"
      "syscall\n\t"
      "jmp 1b"
      : [r] "=m"(ready)
      : [h] "m"(hidden_kept), [m] "i"(MASK), [nr] "i"(SYS_futex), [w] "m"(never),
        [op] "i"(FUTEX_WAIT_PRIVATE)
      : "rax", "rcx", "rdx", "rsi", "rdi", "r10", "r11", "r12", "memory");
  return NULL;
}

int main(void) {
  pthread_t t;
  leak_hidden();
  if (pthread_create(&t, NULL, worker, NULL) != 0) return 2;
  while (!ready) usleep(1000);
  usleep(20000); /* into the futex wait */
  scrub_stack();
  exit(0);
}
