/* The only pointer to a record lies in a file the program wrote and mapped back, private
   and writable, in a mapping of 128 KiB whose pages it never touched again: they hold the
   file's bytes, so the record is reachable (as valgrind finds it). A second record's only
   pointer was in a file unmapped and removed: lost.
   Expected: direct 48 B in 1 block (lost_record); the mapped record, 200 B, reachable. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "leakprog.h"

#define MAP_BYTES (128 << 10)

void* volatile g_map;

/* Writes the pointer at `off` of a new temporary file of MAP_BYTES; returns its descriptor. */
static int file_with(void* p, off_t off) {
  char path[] = "/tmp/mpshim-file-map-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) return -1;
  unlink(path);
  if (ftruncate(fd, MAP_BYTES) != 0 || pwrite(fd, &p, sizeof p, off) != (ssize_t)sizeof p) {
    close(fd);
    return -1;
  }
  return fd;
}

LEAK_FN int mapped_record(void) {
  void* p = malloc(200); /* @mapped */
  memset(p, 1, 200);
  int fd = file_with(p, 70000);
  if (fd < 0) return 1;
  g_map = mmap(NULL, MAP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  close(fd);
  return g_map == MAP_FAILED;
}

LEAK_FN int lost_record(void) {
  void* p = malloc(48); /* @lost */
  memset(p, 2, 48);
  int fd = file_with(p, 4096);
  if (fd < 0) return 1;
  close(fd);
  return 0;
}

int main(void) {
  if (mapped_record() || lost_record()) return 1;
  scrub_stack();
  return 0;
}
