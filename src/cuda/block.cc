#include "cuda/block.h"

namespace mpshim::cuda {

static uint64_t priority(const Block* b) {
  uint64_t x = b->addr * 0x9E3779B97F4A7C15ull;
  return x ^ (x >> 29);
}

static bool less(const Block* a, const Block* b) {
  return a->size != b->size ? a->size < b->size : a->addr < b->addr;
}

// Recursion depth is the treap's height: O(log n) expected.
static Block* insert_at(Block* t, Block* b) {
  if (t == nullptr) return b;
  if (less(b, t)) {
    t->left = insert_at(t->left, b);
    if (priority(t->left) > priority(t)) {  // rotate right
      Block* l = t->left;
      t->left = l->right;
      l->right = t;
      return l;
    }
  } else {
    t->right = insert_at(t->right, b);
    if (priority(t->right) > priority(t)) {  // rotate left
      Block* r = t->right;
      t->right = r->left;
      r->left = t;
      return r;
    }
  }
  return t;
}

static Block* join(Block* a, Block* b) {  // every key of a below every key of b
  if (a == nullptr) return b;
  if (b == nullptr) return a;
  if (priority(a) > priority(b)) {
    a->right = join(a->right, b);
    return a;
  }
  b->left = join(a, b->left);
  return b;
}

static Block* erase_at(Block* t, Block* b) {
  if (t == nullptr) return nullptr;  // not in the tree
  if (t == b) return join(t->left, t->right);
  if (less(b, t))
    t->left = erase_at(t->left, b);
  else
    t->right = erase_at(t->right, b);
  return t;
}

void FreeTree::insert(Block* b) {
  b->left = b->right = nullptr;
  root_ = insert_at(root_, b);
}

void FreeTree::erase(Block* b) {
  root_ = erase_at(root_, b);
  b->left = b->right = nullptr;
}

Block* FreeTree::lower_bound(uint64_t size) const {
  Block* best = nullptr;
  for (Block* t = root_; t != nullptr;) {
    if (t->size >= size) {
      best = t;
      t = t->left;
    } else {
      t = t->right;
    }
  }
  return best;
}

}  // namespace mpshim::cuda
