/* The most common leak of all: main keeps its buffers in locals and returns without
   freeing them. Nothing else is done to help the checkers (no stack scrubbing): once main
   has returned its frame is dead, and every tool reports both blocks.
   Expected: direct 104 B in 2 blocks: name 64 B (malloc) and counts 40 B (calloc), both
   allocated in main; reachable: stdout's buffer (libc). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char** argv) {
  char* name = malloc(64); /* @name */
  strncpy(name, argv[0], 63);
  name[63] = 0;
  int* counts = calloc(10, sizeof(int)); /* @counts */
  counts[argc % 10] = 1;
  printf("%s %d\n", strrchr(name, '/') ? strrchr(name, '/') + 1 : name, counts[1]);
  return 0;
}
