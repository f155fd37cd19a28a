// Block metadata the tracker relies on: owns(), find_block(), tag_of(), for_each_tagged()
// and for_each_heap_range().
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "cpu/central.h"
#include "cpu/segment.h"
#include "cpu/state.h"
#include "cpu/size_class.h"
#include "cpu_test.h"
#include "../own_process.h"

namespace cpu = mpshim::cpu;
using namespace cputest;

namespace {

int g_static_var;

TEST(Owns, ForeignPointersAreNotOurs) {
  int local = 0;
  void* glibc_small = std::malloc(100);
  void* glibc_large = std::malloc(kMiB);  // above glibc's mmap threshold: its own mapping
  EXPECT_FALSE(cpu::owns(nullptr));
  EXPECT_FALSE(cpu::owns(&local));
  EXPECT_FALSE(cpu::owns(&g_static_var));
  EXPECT_FALSE(cpu::owns(reinterpret_cast<void*>(&std::malloc)));
  EXPECT_FALSE(cpu::owns(glibc_small));
  EXPECT_FALSE(cpu::owns(glibc_large));
  EXPECT_FALSE(cpu::owns(reinterpret_cast<void*>(uintptr_t(0xffff800000001000))));
  EXPECT_FALSE(cpu::free(&local));
  EXPECT_FALSE(cpu::free(glibc_small));
  EXPECT_EQ(cpu::usable_size(&local), 0u);
  EXPECT_EQ(cpu::usable_size(glibc_small), 0u);
  std::free(glibc_small);
  std::free(glibc_large);

  void* small = cpu::alloc(100);
  void* large = cpu::alloc(5 * kMiB);
  EXPECT_TRUE(cpu::owns(small));
  EXPECT_TRUE(cpu::owns(large));
  EXPECT_TRUE(cpu::owns(static_cast<char*>(large) + 5 * kMiB - 1));
  cpu::free(small);
  cpu::free(large);
}

// free() takes only block starts: interior addresses, headers and freed large blocks are
// refused without being touched.
TEST(Owns, FreeRefusesWhatIsNotALiveBlock) {
  char* big = static_cast<char*>(cpu::alloc(6 * kMiB));
  ASSERT_NE(big, nullptr);
  fill(big, 4096, 9);
  EXPECT_FALSE(cpu::free(big + 4096));
  EXPECT_FALSE(cpu::free(big - 64));  // the header
  EXPECT_TRUE(check(big, 4096, 9));
  EXPECT_TRUE(cpu::free(big));
  EXPECT_FALSE(cpu::free(big)) << "a freed large block was freed again";
  EXPECT_EQ(cpu::usable_size(big), 0u);
  char* small = static_cast<char*>(cpu::alloc(100));
  char* segment = reinterpret_cast<char*>(reinterpret_cast<uintptr_t>(small) & ~(cpu::kChunkSize - 1));
  EXPECT_FALSE(cpu::free(segment)) << "the segment header is not a block";
  EXPECT_TRUE(cpu::free(small));
}

// A large mapping ends inside its last 4 MiB chunk; the kernel may place other mappings in
// the rest of that chunk, and those are not ours.
TEST(Owns, MappingsBesideALargeBlockAreNotOurs) {
  std::vector<void*> blocks, maps;
  for (int i = 0; i < 8; ++i) blocks.push_back(cpu::alloc(cpu::kChunkSize + 1));
  int wrong = 0;
  for (int i = 0; i < 256; ++i) {
    void* m = mmap(nullptr, 256 * kKiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT_NE(m, MAP_FAILED);
    maps.push_back(m);
    if (cpu::owns(m)) {
      ++wrong;
      void* start;
      size_t usable;
      uint64_t* tag;
      EXPECT_EQ(cpu::usable_size(m), 0u) << m << " is not a block of ours";
      EXPECT_FALSE(cpu::find_block(m, &start, &usable, &tag)) << m << " is not in a block of ours";
    }
  }
  EXPECT_EQ(wrong, 0) << "foreign mappings reported as ours";
  for (void* m : maps) munmap(m, 256 * kKiB);
  for (void* b : blocks) cpu::free(b);
}

TEST(FindBlock, InteriorAddressesFindTheirBlock) {
  for (unsigned c = 1; c < cpu::kNumClasses; c += 3) {
    size_t size = cpu::kClasses.info[c].size;
    char* p = static_cast<char*>(cpu::alloc(size));
    ASSERT_NE(p, nullptr);
    for (size_t off : {size_t(0), size_t(1), size / 2, size - 1}) {
      void* start = nullptr;
      size_t usable = 0;
      uint64_t* tag = nullptr;
      ASSERT_TRUE(cpu::find_block(p + off, &start, &usable, &tag)) << "class " << c << " offset " << off;
      EXPECT_EQ(start, p);
      EXPECT_EQ(usable, size);
      EXPECT_EQ(tag, cpu::tag_of(p));
    }
    EXPECT_NE(cpu::tag_of(p), nullptr);
    EXPECT_EQ(cpu::tag_of(p + 1), nullptr);
    EXPECT_EQ(cpu::tag_of(p + size / 2), nullptr);
    cpu::free(p);
  }
  char* big = static_cast<char*>(cpu::alloc(9 * kMiB));
  ASSERT_NE(big, nullptr);
  size_t big_usable = cpu::usable_size(big);
  for (size_t off : {size_t(0), size_t(4096), 5 * kMiB, big_usable - 1}) {
    void* start = nullptr;
    size_t usable = 0;
    uint64_t* tag = nullptr;
    ASSERT_TRUE(cpu::find_block(big + off, &start, &usable, &tag)) << "offset " << off;
    EXPECT_EQ(start, big);
    EXPECT_EQ(usable, big_usable);
    EXPECT_EQ(tag, cpu::tag_of(big));
  }
  void* start;
  size_t usable;
  uint64_t* tag;
  EXPECT_FALSE(cpu::find_block(big - 1, &start, &usable, &tag));  // the block's header
  EXPECT_EQ(cpu::tag_of(big + 16), nullptr);
  EXPECT_EQ(cpu::tag_of(nullptr), nullptr);
  int local;
  EXPECT_EQ(cpu::tag_of(&local), nullptr);
  EXPECT_FALSE(cpu::find_block(&local, &start, &usable, &tag));
  cpu::free(big);
}

// Every block of a span has a tag of its own, found from its start; the bytes past the
// span's last block (the end of its last page) start no block.
TEST(Tags, EachBlockOfASpanHasItsOwnTag) {
  for (unsigned c : {1u, 7u, 13u, 22u, 31u, 40u, 52u}) {
    const cpu::ClassInfo& ci = cpu::kClasses.info[c];
    std::vector<char*> blocks;
    cpu::Span* span = nullptr;
    // Allocate until one span's blocks are all handed out.
    for (int i = 0; i < 4 * int(ci.objects) + 64 && span == nullptr; ++i) {
      blocks.push_back(static_cast<char*>(cpu::alloc(ci.size)));
      cpu::Span* sp = cpu::span_of(blocks.back());
      if (sp != nullptr && sp->used == ci.objects && sp->free == nullptr && sp->bump == sp->end) span = sp;
    }
    ASSERT_NE(span, nullptr) << "class " << c;
    std::map<uint64_t*, size_t> seen;
    for (size_t i = 0; i < ci.objects; ++i) {
      char* p = span->start() + i * ci.size;
      uint64_t* t = cpu::tag_of(p);
      ASSERT_NE(t, nullptr) << "class " << c << " block " << i;
      EXPECT_TRUE(seen.emplace(t, i).second) << "class " << c << " blocks share a tag";
      if (ci.size > 16) {
        EXPECT_EQ(cpu::tag_of(p + 16), nullptr);
      }
    }
    char* span_end = span->start() + (size_t(span->pages) << cpu::kPageShift);
    for (char* p = span->end; p + 16 <= span_end; p += 16)
      EXPECT_EQ(cpu::tag_of(p), nullptr) << "class " << c << ": " << (p - span->end) << " bytes past the last block";
    for (char* b : blocks) cpu::free(b);
  }
}

TEST(Tags, ForEachTaggedVisitsExactlyTheTaggedBlocks) {
  ASSERT_TRUE(cpu::tags_enabled()) << "setup.cc enables them before main()";
  std::vector<void*> blocks;
  for (int i = 0; i < 3000; ++i) blocks.push_back(cpu::alloc(size_t(i * 37) % 5000));
  for (size_t n : {2 * kMiB, 5 * kMiB, 17 * kMiB}) {
    void* p = cpu::alloc(n);
    EXPECT_EQ(*cpu::tag_of(p), 0u) << "a new large block starts untagged";
    blocks.push_back(p);
  }
  std::map<void*, uint64_t> tagged;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (i % 7 != 0 && i + 2 < blocks.size()) continue;
    uint64_t* t = cpu::tag_of(blocks[i]);
    ASSERT_NE(t, nullptr);
    *t = 0x7a6000000000 + i;
    tagged[blocks[i]] = *t;
  }
  std::map<void*, std::pair<size_t, uint64_t>> seen;
  cpu::for_each_tagged(
      [](void* start, size_t usable, uint64_t* tag, void* ctx) {
        auto& m = *static_cast<std::map<void*, std::pair<size_t, uint64_t>>*>(ctx);
        EXPECT_EQ(m.count(start), 0u) << "visited twice";
        m[start] = {usable, *tag};
      },
      &seen);
  EXPECT_EQ(seen.size(), tagged.size());
  for (auto& [p, t] : tagged) {
    auto it = seen.find(p);
    ASSERT_NE(it, seen.end()) << "tagged block " << p << " not visited";
    EXPECT_EQ(it->second.first, cpu::usable_size(p));
    EXPECT_EQ(it->second.second, t);
  }
  // Tags belong to the tracker: clear them before the blocks go back.
  for (auto& [p, t] : tagged) *cpu::tag_of(p) = 0;
  for (void* p : blocks) cpu::free(p);
}

// A span that realloc grows in place into a bigger class gets a tag array for that class:
// the grown block keeps its tag, and every block of the span has a tag of its own.
void grown_span_tags() {
  cpu::flush_thread_cache();
  cpu::trim();
  void* p = cpu::alloc(16 * kKiB);
  ASSERT_NE(p, nullptr);
  *cpu::tag_of(p) = 0x1234;
  void* q = cpu::realloc(p, 20 * kKiB);
  ASSERT_EQ(q, p) << "the block did not grow in place";
  ASSERT_EQ(cpu::usable_size(q), 20 * kKiB);
  EXPECT_EQ(*cpu::tag_of(q), 0x1234u);
  std::vector<void*> others;
  std::map<uint64_t*, void*> tags{{cpu::tag_of(q), q}};
  for (int i = 0; i < 64; ++i) {
    void* b = cpu::alloc(20 * kKiB);
    ASSERT_NE(b, nullptr);
    others.push_back(b);
    uint64_t* t = cpu::tag_of(b);
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(*t, 0u);
    EXPECT_TRUE(tags.emplace(t, b).second) << "two blocks share a tag";
    *t = uint64_t(i + 1);
  }
  EXPECT_EQ(*cpu::tag_of(q), 0x1234u);
  for (size_t i = 0; i < others.size(); ++i) EXPECT_EQ(*cpu::tag_of(others[i]), i + 1);
  for (void* b : others) {
    *cpu::tag_of(b) = 0;
    cpu::free(b);
  }
  *cpu::tag_of(q) = 0;
  cpu::free(q);
}

// In a process of its own (own_process.h), where this thread's cache, the transfer caches
// and the page heap hold nothing of earlier tests: the block is then alone at the start of
// a fresh span with free pages after it, and grows in place.
TEST(Tags, FollowASpanGrownInPlace) { MPSHIM_IN_OWN_PROCESS(grown_span_tags()); }

TEST(HeapRanges, CoverEveryBlock) {
  std::vector<std::pair<char*, size_t>> blocks;
  for (int i = 0; i < 2000; ++i) {
    size_t n = i % 100 == 99 ? 3 * kMiB + size_t(i) : size_t(i * 53) % 70000;
    char* p = static_cast<char*>(cpu::alloc(n));
    blocks.emplace_back(p, cpu::usable_size(p));
  }
  std::vector<std::pair<uintptr_t, uintptr_t>> ranges;
  cpu::for_each_heap_range(
      [](uintptr_t lo, uintptr_t hi, void* ctx) {
        EXPECT_LT(lo, hi);
        static_cast<std::vector<std::pair<uintptr_t, uintptr_t>>*>(ctx)->emplace_back(lo, hi);
      },
      &ranges);
  for (auto& [p, n] : blocks) {
    uintptr_t a = reinterpret_cast<uintptr_t>(p);
    bool covered = false;
    for (auto& [lo, hi] : ranges) covered = covered || (lo <= a && a + n <= hi);
    EXPECT_TRUE(covered) << "block " << static_cast<void*>(p) << " of " << n << " bytes";
  }
  for (auto& [p, n] : blocks) cpu::free(p);
}

// True when one range of for_each_heap_range() holds all of [lo, hi).
bool heap_ranges_cover(uintptr_t lo, uintptr_t hi) {
  struct Probe {
    uintptr_t lo, hi;
    bool covered;
  } probe{lo, hi, false};
  cpu::for_each_heap_range(
      [](uintptr_t l, uintptr_t h, void* ctx) {
        auto* p = static_cast<Probe*>(ctx);
        p->covered = p->covered || (l <= p->lo && p->hi <= h);
      },
      &probe);
  return probe.covered;
}

TEST(HeapRanges, CoverTheCentralPools) {
  // Their transfer caches keep the heads of batches handed out since: no root for the scan.
  uintptr_t lo = reinterpret_cast<uintptr_t>(&cpu::g_central[0]);
  EXPECT_TRUE(heap_ranges_cover(lo, lo + sizeof cpu::g_central));
}

}  // namespace
