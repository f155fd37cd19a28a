// alloc/free/realloc/alloc_zeroed/alloc_aligned on one thread: contents, alignment, usable
// sizes, zeroing of reused memory and the failure contract (nullptr with ENOMEM).
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <random>
#include <unistd.h>
#include <utility>
#include <vector>

#include "cpu/size_class.h"
#include "cpu_test.h"

namespace cpu = mpshim::cpu;
using namespace cputest;

namespace {

bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// Every [start, start + usable) of `blocks` is disjoint from the others.
void expect_disjoint(std::vector<std::pair<char*, size_t>> blocks) {
  std::sort(blocks.begin(), blocks.end());
  for (size_t i = 1; i < blocks.size(); ++i)
    ASSERT_LE(blocks[i - 1].first + blocks[i - 1].second, blocks[i].first) << "blocks overlap";
}

TEST(Alloc, EveryClassRoundTrips) {
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    uint32_t size = cpu::kClasses.info[c].size;
    uint32_t prev = cpu::kClasses.info[c - 1].size;
    size_t count = std::min<size_t>(100, 4 * kMiB / size + 2);
    std::vector<std::pair<char*, size_t>> blocks;
    for (size_t i = 0; i < count; ++i) {
      size_t n = i % 2 == 0 ? size : prev + 1;
      char* p = static_cast<char*>(cpu::alloc(n));
      ASSERT_NE(p, nullptr) << "size " << n;
      EXPECT_TRUE(aligned(p, 16)) << "size " << n;
      EXPECT_EQ(cpu::usable_size(p), size) << "size " << n;
      EXPECT_TRUE(cpu::owns(p));
      fill(p, size, i + c * 1000);
      blocks.emplace_back(p, size);
    }
    expect_disjoint(blocks);
    for (size_t i = 0; i < blocks.size(); ++i) {
      EXPECT_TRUE(check(blocks[i].first, size, i + c * 1000)) << "class " << c << " block " << i;
      EXPECT_TRUE(cpu::free(blocks[i].first));
    }
  }
}

TEST(Alloc, LargeSizesRoundTrip) {
  const size_t sizes[] = {cpu::kMaxSmall + 1, 2 * kMiB, 4 * kMiB - 64, 4 * kMiB, 5 * kMiB + 3, 33 * kMiB + 1};
  std::vector<std::pair<char*, size_t>> blocks;
  for (size_t n : sizes) {
    char* p = static_cast<char*>(cpu::alloc(n));
    ASSERT_NE(p, nullptr) << n;
    EXPECT_TRUE(aligned(p, 16)) << n;
    EXPECT_GE(cpu::usable_size(p), n);
    fill_sparse(p, cpu::usable_size(p), n);
    blocks.emplace_back(p, cpu::usable_size(p));
  }
  expect_disjoint(blocks);
  for (size_t i = 0; i < blocks.size(); ++i) {
    EXPECT_TRUE(check_sparse(blocks[i].first, blocks[i].second, sizes[i])) << sizes[i];
    EXPECT_TRUE(cpu::free(blocks[i].first));
  }
}

TEST(Alloc, MixedSizesNeverOverlap) {
  std::mt19937_64 rng(42);
  struct Live { char* p; size_t n; uint64_t seed; };
  std::vector<Live> live(512, Live{nullptr, 0, 0});
  for (uint64_t step = 0; step < 20000; ++step) {
    Live& slot = live[rng() % live.size()];
    if (slot.p != nullptr) {
      ASSERT_TRUE(check(slot.p, slot.n, slot.seed)) << "step " << step;
      ASSERT_TRUE(cpu::free(slot.p));
    }
    uint64_t r = rng();
    size_t n = r % 100 < 90 ? r % 512 : r % 100 < 99 ? r % (64 * kKiB) : r % (2 * kMiB);
    slot = Live{static_cast<char*>(cpu::alloc(n)), n, step};
    ASSERT_NE(slot.p, nullptr);
    ASSERT_TRUE(aligned(slot.p, 16));
    ASSERT_GE(cpu::usable_size(slot.p), n);
    fill(slot.p, n, step);
  }
  std::vector<std::pair<char*, size_t>> blocks;
  for (Live& l : live) blocks.emplace_back(l.p, cpu::usable_size(l.p));
  expect_disjoint(blocks);
  for (Live& l : live) {
    EXPECT_TRUE(check(l.p, l.n, l.seed));
    cpu::free(l.p);
  }
}

TEST(Alloc, ZeroedMemoryIsZeroWhenReused) {
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    size_t size = cpu::kClasses.info[c].size;
    void* p = nullptr;
    void* q = nullptr;
    // The thread cache is LIFO: the dirty block comes straight back, unless a purge pass ran
    // since the cache was last emptied (the free then empties it): once more then.
    for (int attempt = 0; attempt < 2; ++attempt) {
      p = cpu::alloc(size);
      ASSERT_NE(p, nullptr);
      memset(p, 0xAB, size);
      cpu::free(p);
      q = size % 64 == 0 ? cpu::alloc_zeroed(size / 64, 64) : cpu::alloc_zeroed(1, size);
      ASSERT_NE(q, nullptr);
      if (q == p) break;
      if (attempt == 0) cpu::free(q);
    }
    EXPECT_EQ(q, p) << "class " << c;
    EXPECT_TRUE(all_zero(q, size)) << "class " << c;
    cpu::free(q);
  }
}

TEST(Alloc, ZeroedLargeBlockFromTheCacheIsZero) {
  const size_t n = 8 * kMiB;
  void* p = cpu::alloc(n);
  ASSERT_NE(p, nullptr);
  memset(p, 0xCD, cpu::usable_size(p));
  cpu::free(p);
  uint64_t hits = stats().large_cache_hits;
  void* q = cpu::alloc_zeroed(n / 16, 16);
  ASSERT_NE(q, nullptr);
  EXPECT_GT(stats().large_cache_hits, hits) << "the freed mapping was not reused";
  EXPECT_TRUE(all_zero(q, n));
  cpu::free(q);

  // A smaller cached mapping grown for a bigger request keeps its dirty head: zeroed too.
  // (The cache emptied first: other tests leave mappings of every size in it.)
  cpu::trim();
  void* small = cpu::alloc(2 * kMiB);
  ASSERT_NE(small, nullptr);
  memset(small, 0xEF, cpu::usable_size(small));
  cpu::free(small);
  // Bigger than the mapping cached: it grows.
  void* big = cpu::alloc_zeroed(1, 24 * kMiB);
  ASSERT_NE(big, nullptr);
  // Its fresh tail is not written: its pages stay out of memory until the program writes.
  long page = sysconf(_SC_PAGESIZE);
  auto tail = (reinterpret_cast<uintptr_t>(big) + 16 * kMiB + uintptr_t(page) - 1) & ~uintptr_t(page - 1);
  unsigned char in_core[256];
  ASSERT_EQ(mincore(reinterpret_cast<void*>(tail), 256 * size_t(page), in_core), 0);
  size_t resident = 0;
  for (unsigned char c : in_core) resident += c & 1;
  EXPECT_EQ(resident, 0u) << "the grown tail was cleared byte by byte";
  EXPECT_TRUE(all_zero(big, 24 * kMiB));
  cpu::free(big);
}

TEST(Realloc, KeepsContentsAcrossClassesAndLargeBlocks) {
  const size_t steps[] = {1, 17, 100, 1000, 5000, 70000, cpu::kMaxSmall, cpu::kMaxSmall + 1, 3 * kMiB,
                          20 * kMiB, 5 * kMiB, 3 * kMiB / 2, cpu::kMaxSmall, 100000, 1000, 10, 1};
  size_t cur = steps[0];
  char* p = static_cast<char*>(cpu::alloc(cur));
  ASSERT_NE(p, nullptr);
  fill(p, cur, 0);
  for (size_t i = 1; i < std::size(steps); ++i) {
    size_t n = steps[i];
    char* q = static_cast<char*>(cpu::realloc(p, n));
    ASSERT_NE(q, nullptr) << cur << " -> " << n;
    EXPECT_TRUE(aligned(q, 16));
    EXPECT_GE(cpu::usable_size(q), n) << cur << " -> " << n;
    EXPECT_TRUE(check(q, std::min(cur, n), i - 1)) << cur << " -> " << n;
    fill(q, n, i);
    p = q;
    cur = n;
  }
  cpu::free(p);
}

TEST(Realloc, ShrinkingASmallBlockKeepsItWhenMostlyUsed) {
  char* p = static_cast<char*>(cpu::alloc(1000));
  fill(p, 1000, 7);
  char* q = static_cast<char*>(cpu::realloc(p, 900));
  EXPECT_EQ(q, p);
  EXPECT_TRUE(check(q, 900, 7));
  char* r = static_cast<char*>(cpu::realloc(q, 100));  // far smaller: moves to a fitting class
  ASSERT_NE(r, nullptr);
  EXPECT_LT(cpu::usable_size(r), 1000u);
  EXPECT_TRUE(check(r, 100, 7));
  cpu::free(r);
}

// A buffer growing by an eighth at a time, as Python's lists do: with the pages after its
// span free (the heap was just trimmed), most class changes keep the address.
TEST(Realloc, BigBlocksGrowInPlaceWhenThePagesAfterThemAreFree) {
  cpu::trim();
  cpu::Stats s0 = stats();
  size_t cur = 24 * kKiB;
  char* p = static_cast<char*>(cpu::alloc(cur));
  ASSERT_NE(p, nullptr);
  fill(p, cur, 0);
  unsigned class_changes = 0, moves = 0;
  for (uint64_t seed = 1; cur + cur / 8 <= cpu::kMaxSmall; ++seed) {
    size_t n = cur + cur / 8, before = cpu::usable_size(p);
    char* q = static_cast<char*>(cpu::realloc(p, n));
    ASSERT_NE(q, nullptr) << cur << " -> " << n;
    EXPECT_GE(cpu::usable_size(q), n);
    EXPECT_TRUE(check(q, cur, seed - 1)) << cur << " -> " << n;
    EXPECT_EQ(stats().allocated - s0.allocated, int64_t(cpu::usable_size(q))) << cur << " -> " << n;
    fill(q, n, seed);
    if (n > before) {
      ++class_changes;
      moves += q != p;
    }
    p = q;
    cur = n;
  }
  EXPECT_LT(moves, class_changes / 2) << "of " << class_changes << " class changes";
  cpu::free(p);
  EXPECT_EQ(stats().allocated, s0.allocated);
}

// Growth in place that takes pages (40 KiB in 5 pages to 640 KiB in 10) or keeps more than
// the new class needs (384 KiB in 12 pages to 448 KiB, whose spans have 8) leaves the page
// heap whole: once everything is freed and trimmed, the segments go back to the OS.
TEST(Realloc, GrowingInPlaceLosesNoPages) {
  cpu::trim();
  size_t reserved = stats().reserved;
  for (auto [from, to] : {std::pair<size_t, size_t>{40 * kKiB, 600 * kKiB}, {330 * kKiB, 400 * kKiB}}) {
    char* p = static_cast<char*>(cpu::alloc(from));
    ASSERT_NE(p, nullptr);
    fill(p, from, 1);
    char* q = static_cast<char*>(cpu::realloc(p, to));
    ASSERT_NE(q, nullptr);
    EXPECT_TRUE(check(q, from, 1)) << from << " -> " << to;
    fill(q, to, 2);
    // Blocks of the new class around it are usable and distinct.
    void* other = cpu::alloc(to);
    ASSERT_NE(other, nullptr);
    memset(other, 0xee, to);
    EXPECT_TRUE(check(q, to, 2)) << from << " -> " << to;
    cpu::free(other);
    cpu::free(q);
  }
  cpu::trim();
  EXPECT_LE(stats().reserved, reserved) << "pages of a grown span stayed in use";
}

TEST(AlignedAlloc, SmallAndLargeAlignments) {
  const size_t sizes[] = {0, 1, 15, 16, 100, 4095, 4096, 65537, 1000000, cpu::kMaxSmall, 2 * kMiB};
  for (size_t align = 32; align <= 8 * kMiB; align *= 2) {
    std::vector<std::pair<char*, size_t>> blocks;
    for (size_t n : sizes) {
      if (align > 64 * kKiB && n > 4096 && n < 2 * kMiB) continue;  // keep the large path quick
      if (align >= cpu::kChunkSize && n == 0) continue;  // ZeroSizeAtChunkAlignment
      char* p = static_cast<char*>(cpu::alloc_aligned(align, n));
      ASSERT_NE(p, nullptr) << "align " << align << " size " << n;
      EXPECT_TRUE(aligned(p, align)) << "align " << align << " size " << n;
      EXPECT_GE(cpu::usable_size(p), n) << "align " << align << " size " << n;
      EXPECT_TRUE(cpu::owns(p));
      fill(p, n, n + align);
      blocks.emplace_back(p, cpu::usable_size(p));
    }
    expect_disjoint(blocks);
    for (auto& [p, usable] : blocks) {
      (void)usable;
      EXPECT_TRUE(cpu::free(p));
    }
  }
}

TEST(AlignedAlloc, SmallAlignmentsUseTheSizeClasses) {
  for (size_t align = 32; align <= 64 * kKiB; align *= 2) {
    void* p = cpu::alloc_aligned(align, align / 2);
    ASSERT_NE(p, nullptr);
    EXPECT_LE(cpu::usable_size(p), cpu::kMaxSmall) << align;
    EXPECT_TRUE(aligned(p, align));
    cpu::free(p);
  }
}

// Size 0 at an alignment of 4 MiB or more: the block must still lie inside its mapping.
// Runs in a child process because the failure mode is a crash.
TEST(AlignedAlloc, ZeroSizeAtChunkAlignment) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  for (size_t align = cpu::kChunkSize; align <= 16 * kMiB; align *= 2) {
    EXPECT_EXIT(
        {
          cpu::trim();  // no cached mapping to reuse: a fresh one of exactly the offset
          void* p = cpu::alloc_aligned(align, 0);
          bool ok = p != nullptr && reinterpret_cast<uintptr_t>(p) % align == 0 && cpu::owns(p) &&
                    cpu::free(p);
          _exit(ok ? 0 : 1);
        },
        testing::ExitedWithCode(0), "")
        << "align " << align;
  }
}

// A cached large mapping grown to serve an over-aligned request must end up aligned too.
TEST(AlignedAlloc, GrownCachedMappingKeepsTheAlignment) {
  const size_t align = 8 * kMiB;
  for (int round = 0; round < 16; ++round) {
    cpu::trim();  // empty the large cache
    // A foreign mapping of a different size each round shifts where new mappings land.
    size_t spacer_size = size_t(round % 8 + 1) * kMiB;
    void* spacer = mmap(nullptr, spacer_size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    std::vector<void*> small;
    for (int i = 0; i < 6; ++i) small.push_back(cpu::alloc(2 * kMiB));
    for (void* p : small) cpu::free(p);  // now cached; some start on an 8 MiB boundary
    void* p = cpu::alloc_aligned(align, 6 * kMiB);
    ASSERT_NE(p, nullptr);
    EXPECT_TRUE(aligned(p, align)) << "round " << round << ": " << p;
    fill_sparse(p, 6 * kMiB, round);
    EXPECT_TRUE(check_sparse(p, 6 * kMiB, round));
    cpu::free(p);
    munmap(spacer, spacer_size);
  }
}

TEST(Alloc, ImpossibleSizesFailWithEnomem) {
  const size_t huge[] = {SIZE_MAX, SIZE_MAX - 4096, size_t(1) << 47, size_t(1) << 62};
  for (size_t n : huge) {
    errno = 0;
    EXPECT_EQ(cpu::alloc(n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
    errno = 0;
    EXPECT_EQ(cpu::alloc_aligned(64, n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
    errno = 0;
    EXPECT_EQ(cpu::alloc_aligned(1 << 20, n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
    errno = 0;
    EXPECT_EQ(cpu::alloc_zeroed(1, n), nullptr) << n;
    EXPECT_EQ(errno, ENOMEM) << n;
  }
  // n * size overflows.
  errno = 0;
  EXPECT_EQ(cpu::alloc_zeroed(SIZE_MAX / 2 + 1, 2), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(cpu::alloc_zeroed(size_t(1) << 32, size_t(1) << 32), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(Realloc, ImpossibleSizeFailsAndKeepsTheBlock) {
  for (size_t start : {size_t(100), 3 * kMiB}) {
    for (size_t n : {SIZE_MAX, SIZE_MAX - 100000, size_t(1) << 47}) {
      char* p = static_cast<char*>(cpu::alloc(start));
      ASSERT_NE(p, nullptr);
      size_t usable = cpu::usable_size(p);
      fill(p, start, start);
      errno = 0;
      EXPECT_EQ(cpu::realloc(p, n), nullptr) << start << " -> " << n;
      EXPECT_EQ(errno, ENOMEM) << start << " -> " << n;
      // A shrunken block would fault below: check the contents only when it is whole.
      ASSERT_EQ(cpu::usable_size(p), usable) << start << " -> " << n;
      EXPECT_TRUE(check(p, start, start)) << start << " -> " << n;
      cpu::free(p);
    }
  }
}

}  // namespace
