/* A binary search tree that prunes a subtree by unlinking it without freeing it, then
   frees what is left. The detached subtree's root is lost, its descendants hang off it.
   Keys 50 30 70 20 40 60 80 10 25 35 45; the subtree under 30 has 7 nodes.
   Expected: direct 48 B in 1 block, indirect 288 B in 6 blocks, all malloc at
   new_node (called from tree_insert). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct tnode {
  struct tnode *left, *right;
  long key;
  char label[24];
};

LEAK_FN struct tnode* new_node(long key) {
  struct tnode* n = malloc(sizeof *n); /* @new_node */
  n->left = n->right = NULL;
  n->key = key;
  memset(n->label, 'k', sizeof n->label);
  return n;
}

/* Iterative, so every node is allocated from the same stack. */
LEAK_FN struct tnode* tree_insert(struct tnode* root, long key) {
  struct tnode* n = new_node(key);
  if (!root) return n;
  struct tnode* p = root;
  for (;;) {
    struct tnode** next = key < p->key ? &p->left : &p->right;
    if (!*next) {
      *next = n;
      return root;
    }
    p = *next;
  }
}

LEAK_FN void tree_free(struct tnode* t) {
  if (!t) return;
  tree_free(t->left);
  tree_free(t->right);
  free(t);
}

/* The bug: the subtree is unlinked but not freed. */
LEAK_FN void prune_left(struct tnode* root) { root->left = NULL; }

LEAK_FN void index_keys(const long* keys, int n) {
  struct tnode* root = NULL;
  for (int i = 0; i < n; i++) root = tree_insert(root, keys[i]);
  prune_left(root);
  tree_free(root);
}

int main(void) {
  static const long keys[] = {50, 30, 70, 20, 40, 60, 80, 10, 25, 35, 45};
  index_keys(keys, 11);
  scrub_stack();
  return 0;
}
