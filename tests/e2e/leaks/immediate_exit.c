/* Ends with _exit or _Exit, which run no exit handler: the report is written at the call
   all the same (as valgrind's), and stdio's buffers stay unflushed as _exit leaves them.
   Direct: leak_before_exit 321 B in 1 block. Reachable: 64 B that main still holds in its
   frame when it calls _exit (at_exit_held).
   The argument says how the process ends, always with status 7:
     _exit, _Exit   called by main;
     fork           a child leaks leak_in_child 999 B and calls _exit (a child of fork
                    leaves that way so as to run none of the parent's exit handlers: no
                    report of its own), then main calls _exit;
     vfork          the same with vfork, whose child shares the parent's memory;
     handler        _exit inside a SIGTERM handler (the code it interrupted may hold the
                    allocator's locks): no report, a note on stderr;
     thread         a worker calls _exit while main, its heap of 300,000 blocks still
                    being scanned, returns 2 from main: the process still ends with 7,
                    its report whole (main's exit waits for it); held is freed first. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "leakprog.h"

LEAK_FN void leak_before_exit(void) { keep_alloc(malloc(321)); }
LEAK_FN void leak_in_child(void) { keep_alloc(malloc(999)); }
LEAK_FN void* at_exit_held(void) {
  void* p = malloc(64);
  keep_alloc(p);  /* no tail call: this frame stays in the stack */
  return p;
}

static void* exit_from_thread(void* arg) {
  (void)arg;
  _exit(7);
}

static void on_term(int sig) {
  (void)sig;
  _exit(7);
}

static int wait_child(pid_t child) {
  int status = 0;
  return child > 0 && waitpid(child, &status, 0) == child && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int main(int argc, char** argv) {
  const char* how = argc > 1 ? argv[1] : "";
  leak_before_exit();
  scrub_stack();
  void* volatile held = at_exit_held();
  printf("unflushed");  /* no newline: stays in stdout's buffer, which _exit drops */
  if (strcmp(how, "_exit") == 0) _exit(7);
  if (strcmp(how, "_Exit") == 0) _Exit(7);
  if (strcmp(how, "fork") == 0) {
    pid_t child = fork();
    if (child == 0) {
      leak_in_child();
      _exit(7);
    }
    _exit(wait_child(child));
  }
  if (strcmp(how, "vfork") == 0) {
    pid_t child = vfork();
    if (child == 0) _exit(7);
    _exit(wait_child(child));
  }
  if (strcmp(how, "thread") == 0) {
    static void* blocks[300000];
    free(held);
    for (int i = 0; i < 300000; i++) blocks[i] = malloc(16);
    __asm__ volatile("" : : "r"(blocks) : "memory");
    pthread_t t;
    if (pthread_create(&t, NULL, exit_from_thread, NULL) != 0) return 3;
    usleep(20000);
    return 2;
  }
  if (strcmp(how, "handler") == 0) {
    signal(SIGTERM, on_term);
    raise(SIGTERM);
  }
  free(held);
  return 2;
}
