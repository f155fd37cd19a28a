/* A chained hash table whose "destroy" frees only the table object: the bucket array is
   lost, and the entries and their keys hang off it.
   10 keys, rehashed 4 -> 8 -> 16 buckets (old arrays freed on the way).
   Expected: direct 128 B in 1 block (calloc, table_rehash: 16 buckets x 8 B);
   indirect 320 B in 20 blocks: 10 entries x 24 B (malloc, table_put) and 10 keys of
   8 B ("key-000" and its NUL: malloc, strdup from table_put). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct entry {
  struct entry* next;
  char* key;
  long value;
};

struct table {
  struct entry** buckets;
  size_t nbuckets, count;
};

static size_t hash(const char* s) {
  size_t h = 5381;
  while (*s) h = h * 33 + (unsigned char)*s++;
  return h;
}

LEAK_FN void table_rehash(struct table* t, size_t n) {
  struct entry** b = calloc(n, sizeof *b); /* @buckets */
  for (size_t i = 0; i < t->nbuckets; i++) {
    for (struct entry *e = t->buckets[i], *next; e; e = next) {
      next = e->next;
      size_t k = hash(e->key) % n;
      e->next = b[k];
      b[k] = e;
    }
  }
  free(t->buckets);
  t->buckets = b;
  t->nbuckets = n;
}

LEAK_FN struct table* table_new(void) {
  struct table* t = calloc(1, sizeof *t);
  table_rehash(t, 4);
  return t;
}

LEAK_FN void table_put(struct table* t, const char* key, long value) {
  if (t->count + 1 > t->nbuckets) table_rehash(t, 2 * t->nbuckets);
  struct entry* e = malloc(sizeof *e); /* @entry */
  e->key = strdup(key);                /* @key */
  e->value = value;
  size_t k = hash(key) % t->nbuckets;
  e->next = t->buckets[k];
  t->buckets[k] = e;
  t->count++;
}

/* The bug: the buckets and entries are never freed. */
LEAK_FN void table_destroy(struct table* t) { free(t); }

LEAK_FN void count_words(int n) {
  struct table* t = table_new();
  char key[16];
  for (int i = 0; i < n; i++) {
    snprintf(key, sizeof key, "key-%03d", i);
    table_put(t, key, i);
  }
  table_destroy(t);
}

int main(void) {
  count_words(10);
  scrub_stack();
  return 0;
}
