/* 100,000 small leaks from one site (an interning tokenizer that forgets its tokens,
   8 to 64 bytes each), and a singly-linked list of 50,000 nodes lost through its head.
   Expected: direct 3,600,032 B in 100,001 blocks: make_token 3,600,000 B (12,500 x each
   of 8, 16, ..., 64 B) and the list head 32 B; indirect 1,599,968 B in 49,999 blocks
   (push_node, 32 B each). All malloc. */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct node {
  struct node* next;
  long value[3];
};

LEAK_FN char* make_token(int i) {
  size_t n = 8 + 8 * (size_t)(i % 8);
  char* t = malloc(n); /* @make_token */
  memset(t, 'a' + i % 26, n);
  t[n - 1] = 0;
  return t;
}

LEAK_FN struct node* push_node(struct node* head, long v) {
  struct node* n = malloc(sizeof *n); /* @push_node */
  n->next = head;
  n->value[0] = n->value[1] = n->value[2] = v;
  return n;
}

LEAK_FN size_t tokenize(int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += strlen(make_token(i));
  return total;
}

LEAK_FN void build_list(int n) {
  struct node* head = NULL;
  for (int i = 0; i < n; i++) head = push_node(head, i);
  keep_alloc(head);
}

int main(void) {
  size_t total = tokenize(100000);
  build_list(50000);
  scrub_stack();
  return total == 3500000 ? 0 : 1;
}
