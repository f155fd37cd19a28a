#include "cuda/meta.h"

#include <cstring>

#include "prim/os.h"

namespace mpshim::cuda {

// ---- Slab

constexpr size_t kSlabChunk = 64 << 10;

void* Slab::get() {
  if (free_ != nullptr) {
    void* r = free_;
    free_ = *static_cast<void**>(r);
    memset(r, 0, size_);
    return r;
  }
  if (bump_ == nullptr || size_t(end_ - bump_) < size_) {
    auto* c = static_cast<Chunk*>(prim::os_map(kSlabChunk));
    if (c == nullptr) return nullptr;
    c->next = chunks_;
    chunks_ = c;
    size_t header = (sizeof(Chunk) + 63) & ~size_t(63);
    bump_ = reinterpret_cast<char*>(c) + header;
    end_ = reinterpret_cast<char*>(c) + kSlabChunk;
  }
  void* r = bump_;  // fresh mapping: already zero
  bump_ += size_;
  return r;
}

void Slab::put(void* r) {
  *static_cast<void**>(r) = free_;
  free_ = r;
}

void Slab::for_each_mapping(void (*fn)(uintptr_t, uintptr_t, void*), void* arg) const {
  for (const Chunk* c = chunks_; c != nullptr; c = c->next) {
    uintptr_t lo = reinterpret_cast<uintptr_t>(c);
    fn(lo, lo + kSlabChunk, arg);
  }
}

// ---- BlockHash

bool BlockHash::grow() {
  size_t cap = cap_ == 0 ? prim::page_size() / sizeof(Block*) : cap_ * 2;
  auto* fresh = static_cast<Block**>(prim::os_map(cap * sizeof(Block*)));
  if (fresh == nullptr) return false;
  Block** old = slots_;
  size_t old_cap = cap_;
  slots_ = fresh;
  cap_ = cap;
  shift_ = 64 - unsigned(__builtin_ctzll(cap));
  for (size_t i = 0; i < old_cap; ++i) {
    if (old[i] == nullptr) continue;
    size_t j = index(old[i]->addr);
    while (slots_[j] != nullptr) j = (j + 1) & (cap_ - 1);
    slots_[j] = old[i];
  }
  if (old != nullptr) prim::os_unmap(old, old_cap * sizeof(Block*));
  return true;
}

bool BlockHash::insert(Block* b) {
  if (2 * (count_ + 1) > cap_ && !grow() && count_ + 1 >= cap_) return false;
  size_t i = index(b->addr);
  while (slots_[i] != nullptr) i = (i + 1) & (cap_ - 1);
  slots_[i] = b;
  ++count_;
  return true;
}

Block* BlockHash::find(DevPtr addr) const {
  if (cap_ == 0) return nullptr;
  for (size_t i = index(addr);; i = (i + 1) & (cap_ - 1)) {
    Block* b = slots_[i];
    if (b == nullptr || b->addr == addr) return b;
  }
}

Block* BlockHash::erase(DevPtr addr) {
  if (cap_ == 0) return nullptr;
  size_t i = index(addr);
  while (slots_[i] != nullptr && slots_[i]->addr != addr) i = (i + 1) & (cap_ - 1);
  Block* found = slots_[i];
  if (found == nullptr) return nullptr;
  // Backward-shift deletion: move later entries of the run into the hole when their home
  // slot does not lie (cyclically) between the hole and them.
  size_t hole = i;
  for (size_t j = (i + 1) & (cap_ - 1); slots_[j] != nullptr; j = (j + 1) & (cap_ - 1)) {
    size_t home = index(slots_[j]->addr);
    if (((j - home) & (cap_ - 1)) >= ((j - hole) & (cap_ - 1))) {
      slots_[hole] = slots_[j];
      hole = j;
    }
  }
  slots_[hole] = nullptr;
  --count_;
  return found;
}

void BlockHash::mapping(uintptr_t* lo, uintptr_t* hi) const {
  *lo = reinterpret_cast<uintptr_t>(slots_);
  *hi = *lo + cap_ * sizeof(Block*);
}

// ---- SegmentTable

size_t SegmentTable::lower_bound(DevPtr base) const {
  size_t lo = 0, hi = len_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (items_[mid]->base < base)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

bool SegmentTable::insert(Segment* s) {
  if (len_ == cap_) {
    size_t cap = cap_ == 0 ? prim::page_size() / sizeof(Segment*) : cap_ * 2;
    auto* fresh = static_cast<Segment**>(prim::os_map(cap * sizeof(Segment*)));
    if (fresh == nullptr) return false;
    if (len_ > 0) memcpy(fresh, items_, len_ * sizeof(Segment*));
    if (items_ != nullptr) prim::os_unmap(items_, cap_ * sizeof(Segment*));
    items_ = fresh;
    cap_ = cap;
  }
  size_t i = lower_bound(s->base);
  memmove(items_ + i + 1, items_ + i, (len_ - i) * sizeof(Segment*));
  items_[i] = s;
  ++len_;
  return true;
}

void SegmentTable::erase(Segment* s) {
  size_t i = lower_bound(s->base);
  if (i == len_ || items_[i] != s) return;
  memmove(items_ + i, items_ + i + 1, (len_ - i - 1) * sizeof(Segment*));
  --len_;
}

Segment* SegmentTable::holder(DevPtr addr) const {
  size_t i = lower_bound(addr);
  if (i < len_ && items_[i]->base == addr) return items_[i];
  if (i == 0) return nullptr;
  Segment* s = items_[i - 1];
  return addr - s->base < s->size ? s : nullptr;
}

void SegmentTable::mapping(uintptr_t* lo, uintptr_t* hi) const {
  *lo = reinterpret_cast<uintptr_t>(items_);
  *hi = *lo + cap_ * sizeof(Segment*);
}

}  // namespace mpshim::cuda
