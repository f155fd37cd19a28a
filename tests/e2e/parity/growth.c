/* Buffers grown with realloc, then lost: a vector object (its data indirect) and a string
   builder's buffer. A leaked realloc'd block is reported with its last size and the stack
   of the realloc call that produced it.
   Expected: direct 48 B in 2 blocks: vec_new 24 B (malloc), sb_append 24 B (realloc,
   "alpha beta gamma delta " + NUL); indirect 256 B in 1 block: vec_push (realloc, 50 ints
   after growing 16 -> 32 -> 64 -> 128 -> 256 B). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct vec {
  int* data;
  size_t len, cap;
};

LEAK_FN struct vec* vec_new(void) {
  struct vec* v = malloc(sizeof *v); /* @vec_new */
  v->data = NULL;
  v->len = v->cap = 0;
  return v;
}

LEAK_FN void vec_push(struct vec* v, int x) {
  if (v->len == v->cap) {
    v->cap = v->cap ? 2 * v->cap : 4;
    v->data = realloc(v->data, v->cap * sizeof *v->data); /* @vec_push */
  }
  v->data[v->len++] = x;
}

LEAK_FN char* sb_append(char* s, const char* word) {
  size_t len = s ? strlen(s) : 0, n = strlen(word);
  s = realloc(s, len + n + 1); /* @sb_append */
  memcpy(s + len, word, n + 1);
  return s;
}

LEAK_FN void collect(int n) {
  struct vec* v = vec_new();
  for (int i = 0; i < n; i++) vec_push(v, i);
  keep_alloc(v);
}

LEAK_FN void join_words(const char* const* words, int n) {
  char* s = NULL;
  for (int i = 0; i < n; i++) s = sb_append(s, words[i]);
  keep_alloc(s);
}

int main(void) {
  static const char* const words[] = {"alpha ", "beta ", "gamma ", "delta "};
  collect(50);
  join_words(words, 4);
  scrub_stack();
  return 0;
}
