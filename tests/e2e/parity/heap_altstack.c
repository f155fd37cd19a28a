/* A signal handler runs on an alternate stack that the program allocated and dropped (the
   kernel alone knows it, through sigaltstack) and allocates there. The walk of the
   handler's stack goes past the signal frame with libunwind, whose own memory then holds
   addresses of that stack's pages: the shim's, not the program's, so the stack is lost.
   Expected (as valgrind and LeakSanitizer): direct 65,536 B in 1 block (new_alt_stack);
   the handler's 64-byte block, in a global, reachable. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

void* volatile g_keep;

static void on_signal(int sig) {
  (void)sig;
  g_keep = malloc(64); /* @handler_block */
}

LEAK_FN void new_alt_stack(void) {
  stack_t ss;
  memset(&ss, 0, sizeof ss);
  ss.ss_sp = malloc(65536); /* @alt_stack */
  ss.ss_size = 65536;
  sigaltstack(&ss, NULL);
  memset(&ss, 0, sizeof ss);
  __asm__ volatile("" : : "r"(&ss) : "memory");
}

int main(void) {
  new_alt_stack();
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_ONSTACK;
  sigaction(SIGUSR1, &sa, NULL);
  raise(SIGUSR1);
  scrub_stack();
  return 0;
}
