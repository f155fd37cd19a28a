/* Compiled by gcc -O2 running under the shim; the program it produces must print the same. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct entry {
  char key[16];
  uint64_t count;
  struct entry *next;
};

enum { kBuckets = 1021 };

static uint64_t hash(const char *s) {
  uint64_t h = 1469598103934665603u;
  for (; *s; ++s) h = (h ^ (unsigned char)*s) * 1099511628211u;
  return h;
}

static void add(struct entry **table, const char *key) {
  struct entry **slot = &table[hash(key) % kBuckets];
  for (struct entry *e = *slot; e; e = e->next)
    if (strcmp(e->key, key) == 0) {
      ++e->count;
      return;
    }
  struct entry *e = calloc(1, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  e->count = 1;
  e->next = *slot;
  *slot = e;
}

static int by_count(const void *a, const void *b) {
  const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
  if (x->count != y->count) return x->count < y->count ? 1 : -1;
  return strcmp(x->key, y->key);
}

int main(void) {
  struct entry *table[kBuckets] = {0};
  uint32_t x = 12345;
  for (int i = 0; i < 200000; ++i) {
    char key[16];
    x = x * 1103515245u + 12345u;
    snprintf(key, sizeof key, "w%u", (x >> 8) % 5000);
    add(table, key);
  }
  size_t n = 0;
  for (int b = 0; b < kBuckets; ++b)
    for (struct entry *e = table[b]; e; e = e->next) ++n;
  struct entry **all = malloc(n * sizeof *all);
  n = 0;
  for (int b = 0; b < kBuckets; ++b)
    for (struct entry *e = table[b]; e; e = e->next) all[n++] = e;
  qsort(all, n, sizeof *all, by_count);
  printf("distinct %zu\n", n);
  for (int i = 0; i < 5; ++i) printf("%s %llu\n", all[i]->key, (unsigned long long)all[i]->count);
  return 0;
}
