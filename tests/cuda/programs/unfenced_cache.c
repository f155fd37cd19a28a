/* A deliberately wrong caching allocator, preloaded in front of the fake runtime to show that
 * reuse_race detects unfenced reuse: cudaFree keeps the block without waiting for the work
 * queued on it, and cudaMalloc hands a kept block of the same size straight back.
 * Single-threaded use only (reuse_race). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

#define CAPACITY 256

typedef int (*MallocFn)(void**, size_t);
typedef int (*FreeFn)(void*);

struct block {
  void* ptr;
  size_t size;
};

static struct block owned[CAPACITY]; /* every block this cache obtained */
static int owned_count;
static struct block kept[CAPACITY]; /* freed blocks waiting for reuse */
static int kept_count;

int cudaMalloc(void** ptr, size_t size) {
  for (int i = 0; i < kept_count; ++i) {
    if (kept[i].size == size) {
      *ptr = kept[i].ptr;
      kept[i] = kept[--kept_count];
      return 0;
    }
  }
  int r = ((MallocFn)dlsym(RTLD_NEXT, "cudaMalloc"))(ptr, size);
  if (r == 0 && owned_count < CAPACITY) owned[owned_count++] = (struct block){*ptr, size};
  return r;
}

int cudaFree(void* ptr) {
  for (int i = 0; i < owned_count; ++i) {
    if (owned[i].ptr == ptr && kept_count < CAPACITY) {
      kept[kept_count++] = owned[i];
      return 0;
    }
  }
  return ((FreeFn)dlsym(RTLD_NEXT, "cudaFree"))(ptr);
}
