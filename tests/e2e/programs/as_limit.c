// Allocates blocks of one size until malloc fails under an address-space limit 1 GiB above
// what the process maps at start (RLIMIT_AS, as `ulimit -v` sets it), then prints the bytes
// it got. Exits 1 when the failure is not a NULL with errno ENOMEM.
//   as_limit SIZE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static unsigned long mapped_bytes(void) {
  FILE* f = fopen("/proc/self/status", "r");
  char line[256];
  unsigned long kib = 0;
  while (f != NULL && fgets(line, sizeof line, f) != NULL)
    if (strncmp(line, "VmSize:", 7) == 0) kib = strtoul(line + 7, NULL, 10);
  if (f != NULL) fclose(f);
  return kib << 10;
}

int main(int argc, char** argv) {
  size_t size = argc > 1 ? strtoul(argv[1], NULL, 0) : 100;
  // The list of blocks lives in a mapping made before the limit, so it costs nothing after.
  size_t cap = ((size_t)1 << 30) / size + 16;
  void** blocks = malloc(cap * sizeof *blocks);
  if (blocks == NULL) return 2;
  memset(blocks, 0, cap * sizeof *blocks);
  struct rlimit lim = {mapped_bytes() + (1ul << 30), RLIM_INFINITY};
  if (setrlimit(RLIMIT_AS, &lim) != 0) return 2;
  size_t n = 0;
  errno = 0;
  for (; n < cap; ++n) {
    blocks[n] = malloc(size);
    if (blocks[n] == NULL) break;
    memset(blocks[n], 1, size < 64 ? size : 64);
  }
  int enomem = errno == ENOMEM;
  printf("%zu\n", n * size);
  for (size_t i = 0; i < n; ++i) free(blocks[i]);
  free(blocks);
  return n < cap && enomem ? 0 : 1;
}
