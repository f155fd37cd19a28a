// Stack deduplication: same stack same id, distinct stacks distinct ids, concurrent
// inserts of the same stacks agree, a million distinct stacks, and the cost per operation.
#include "track/stack_table.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "perf_clock.h"

namespace mpshim::track {
namespace {

struct Unmap {
  void operator()(StackTable* t) const {
    t->unmap_all();
    delete t;
  }
};
using TablePtr = std::unique_ptr<StackTable, Unmap>;
TablePtr make_table() { return TablePtr(new StackTable); }

// A deterministic stack of `depth` frames for number `i` (frames look like code addresses).
std::vector<uintptr_t> make_stack(uint64_t i, size_t depth) {
  std::vector<uintptr_t> s(depth);
  for (size_t k = 0; k < depth; ++k) s[k] = 0x400000 + ((i * 2654435761u + k * 977) % 0x100000);
  s[0] = 0x500000 + i;  // makes every i distinct
  return s;
}

TEST(StackTable, SameStackSameIdAndFramesRoundTrip) {
  auto t = make_table();
  auto a = make_stack(1, 16), b = make_stack(2, 16);
  uint32_t ia = t->intern(a.data(), a.size());
  uint32_t ib = t->intern(b.data(), b.size());
  EXPECT_NE(ia, 0u);
  EXPECT_NE(ib, 0u);
  EXPECT_NE(ia, ib);
  EXPECT_EQ(t->intern(a.data(), a.size()), ia);
  EXPECT_EQ(t->count(), 2u);
  const uintptr_t* pcs;
  ASSERT_EQ(t->frames(ib, &pcs), 16u);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), pcs));
}

TEST(StackTable, EmptyStackIsIdZero) {
  auto t = make_table();
  EXPECT_EQ(t->intern(nullptr, 0), 0u);
  const uintptr_t* pcs;
  EXPECT_EQ(t->frames(0, &pcs), 0u);
}

TEST(StackTable, PrefixesAndLengthsAreDistinct) {
  auto t = make_table();
  auto s = make_stack(7, 16);
  std::vector<uint32_t> ids;
  for (size_t n = 1; n <= 16; ++n) ids.push_back(t->intern(s.data(), n));
  for (size_t i = 0; i < ids.size(); ++i)
    for (size_t j = i + 1; j < ids.size(); ++j) EXPECT_NE(ids[i], ids[j]);
  for (size_t n = 1; n <= 16; ++n) EXPECT_EQ(t->intern(s.data(), n), ids[n - 1]);
}

TEST(StackTable, MillionDistinctStacks) {
  auto t = make_table();
  constexpr uint64_t kN = 1000000;
  std::vector<uint32_t> ids(kN);
  double t0 = thread_cpu_ns();
  for (uint64_t i = 0; i < kN; ++i) {
    auto s = make_stack(i, 8);
    ids[i] = t->intern(s.data(), s.size());
    ASSERT_NE(ids[i], 0u);
  }
  double t1 = thread_cpu_ns();
  EXPECT_EQ(t->count(), kN);
  EXPECT_EQ(t->id_limit(), kN + 1);  // dense: 1..kN
  for (uint64_t i = 0; i < kN; i += 7) {
    auto s = make_stack(i, 8);
    ASSERT_EQ(t->intern(s.data(), s.size()), ids[i]);
    const uintptr_t* pcs;
    ASSERT_EQ(t->frames(ids[i], &pcs), 8u);
    ASSERT_EQ(pcs[0], s[0]);
  }
  std::printf("[ perf ] 1M distinct 8-frame stacks inserted: %.1f ns/insert (CPU)\n",
              (t1 - t0) / kN);
}

// The tables a newer one copied keep only their first page (the header) and their last
// (partly past the slots): the rest went back to the OS. Their mappings are told by their
// size, the only ones that are no multiple of a page.
TEST(StackTable, CopiedTablesGiveTheirPagesBack) {
  auto t = make_table();
  for (uint64_t i = 0; i < 100000; ++i) {  // fills tables of 2^14 to 2^17 slots
    auto s = make_stack(i, 4);
    ASSERT_NE(t->intern(s.data(), s.size()), 0u);
  }
  struct Range {
    uintptr_t lo, hi;
  };
  std::vector<Range> tables;
  t->for_each_mapping([](uintptr_t lo, uintptr_t hi, void* ctx) {
    if ((hi - lo) % 4096 != 0) static_cast<std::vector<Range>*>(ctx)->push_back({lo, hi});
  }, &tables);
  ASSERT_GE(tables.size(), 4u);
  std::sort(tables.begin(), tables.end(), [](Range a, Range b) { return a.hi - a.lo < b.hi - b.lo; });
  const long page = sysconf(_SC_PAGESIZE);
  for (size_t k = 0; k + 1 < tables.size(); ++k) {
    size_t pages = (tables[k].hi - tables[k].lo + page - 1) / page;
    std::vector<unsigned char> in(pages);
    ASSERT_EQ(mincore(reinterpret_cast<void*>(tables[k].lo), pages * page, in.data()), 0);
    size_t resident = 0;
    for (unsigned char c : in) resident += c & 1;
    EXPECT_LE(resident, 2u) << "table " << k << " of " << pages << " pages";
  }
  for (uint64_t i = 0; i < 100000; i += 97) {  // all still found, under their ids
    auto s = make_stack(i, 4);
    EXPECT_EQ(t->intern(s.data(), s.size()), uint32_t(i + 1));
  }
}

TEST(StackTable, ConcurrentInsertsOfTheSameStacksAgree) {
  auto t = make_table();
  constexpr int kThreads = 8;
  constexpr uint64_t kStacks = 200000;  // enough to close several tables while racing
  std::vector<std::vector<uint32_t>> got(kThreads, std::vector<uint32_t>(kStacks));
  std::vector<std::thread> threads;
  for (int th = 0; th < kThreads; ++th)
    threads.emplace_back([&, th] {
      // Each thread walks the same stacks from a different starting point.
      for (uint64_t k = 0; k < kStacks; ++k) {
        uint64_t i = (k + uint64_t(th) * 7919) % kStacks;
        auto s = make_stack(i, 12);
        got[th][i] = t->intern(s.data(), s.size());
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(t->count(), kStacks);
  // Ids reserved by a losing racer are skipped; how many depends on scheduling (8 threads
  // on 2 cores lose 5-40%), so the bound only catches a runaway.
  EXPECT_LT(t->id_limit(), kStacks + 1 + kStacks / 2);
  for (uint64_t i = 0; i < kStacks; ++i)
    for (int th = 1; th < kThreads; ++th) ASSERT_EQ(got[th][i], got[0][i]) << "stack " << i;
}

TEST(StackTable, CostPerLookupAndInsert) {
  auto t = make_table();
  constexpr int kDistinct = 1000, kLookups = 2000000;
  std::vector<std::vector<uintptr_t>> stacks;
  for (int i = 0; i < kDistinct; ++i) stacks.push_back(make_stack(uint64_t(i) + 1, 16));
  double t0 = thread_cpu_ns();
  for (auto& s : stacks) t->intern(s.data(), s.size());
  double t1 = thread_cpu_ns();
  uint64_t sum = 0;
  for (int i = 0; i < kLookups; ++i) {
    auto& s = stacks[size_t(i) % kDistinct];
    sum += t->intern(s.data(), s.size());
  }
  double t2 = thread_cpu_ns();
  EXPECT_NE(sum, 0u);
  std::printf("[ perf ] 16-frame stack: insert %.1f ns, lookup of a known stack %.1f ns (CPU)\n",
              (t1 - t0) / kDistinct,
              (t2 - t1) / kLookups);
}

}  // namespace
}  // namespace mpshim::track
