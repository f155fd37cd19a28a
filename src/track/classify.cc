#include "track/classify.h"

#include "prim/defines.h"
#include "prim/os.h"

namespace mpshim::track {
namespace {

// Memory is read as untyped words: roots and blocks hold anything.
typedef uintptr_t __attribute__((may_alias)) Word;

// Block start -> index, open addressing (value = index + 1, 0 = empty).
class Index {
 public:
  bool init(const ScanBlock* blocks, size_t n) {
    blocks_ = blocks;
    int bits = 4;
    while ((size_t(1) << bits) < 2 * n) ++bits;
    shift_ = 64 - bits;
    mask_ = (uint64_t(1) << bits) - 1;
    bytes_ = (mask_ + 1) * sizeof(uint32_t);
    slots_ = static_cast<uint32_t*>(prim::os_map(bytes_));
    if (slots_ == nullptr) return false;
    for (size_t i = 0; i < n; ++i) {
      uint64_t k = pos(blocks[i].start);
      while (slots_[k] != 0) k = (k + 1) & mask_;
      slots_[k] = uint32_t(i + 1);
    }
    return true;
  }
  ~Index() {
    if (slots_ != nullptr) prim::os_unmap(slots_, bytes_);
  }
  /// Index of the block starting at `start`, or -1.
  MPSHIM_INLINE int64_t find(uintptr_t start) const {
    for (uint64_t k = pos(start);; k = (k + 1) & mask_) {
      uint32_t v = slots_[k];
      if (v == 0) return -1;
      if (blocks_[v - 1].start == start) return int64_t(v) - 1;
    }
  }

 private:
  MPSHIM_INLINE uint64_t pos(uintptr_t start) const {
    return ((start >> 4) * 0x9e3779b97f4a7c15ull) >> shift_;
  }
  const ScanBlock* blocks_ = nullptr;
  uint32_t* slots_ = nullptr;
  uint64_t mask_ = 0;
  int shift_ = 0;
  size_t bytes_ = 0;
};

// Explicit work stack: every block is pushed at most once per phase, so n slots suffice.
struct WorkStack {
  uint32_t* items = nullptr;
  size_t len = 0, bytes = 0;
  bool init(size_t n) {
    bytes = (n + 1) * sizeof(uint32_t);
    items = static_cast<uint32_t*>(prim::os_map(bytes));
    return items != nullptr;
  }
  ~WorkStack() {
    if (items != nullptr) prim::os_unmap(items, bytes);
  }
};

class Classifier {
 public:
  Classifier(ScanBlock* blocks, size_t n, FindBlockFn find, void* ctx, ClassifyStats* st)
      : b_(blocks), n_(n), find_(find), ctx_(ctx), st_(st) {}

  bool init() {
    if (!index_.init(b_, n_) || !work_.init(n_)) return false;
    lo_ = ~uintptr_t(0);
    hi_ = 0;
    for (size_t i = 0; i < n_; ++i) {
      uintptr_t end = b_[i].start + (b_[i].size != 0 ? b_[i].size : 1);
      if (b_[i].start < lo_) lo_ = b_[i].start;
      if (end > hi_) hi_ = end;
    }
    return true;
  }

  void mark(const ScanRange* roots, size_t nroots) {
    for (size_t i = 0; i < n_; ++i) {
      b_[i].reach = b_[i].root ? Reach::Reachable : Reach::Unvisited;
      if (b_[i].root) work_.items[work_.len++] = uint32_t(i);
    }
    drain_reachable();
    for (size_t r = 0; r < nroots; ++r) {
      if (st_ != nullptr && roots[r].hi > roots[r].lo) st_->root_bytes += roots[r].hi - roots[r].lo;
      scan(roots[r].lo, roots[r].hi, [this](size_t c) { reach_from_root(c); });
      drain_reachable();
    }
  }

  // Leaders are taken first among the unreachable blocks that no other one points to, then
  // among those pointed to only inside (as a container's header is by its nodes' back
  // pointers), then the rest, each time in array order: a leaked container is named by its
  // owner, whatever the addresses of its parts.
  void cliques() {
    size_t bytes = n_;
    auto* in = static_cast<uint8_t*>(prim::os_map(bytes));  // bit 0: pointed into, 1: at
    if (in != nullptr) {
      for (size_t i = 0; i < n_; ++i) {
        const ScanBlock& blk = b_[i];
        if (blk.reach != Reach::Unvisited || blk.opaque) continue;
        scan(blk.start, blk.start + blk.size, [this, i, in](size_t c) {
          if (c != i && b_[c].reach == Reach::Unvisited) in[c] |= word_ == b_[c].start ? 2 : 1;
        });
      }
    }
    for (int pass = 0; pass < 3; ++pass) {
      for (size_t i = 0; i < n_; ++i) {
        if (b_[i].reach != Reach::Unvisited) continue;
        uint8_t v = in != nullptr ? in[i] : 0;
        if (in != nullptr && (pass == 0 ? v != 0 : pass == 1 ? (v & 2) != 0 : false)) continue;
        lead(i);
      }
    }
    if (in != nullptr) prim::os_unmap(in, bytes);
  }

  // Block i becomes Direct and claims what it leads to.
  void lead(size_t i) {
    b_[i].reach = Reach::Direct;
    work_.items[work_.len++] = uint32_t(i);
    while (work_.len != 0) {
      const ScanBlock& blk = b_[work_.items[--work_.len]];
      if (blk.opaque) continue;
      bool driver = blk.driver;
      scan(blk.start, blk.start + blk.size, [this, i, driver](size_t c) {
        if (driver && b_[c].cuda) return;
        Reach& r = b_[c].reach;
        if (r == Reach::Unvisited) {
          r = Reach::Indirect;
          work_.items[work_.len++] = uint32_t(c);
        } else if (r == Reach::Direct && c != i) {
          r = Reach::Indirect;  // an earlier leader is part of this clique
        }
      });
    }
  }

 private:
  void reach_from_root(size_t c) {
    if (b_[c].reach != Reach::Unvisited) return;
    b_[c].reach = Reach::Reachable;
    work_.items[work_.len++] = uint32_t(c);
  }

  void drain_reachable() {
    while (work_.len != 0) {
      const ScanBlock& blk = b_[work_.items[--work_.len]];
      if (blk.opaque) continue;
      bool driver = blk.driver;
      scan(blk.start, blk.start + blk.size, [this, driver](size_t c) {
        if (!driver || !b_[c].cuda) reach_from_root(c);
      });
    }
  }

  // Calls visit(index) for every aligned word in [lo, hi) that points into a block.
  template <class Visit>
  __attribute__((no_sanitize("address"))) void scan(uintptr_t lo, uintptr_t hi, Visit visit) {
    uintptr_t p = (lo + 7) & ~uintptr_t(7);
    uint64_t words = 0, lookups = 0;
    for (; p + 8 <= hi; p += 8) {
      uintptr_t w = *reinterpret_cast<const volatile Word*>(p);
      ++words;
      if (w - lo_ >= hi_ - lo_) continue;
      ++lookups;
      uintptr_t s = find_(w, ctx_);
      if (s == 0) continue;
      int64_t c = index_.find(s);
      if (c < 0) continue;
      uint64_t size = b_[c].size != 0 ? b_[c].size : 1;
      word_ = w;
      if (w - s < size) visit(size_t(c));
    }
    if (st_ != nullptr) {
      st_->words += words;
      st_->lookups += lookups;
    }
  }

  ScanBlock* b_;
  size_t n_;
  FindBlockFn find_;
  void* ctx_;
  ClassifyStats* st_;
  Index index_;
  WorkStack work_;
  uintptr_t lo_ = 0, hi_ = 0;
  uintptr_t word_ = 0;  // the word scan() passes to its visitor
};

}  // namespace

bool classify(ScanBlock* blocks, size_t n, const ScanRange* roots, size_t nroots,
              FindBlockFn find, void* ctx, ClassifyStats* stats) {
  if (stats != nullptr) *stats = ClassifyStats{};
  if (n == 0) return true;
  Classifier c(blocks, n, find, ctx, stats);
  if (!c.init()) {
    for (size_t i = 0; i < n; ++i) blocks[i].reach = Reach::Reachable;
    return false;
  }
  c.mark(roots, nroots);
  c.cliques();
  return true;
}

}  // namespace mpshim::track
