// A process that changes its root directory to an empty one, as dovecot's login processes
// do, then loses a block: /proc/self/maps, which the leak check at exit needs, is out of
// reach. Where chroot needs privileges the process first makes a user namespace of its
// own; it exits 77 when neither works.
//   chrooted EMPTY_DIR
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((noinline)) void lose_block(void) {
  char* p = malloc(100);
  memset(p, 1, 100);
  __asm__ volatile("" : : "r"(p) : "memory");
}

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  if (chroot(argv[1]) != 0 && (unshare(CLONE_NEWUSER) != 0 || chroot(argv[1]) != 0)) return 77;
  if (chdir("/") != 0) return 2;
  lose_block();
  printf("chrooted\n");
  return 0;
}
