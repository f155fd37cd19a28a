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
  Classifier(ScanBlock* blocks, size_t n, FindBlockFn find, void* ctx, ClassifyStats* st,
             const ScanRange* unreadable, size_t nunreadable)
      : b_(blocks), n_(n), find_(find), ctx_(ctx), st_(st), bad_(unreadable), nbad_(nunreadable) {}

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

  // The unreachable blocks form a graph; a group of blocks that reach each other (a
  // strongly connected component: a cycle, a ring, a node and its owner's back pointers) is
  // one unit. A unit that no other unreachable unit points to is leaked directly: one of
  // its blocks is direct and everything else unreachable is indirect. So a lost cycle
  // hanging off another lost cycle is indirect, whichever block of it a pointer reaches.
  // The direct block of a unit is the one whose allocation site was seen first (ScanBlock's
  // `first`: a container is most often made before its parts, and valgrind, whose heap
  // grows upwards, names the lowest address); among blocks of one site, first one that no
  // other block points to, then one pointed to only inside (as a container's header is by
  // its nodes' back pointers), then the rest, each time in array order: a leaked container
  // is named by its owner, whatever the addresses of its parts. Without memory for the
  // graph, cliques are formed one leader at a time instead (lead()).
  void cliques() {
    Scratch<uint8_t> in(n_);  // bit 0: pointed into, 1: at
    Scratch<size_t> first(n_ + 1);  // edges of block i: first[i] .. first[i + 1]
    size_t edges = 0;
    if (in.ok()) {
      for (size_t i = 0; i < n_; ++i) {
        if (first.ok()) first[i] = edges;
        for_each_edge(i, [&](size_t c) {
          in[c] |= word_ == b_[c].start ? 2 : 1;
          ++edges;
        });
      }
      if (first.ok()) first[n_] = edges;
    }
    Scratch<uint32_t> to(edges), comp(n_), low(n_), order(n_), stack(n_), frame(n_);
    Scratch<size_t> pos(n_);
    if (!in.ok() || !first.ok() || !to.ok() || !comp.ok() || !low.ok() || !order.ok() || !stack.ok() ||
        !frame.ok() || !pos.ok()) {
      for (int pass = 0; pass < 3; ++pass)
        for (size_t i = 0; i < n_; ++i) {
          if (b_[i].reach != Reach::Unvisited) continue;
          uint8_t v = in.ok() ? in[i] : 0;
          if (in.ok() && (pass == 0 ? v != 0 : pass == 1 ? (v & 2) != 0 : false)) continue;
          lead(i);
        }
      return;
    }
    // Other threads still run: a block read again may hold other pointers now. Each keeps
    // the room counted for it; a self edge fills what is left (it changes nothing).
    for (size_t i = 0; i < n_; ++i) {
      size_t e = first[i];
      for_each_edge(i, [&](size_t c) {
        if (e < first[i + 1]) to[e++] = uint32_t(c);
      });
      while (e < first[i + 1]) to[e++] = uint32_t(i);
    }
    components(first.p, to.p, comp.p, low.p, order.p, stack.p, frame.p, pos.p);
    // A unit entered from another one is indirect as a whole; `low` now marks those, and
    // `order` holds the direct block chosen for each unit (+1; 0: none yet).
    for (size_t i = 0; i < n_; ++i) {
      low[i] = 0;
      order[i] = 0;
    }
    for (size_t i = 0; i < n_; ++i)
      if (b_[i].reach == Reach::Unvisited)
        for (size_t e = first[i]; e < first[i + 1]; ++e)
          if (comp[to[e]] != comp[i]) low[comp[to[e]]] = 1;
    auto rank = [&](size_t i) { return in[i] == 0 ? 0 : (in[i] & 2) == 0 ? 1 : 2; };
    auto before = [&](size_t i, size_t j) {
      return b_[i].first != b_[j].first ? b_[i].first < b_[j].first : rank(i) < rank(j);
    };
    for (size_t i = 0; i < n_; ++i) {
      if (b_[i].reach != Reach::Unvisited || low[comp[i]] != 0) continue;
      uint32_t& d = order[comp[i]];
      if (d == 0 || before(i, d - 1)) d = uint32_t(i + 1);
    }
    for (size_t i = 0; i < n_; ++i)
      if (b_[i].reach == Reach::Unvisited) b_[i].reach = order[comp[i]] == i + 1 ? Reach::Direct : Reach::Indirect;
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
  // An array in its own mapping (the check never allocates through the shim).
  template <class T>
  struct Scratch {
    T* p = nullptr;
    size_t bytes;
    explicit Scratch(size_t n) : bytes((n != 0 ? n : 1) * sizeof(T)) { p = static_cast<T*>(prim::os_map(bytes)); }
    ~Scratch() {
      if (p != nullptr) prim::os_unmap(p, bytes);
    }
    bool ok() const { return p != nullptr; }
    T& operator[](size_t i) { return p[i]; }
  };

  // Calls fn(c) for every pointer of unreachable block i to another unreachable block c.
  template <class Fn>
  void for_each_edge(size_t i, Fn fn) {
    const ScanBlock& blk = b_[i];
    if (blk.reach != Reach::Unvisited || blk.opaque) return;
    bool driver = blk.driver;
    scan(blk.start, blk.start + blk.size, [&](size_t c) {
      if (c != i && b_[c].reach == Reach::Unvisited && !(driver && b_[c].cuda)) fn(c);
    });
  }

  // Tarjan's strongly connected components of the unreachable blocks, without recursion:
  // comp[i] is the component of block i (numbered by its root block). order, low, stack,
  // frame and pos are working arrays of n entries.
  void components(const size_t* first, const uint32_t* to, uint32_t* comp, uint32_t* low, uint32_t* order,
                  uint32_t* stack, uint32_t* frame, size_t* pos) {
    constexpr uint32_t kDone = ~uint32_t(0);
    for (size_t i = 0; i < n_; ++i) order[i] = 0;
    uint32_t next = 0;
    size_t sp = 0, fp = 0;
    for (size_t root = 0; root < n_; ++root) {
      if (b_[root].reach != Reach::Unvisited || order[root] != 0) continue;
      auto enter = [&](uint32_t v) {
        order[v] = low[v] = ++next;
        stack[sp++] = v;
        frame[fp] = v;
        pos[fp++] = first[v];
      };
      enter(uint32_t(root));
      while (fp != 0) {
        uint32_t v = frame[fp - 1];
        size_t& e = pos[fp - 1];
        if (e < first[v + 1]) {
          uint32_t w = to[e++];
          if (order[w] == 0) enter(w);
          else if (order[w] != kDone && order[w] < low[v]) low[v] = order[w];  // on the stack
          continue;
        }
        if (low[v] == order[v]) {
          uint32_t w;
          do {
            w = stack[--sp];
            comp[w] = v;
            order[w] = kDone;  // finished: no longer on the stack
          } while (w != v);
        }
        --fp;
        if (fp != 0) {
          uint32_t u = frame[fp - 1];
          if (low[v] < low[u]) low[u] = low[v];
        }
      }
    }
  }

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

  // Calls visit(index) for every aligned word in [lo, hi) that points into a block, leaving
  // out the unreadable ranges.
  template <class Visit>
  void scan(uintptr_t lo, uintptr_t hi, Visit visit) {
    if (MPSHIM_LIKELY(nbad_ == 0)) return scan_words(lo, hi, visit);
    size_t a = 0, b = nbad_;  // the first unreadable range ending after lo
    while (a < b) {
      size_t mid = (a + b) / 2;
      if (bad_[mid].hi <= lo) a = mid + 1;
      else b = mid;
    }
    for (; a < nbad_ && bad_[a].lo < hi && lo < hi; ++a) {
      if (bad_[a].lo > lo) scan_words(lo, bad_[a].lo, visit);
      if (bad_[a].hi > lo) lo = bad_[a].hi;
    }
    if (lo < hi) scan_words(lo, hi, visit);
  }

  template <class Visit>
  __attribute__((no_sanitize("address"))) void scan_words(uintptr_t lo, uintptr_t hi, Visit visit) {
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
  const ScanRange* bad_;
  size_t nbad_;
  Index index_;
  WorkStack work_;
  uintptr_t lo_ = 0, hi_ = 0;
  uintptr_t word_ = 0;  // the word scan() passes to its visitor
};

}  // namespace

bool classify(ScanBlock* blocks, size_t n, const ScanRange* roots, size_t nroots,
              FindBlockFn find, void* ctx, ClassifyStats* stats, const ScanRange* unreadable,
              size_t nunreadable) {
  if (stats != nullptr) *stats = ClassifyStats{};
  if (n == 0) return true;
  Classifier c(blocks, n, find, ctx, stats, unreadable, nunreadable);
  if (!c.init()) {
    for (size_t i = 0; i < n; ++i) blocks[i].reach = Reach::Reachable;
    return false;
  }
  c.mark(roots, nroots);
  c.cliques();
  return true;
}

}  // namespace mpshim::track
