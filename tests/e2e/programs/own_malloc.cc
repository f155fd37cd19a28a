/* A program that brings its own malloc, free, calloc, realloc, operator new and operator
 * delete (exported, as Chromium's PartitionAlloc and Firefox's mozjemalloc are) but no
 * reallocarray and no sized operator delete: glibc's reallocarray calls realloc, and
 * libstdc++'s sized delete calls delete, through the global scope, so both reach the
 * program's allocator, and a preloaded library must not answer them from another heap nor
 * keep the program's blocks. Every block carries a header; a free, delete or realloc of a
 * block without it, or a reallocarray or sized delete that missed the program's allocator,
 * exits non-zero. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <new>

#define MAGIC 0x6f776e6d616c6c63ull
#define ARENA (64u << 20)

struct header {
  uint64_t magic;
  size_t size;
};

alignas(64) static char arena[ARENA];
static int deletes;
static size_t used;

static int ours(const void* p) {
  const char* c = static_cast<const char*>(p);
  return c >= arena + sizeof(struct header) && c < arena + ARENA &&
         ((const header*)c - 1)->magic == MAGIC;
}

static void bad(const char* what) {
  static const char prefix[] = "own_malloc: ";
  fwrite(prefix, 1, sizeof prefix - 1, stderr);
  fputs(what, stderr);
  fputc('\n', stderr);
  _Exit(3);
}

extern "C" void* malloc(size_t n) {
  size_t step = (sizeof(struct header) + n + 15) & ~(size_t)15;
  size_t at = __atomic_fetch_add(&used, step, __ATOMIC_RELAXED);
  if (n > ARENA || at + step > ARENA) return NULL;
  header* h = (header*)(arena + at);
  h->magic = MAGIC;
  h->size = n;
  return h + 1;
}

extern "C" void free(void* p) {
  if (p != NULL && !ours(p)) bad("free of a block the program did not allocate");
}

extern "C" void* calloc(size_t n, size_t size) {
  size_t total;
  if (__builtin_mul_overflow(n, size, &total)) return NULL;
  void* p = malloc(total);
  if (p != NULL) memset(p, 0, total);
  return p;
}

extern "C" void* realloc(void* p, size_t n) {
  if (p != NULL && !ours(p)) bad("realloc of a block the program did not allocate");
  void* q = malloc(n);
  if (q != NULL && p != NULL) {
    size_t old = ((header*)p - 1)->size;
    memcpy(q, p, old < n ? old : n);
  }
  return q;
}

void* operator new(size_t n) {
  void* p = malloc(n);
  if (p == NULL) bad("out of memory");
  return p;
}

void operator delete(void* p) noexcept {
  if (p != NULL && !ours(p)) bad("delete of a block the program did not allocate");
  ++deletes;
}

int main(void) {
  char* fresh = static_cast<char*>(reallocarray(NULL, 10, 10));
  if (fresh == NULL || !ours(fresh)) bad("reallocarray(NULL) did not use the program's realloc");
  char* grown = static_cast<char*>(malloc(50));
  memset(grown, 'g', 50);
  grown = static_cast<char*>(reallocarray(grown, 4, 50));
  if (grown == NULL || !ours(grown)) bad("reallocarray(p) did not use the program's realloc");
  for (int i = 0; i < 50; ++i)
    if (grown[i] != 'g') bad("reallocarray lost the contents");
  free(fresh);
  free(grown);
  void* object = ::operator new(24);
  int before = deletes;
  ::operator delete(object, 24);
  if (deletes != before + 1) bad("sized delete did not reach the program's delete");
  puts("ok");
  return 0;
}
