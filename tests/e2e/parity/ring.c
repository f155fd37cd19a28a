/* Two lists lost with all their nodes still pointing at each other.
   - a circular doubly-linked ring of 5 nodes whose only pointer is dropped: a cycle with
     no way in. mpshim and valgrind name one node direct and the other four indirect;
     LeakSanitizer calls every node of a cycle indirect.
   - a list object (16 B) with 3 doubly-linked nodes, the object dropped: it is direct,
     its nodes indirect.
   Expected: direct 56 B in 2 blocks (ring_add 40 B, list_new 16 B); indirect 280 B in
   7 blocks (ring_add 4 x 40 B, list_push 3 x 40 B). All malloc. */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct node {
  struct node *prev, *next;
  int id;
  char name[20];
};

struct list {
  struct node* head;
  size_t len;
};

LEAK_FN struct node* ring_add(struct node* ring, int id) {
  struct node* n = malloc(sizeof *n); /* @ring_add */
  n->id = id;
  memset(n->name, 'r', sizeof n->name);
  if (!ring) {
    n->prev = n->next = n;
  } else {
    n->next = ring;
    n->prev = ring->prev;
    ring->prev->next = n;
    ring->prev = n;
  }
  return n;
}

LEAK_FN struct list* list_new(void) {
  struct list* l = malloc(sizeof *l); /* @list_new */
  l->head = NULL;
  l->len = 0;
  return l;
}

LEAK_FN void list_push(struct list* l, int id) {
  struct node* n = malloc(sizeof *n); /* @list_push */
  n->id = id;
  memset(n->name, 'l', sizeof n->name);
  n->prev = NULL;
  n->next = l->head;
  if (l->head) l->head->prev = n;
  l->head = n;
  l->len++;
}

LEAK_FN void build_ring(int n) {
  struct node* ring = NULL;
  for (int i = 0; i < n; i++) ring = ring_add(ring, i);
  keep_alloc(ring);
}

LEAK_FN void build_list(int n) {
  struct list* l = list_new();
  for (int i = 0; i < n; i++) list_push(l, i);
  keep_alloc(l);
}

int main(void) {
  build_ring(5);
  build_list(3);
  scrub_stack();
  return 0;
}
