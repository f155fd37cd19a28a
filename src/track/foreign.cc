#include "track/foreign.h"

#include "prim/os.h"

namespace mpshim::track {

void ForeignStore::release() {
  prim::Guard g(lock_);
  if (items_ != nullptr) prim::os_unmap(items_, cap_ * sizeof(ForeignBlock));
  items_ = nullptr;
  len_ = cap_ = 0;
}

size_t ForeignStore::lower_bound(uintptr_t start) const {
  size_t lo = 0, hi = len_;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (items_[mid].start < start)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

long ForeignStore::holder(uintptr_t addr) const {
  size_t i = lower_bound(addr);
  if (i < len_ && items_[i].start == addr) return long(i);
  if (i == 0) return -1;
  const ForeignBlock& b = items_[i - 1];  // the last one starting below addr
  return addr - b.start < b.size ? long(i - 1) : -1;
}

bool ForeignStore::insert(const ForeignBlock& b) {
  prim::Guard g(lock_);
  size_t i = lower_bound(b.start);
  if (i < len_ && items_[i].start == b.start) {
    items_[i] = b;
    return true;
  }
  if (len_ == cap_) {
    size_t cap = cap_ == 0 ? prim::page_size() / sizeof(ForeignBlock) : cap_ * 2;
    auto* fresh = static_cast<ForeignBlock*>(prim::os_map(cap * sizeof(ForeignBlock)));
    if (fresh == nullptr) return false;
    for (size_t k = 0; k < len_; ++k) fresh[k] = items_[k];
    if (items_ != nullptr) prim::os_unmap(items_, cap_ * sizeof(ForeignBlock));
    items_ = fresh;
    cap_ = cap;
  }
  for (size_t k = len_; k > i; --k) items_[k] = items_[k - 1];
  items_[i] = b;
  ++len_;
  return true;
}

bool ForeignStore::erase(uintptr_t start, ForeignBlock* out) {
  prim::Guard g(lock_);
  size_t i = lower_bound(start);
  if (i == len_ || items_[i].start != start) return false;
  if (out != nullptr) *out = items_[i];
  for (size_t k = i + 1; k < len_; ++k) items_[k - 1] = items_[k];
  --len_;
  return true;
}

bool ForeignStore::find(uintptr_t addr, ForeignBlock* out) {
  prim::Guard g(lock_);
  long i = holder(addr);
  if (i < 0) return false;
  *out = items_[i];
  return true;
}

bool ForeignStore::ignore(uintptr_t addr) {
  prim::Guard g(lock_);
  long i = holder(addr);
  if (i < 0) return false;
  items_[i].ignored = true;
  return true;
}

bool ForeignStore::set_closing(uintptr_t start, bool closing) {
  prim::Guard g(lock_);
  size_t i = lower_bound(start);
  if (i == len_ || items_[i].start != start) return false;
  items_[i].closing = closing;
  return true;
}

size_t ForeignStore::size() {
  prim::Guard g(lock_);
  return len_;
}

void ForeignStore::for_each_locked(void (*fn)(const ForeignBlock& b, void* ctx), void* ctx) const {
  for (size_t i = 0; i < len_; ++i) fn(items_[i], ctx);
}

void ForeignStore::mapping_locked(uintptr_t* lo, uintptr_t* hi) const {
  *lo = reinterpret_cast<uintptr_t>(items_);
  *hi = *lo + cap_ * sizeof(ForeignBlock);
}

}  // namespace mpshim::track
