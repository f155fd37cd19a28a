// Classification on synthetic block graphs: blocks are slices of one array, so the scan
// reads real memory, and the lookup maps an address to its slice.
#include "track/classify.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <vector>

#include "perf_clock.h"

namespace mpshim::track {
namespace {

class Graph {
 public:
  // n blocks of `words` 8-byte words each; block i has requested size `size` bytes.
  Graph(size_t n, size_t words, size_t size = 0) : words_(words), mem_(n * words), blocks_(n) {
    for (size_t i = 0; i < n; ++i)
      blocks_[i] = ScanBlock{addr(i), size != 0 ? size : words * 8, i, false, Reach::Unvisited};
  }
  uintptr_t addr(size_t i, size_t offset = 0) const {
    return reinterpret_cast<uintptr_t>(&mem_[i * words_]) + offset;
  }
  // Stores a pointer to block `to` (+offset) in word `slot` of block `from`.
  void link(size_t from, size_t to, size_t slot = 0, size_t offset = 0) {
    mem_[from * words_ + slot] = addr(to, offset);
  }
  void set_root(size_t i) { blocks_[i].root = true; }
  ScanBlock& block(size_t i) { return blocks_[i]; }
  void set_size(size_t i, size_t size) { blocks_[i].size = size; }
  // Classifies with `roots` as the root memory.
  void run(const std::vector<uintptr_t>& roots, ClassifyStats* st = nullptr) {
    ScanRange r{reinterpret_cast<uintptr_t>(roots.data()),
                reinterpret_cast<uintptr_t>(roots.data() + roots.size())};
    ASSERT_TRUE(classify(blocks_.data(), blocks_.size(), &r, roots.empty() ? 0 : 1, &find, this, st));
  }
  Reach reach(size_t i) const { return blocks_[i].reach; }
  size_t count(Reach r) const {
    size_t n = 0;
    for (auto& b : blocks_) n += b.reach == r;
    return n;
  }

 private:
  static uintptr_t find(uintptr_t a, void* ctx) {
    auto* g = static_cast<Graph*>(ctx);
    uintptr_t base = g->addr(0), span = g->mem_.size() * 8;
    if (a - base >= span) return 0;
    return g->addr((a - base) / (g->words_ * 8));
  }
  size_t words_;
  std::vector<uintptr_t> mem_;
  std::vector<ScanBlock> blocks_;
};

TEST(Classify, ChainFromRootIsReachableLoneBlockIsDirect) {
  Graph g(4, 4);
  g.link(0, 1);
  g.link(1, 2, 3);
  std::vector<uintptr_t> roots = {42, g.addr(0), 7};
  g.run(roots);
  EXPECT_EQ(g.reach(0), Reach::Reachable);
  EXPECT_EQ(g.reach(1), Reach::Reachable);
  EXPECT_EQ(g.reach(2), Reach::Reachable);
  EXPECT_EQ(g.reach(3), Reach::Direct);
}

// The CUDA driver's records of the memory it handed out (blocks it allocated) keep host
// blocks alive like any root, but never make CUDA memory look held by the program.
// A block whose middle page the program made inaccessible: the words around it are read
// (the blocks they point to are reachable), the page itself never (reading it faults).
TEST(Classify, UnreadablePagesInsideABlockAreSkipped) {
  size_t page = size_t(sysconf(_SC_PAGESIZE));
  auto* mem = static_cast<uintptr_t*>(mmap(nullptr, 5 * page, PROT_READ | PROT_WRITE,
                                           MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(mem, MAP_FAILED);
  auto base = reinterpret_cast<uintptr_t>(mem);
  // Block 0: pages 0-2, its page 1 protected; blocks 1 and 2: a word each on page 4,
  // pointed to from page 0 and page 2 of block 0; block 3: pointed to from page 1 only.
  uintptr_t b1 = base + 4 * page, b2 = b1 + 64, b3 = b2 + 64;
  mem[0] = b1;
  mem[2 * page / 8 + 5] = b2;
  mem[page / 8 + 3] = b3;
  ASSERT_EQ(mprotect(reinterpret_cast<void*>(base + page), page, PROT_NONE), 0);
  ScanBlock blocks[4] = {{base, 3 * page, 0, true, Reach::Unvisited},
                         {b1, 8, 1, false, Reach::Unvisited},
                         {b2, 8, 2, false, Reach::Unvisited},
                         {b3, 8, 3, false, Reach::Unvisited}};
  struct Ctx {
    const ScanBlock* b;
  } ctx{blocks};
  auto find = [](uintptr_t a, void* c) -> uintptr_t {
    for (int i = 0; i < 4; ++i) {
      const ScanBlock& s = static_cast<Ctx*>(c)->b[i];
      if (a - s.start < s.size) return s.start;
    }
    return 0;
  };
  ScanRange bad[2] = {{base + page, base + 2 * page}, {base + 3 * page, base + 4 * page}};
  ASSERT_TRUE(classify(blocks, 4, nullptr, 0, find, &ctx, nullptr, bad, 2));
  EXPECT_EQ(blocks[0].reach, Reach::Reachable);
  EXPECT_EQ(blocks[1].reach, Reach::Reachable);
  EXPECT_EQ(blocks[2].reach, Reach::Reachable);
  EXPECT_EQ(blocks[3].reach, Reach::Direct);  // its only pointer cannot be read
  munmap(mem, 5 * page);
}

TEST(Classify, DriverRecordsDoNotHoldCudaBlocks) {
  Graph g(5, 4);
  g.set_root(0);
  g.block(0).driver = true;
  g.block(1).cuda = true;  // held by the driver's record only
  g.block(2).cuda = true;  // held by the driver's record and by the program's root memory
  g.link(0, 1, 0);
  g.link(0, 2, 1);
  g.link(0, 3, 2);         // a host block of the program's that the driver points to
  g.block(4).cuda = true;  // held by that block: the program's pointer counts
  g.link(3, 4);
  g.run({g.addr(2)});
  EXPECT_EQ(g.reach(1), Reach::Direct);
  EXPECT_EQ(g.reach(2), Reach::Reachable);
  EXPECT_EQ(g.reach(3), Reach::Reachable);
  EXPECT_EQ(g.reach(4), Reach::Reachable);
}

// A leaked container whose nodes point back into its header: the owner leads, even when a
// node lies at a lower address, and a block nobody points to leads before any cycle.
TEST(Classify, OwnerLeadsTheCycleOfItsNodes) {
  Graph g(3, 4);
  g.link(2, 0);        // owner (block 2) -> node (block 0), at its start
  g.link(0, 2, 1, 8);  // node -> inside the owner (the header's address)
  g.link(1, 0, 0);     // block 1 -> node too
  g.link(0, 1, 2);     // node -> block 1: 0, 1 and 2 are one cycle, 1 and 0 pointed at
  g.run({});
  EXPECT_EQ(g.reach(2), Reach::Direct);
  EXPECT_EQ(g.reach(0), Reach::Indirect);
  EXPECT_EQ(g.reach(1), Reach::Indirect);
}

// A lost table whose columns point at its start while it points into them (a list head
// inside each column): the block of the site seen first leads (the table, made before its
// columns), whatever the pointers and addresses; with equal sites the pointers decide.
TEST(Classify, SiteSeenFirstLeadsACycle) {
  Graph g(3, 4);
  g.link(2, 0, 0, 8);  // table (block 2) -> inside column 0
  g.link(0, 1, 1, 8);  // column 0 -> inside column 1
  g.link(1, 2, 1, 8);  // column 1 -> inside the table (the list closes)
  g.link(0, 2, 0);     // both columns -> the table's start
  g.link(1, 2, 0);
  g.block(2).first = 1;
  g.block(0).first = 2;
  g.block(1).first = 2;
  g.run({});
  EXPECT_EQ(g.reach(2), Reach::Direct);
  EXPECT_EQ(g.reach(0), Reach::Indirect);
  EXPECT_EQ(g.reach(1), Reach::Indirect);
}

TEST(Classify, LeakedChainIsOneDirectAndTheRestIndirect) {
  Graph g(4, 2);
  g.link(0, 1);
  g.link(1, 2);
  g.link(2, 3);
  g.run({});
  EXPECT_EQ(g.reach(0), Reach::Direct);
  EXPECT_EQ(g.reach(1), Reach::Indirect);
  EXPECT_EQ(g.reach(2), Reach::Indirect);
  EXPECT_EQ(g.reach(3), Reach::Indirect);
}

TEST(Classify, LeakedChainSeenTailFirstStillHasOneDirect) {
  // The owner comes last in array order: earlier clique leaders are demoted.
  Graph g(4, 2);
  g.link(3, 2);
  g.link(2, 1);
  g.link(1, 0);
  g.run({});
  EXPECT_EQ(g.reach(3), Reach::Direct);
  EXPECT_EQ(g.count(Reach::Indirect), 3u);
}

TEST(Classify, CycleIsOneDirect) {
  Graph g(5, 2);
  g.link(0, 1);
  g.link(1, 2);
  g.link(2, 0);
  g.link(3, 4);  // an unrelated reachable pair
  g.run({g.addr(3)});
  EXPECT_EQ(g.reach(0), Reach::Direct);
  EXPECT_EQ(g.reach(1), Reach::Indirect);
  EXPECT_EQ(g.reach(2), Reach::Indirect);
  EXPECT_EQ(g.reach(3), Reach::Reachable);
  EXPECT_EQ(g.reach(4), Reach::Reachable);
}

// A lost cycle that another lost cycle points into, at a block that is not the first of
// it in array order: both are one leak, with one direct block (the pointing cycle's).
TEST(Classify, CycleReachedFromAnotherCycleIsIndirect) {
  Graph g(6, 2);
  g.link(0, 1);  // cycle A: 0 -> 1 -> 2 -> 0, leads in array order
  g.link(1, 2);
  g.link(2, 0);
  g.link(3, 4);  // cycle B: 3 -> 4 -> 5 -> 3
  g.link(4, 5);
  g.link(5, 3);
  g.link(4, 2, 1);  // B -> A's third block
  g.run({});
  EXPECT_EQ(g.count(Reach::Direct), 1u);
  EXPECT_EQ(g.count(Reach::Indirect), 5u);
  EXPECT_EQ(g.reach(3), Reach::Direct);
}

// Two lost cycles sharing a lost child (a tree below them): each cycle is a leak of its own.
TEST(Classify, TwoCyclesSharingAChildAreTwoLeaks) {
  Graph g(5, 2);
  g.link(0, 1);
  g.link(1, 0);
  g.link(2, 3);
  g.link(3, 2);
  g.link(1, 4, 1);
  g.link(3, 4, 1);
  g.run({});
  EXPECT_EQ(g.count(Reach::Direct), 2u);
  EXPECT_EQ(g.reach(4), Reach::Indirect);
}

TEST(Classify, SharedChildOfTwoLeakedOwners) {
  Graph g(3, 2);
  g.link(0, 2);
  g.link(1, 2);
  g.run({});
  EXPECT_EQ(g.reach(0), Reach::Direct);
  EXPECT_EQ(g.reach(1), Reach::Direct);
  EXPECT_EQ(g.reach(2), Reach::Indirect);
}

TEST(Classify, ReachableBlockKeepsChildrenOutOfLeaks) {
  Graph g(3, 2);
  g.link(0, 1);
  g.link(2, 1);  // a leaked block pointing at a reachable one
  g.run({g.addr(0)});
  EXPECT_EQ(g.reach(1), Reach::Reachable);
  EXPECT_EQ(g.reach(2), Reach::Direct);
}

TEST(Classify, InteriorPointersCountWithinTheRequestedSize) {
  Graph g(4, 8, 40);  // 64-byte slots, 40 bytes requested
  std::vector<uintptr_t> roots = {g.addr(0, 17),   // inside
                                  g.addr(1, 39),   // last byte
                                  g.addr(2, 40),   // one past the end: slack of the slot
                                  g.addr(3, 63)};  // slack
  g.run(roots);
  EXPECT_EQ(g.reach(0), Reach::Reachable);
  EXPECT_EQ(g.reach(1), Reach::Reachable);
  EXPECT_EQ(g.reach(2), Reach::Direct);
  EXPECT_EQ(g.reach(3), Reach::Direct);
}

TEST(Classify, PointersInTheSlackOfABlockAreNotScanned) {
  Graph g(2, 8, 16);
  g.link(0, 1, 4);  // word 4 lies beyond the 16 requested bytes of block 0
  g.run({g.addr(0)});
  EXPECT_EQ(g.reach(0), Reach::Reachable);
  EXPECT_EQ(g.reach(1), Reach::Direct);
}

TEST(Classify, RootBlocksAreScannedAndNeverLeaked) {
  Graph g(4, 2);
  g.set_root(0);  // e.g. an ignored block
  g.link(0, 1);
  g.link(1, 2);
  g.run({});
  EXPECT_EQ(g.reach(0), Reach::Reachable);
  EXPECT_EQ(g.reach(1), Reach::Reachable);
  EXPECT_EQ(g.reach(2), Reach::Reachable);
  EXPECT_EQ(g.reach(3), Reach::Direct);
}

TEST(Classify, ZeroSizedBlockIsReachedByItsStartOnly) {
  Graph g(2, 2);
  g.set_size(0, 0);
  g.set_size(1, 0);
  g.run({g.addr(0), g.addr(1, 1)});
  EXPECT_EQ(g.reach(0), Reach::Reachable);
  EXPECT_EQ(g.reach(1), Reach::Direct);
}

TEST(Classify, MillionBlocks) {
  constexpr size_t kN = 1000000;
  Graph g(kN, 4);
  // Half reachable as a list from one root, the other half in leaked chains of 10.
  for (size_t i = 0; i + 2 < kN / 2; i += 2) g.link(i, i + 2, 1);
  for (size_t i = 1; i < kN; i += 2)
    if ((i / 2) % 10 != 9) g.link(i, i + 2, 2, 8);
  ClassifyStats st{};
  double t0 = thread_cpu_ns();
  g.run({g.addr(0)}, &st);
  double t1 = thread_cpu_ns();
  EXPECT_EQ(g.count(Reach::Reachable), kN / 4);
  EXPECT_EQ(g.count(Reach::Direct) + g.count(Reach::Indirect), kN - kN / 4);
  // Unlinked even blocks past the list are single leaks; each odd chain has one owner.
  EXPECT_EQ(g.count(Reach::Direct), kN / 4 + kN / 2 / 10);
  EXPECT_EQ(g.count(Reach::Indirect), kN / 2 / 10 * 9);
  std::printf("[ perf ] classification of %zu blocks: %.1f ms CPU (%llu words, %llu lookups)\n",
              kN, (t1 - t0) / 1e6,
              (unsigned long long)st.words, (unsigned long long)st.lookups);
}

}  // namespace
}  // namespace mpshim::track
