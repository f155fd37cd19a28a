// The shared pools: central free lists and the page heap giving memory back, the large
// block cache, and the statistics kept along the way.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>
#include <vector>

#include "cpu/size_class.h"
#include "cpu_test.h"

namespace cpu = mpshim::cpu;
using namespace cputest;

namespace {

size_t task_count() {
  auto it = std::filesystem::directory_iterator("/proc/self/task");
  return size_t(std::distance(begin(it), end(it)));
}

TEST(PageHeap, TrimReturnsFreedSegments) {
  cpu::trim();
  cpu::Stats s0 = stats();
  const size_t n = 256, count = 4 * cpu::kChunkSize / n;  // four segments' worth
  std::vector<void*> blocks;
  for (size_t i = 0; i < count; ++i) {
    void* p = cpu::alloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, int(i), n);
    blocks.push_back(p);
  }
  cpu::Stats s1 = stats();
  EXPECT_GE(s1.reserved, s0.reserved + 3 * cpu::kChunkSize);
  EXPECT_GE(s1.peak_reserved, s1.reserved);
  for (void* p : blocks) cpu::free(p);
  EXPECT_TRUE(cpu::trim());
  cpu::Stats s2 = stats();
  EXPECT_LE(s2.reserved, s0.reserved + cpu::kChunkSize) << "freed segments stay mapped";
  EXPECT_GE(s2.purged - s0.purged, 3 * cpu::kChunkSize) << "dirty pages were not purged";
  EXPECT_FALSE(cpu::trim()) << "nothing left to give back";
}

// Without trim(), memory goes back once it has been free for the delay, on a later slow path
// of the allocator, also when the program only frees into its cache then; no thread starts.
TEST(PageHeap, FreedMemoryGoesBackAfterTheDelay) {
  cpu::trim();
  cpu::Stats s0 = stats();
  std::vector<void*> blocks;
  for (size_t i = 0; i < 16 * kMiB / 1024; ++i) {
    void* p = cpu::alloc(1024);
    ASSERT_NE(p, nullptr);
    memset(p, 1, 1024);
    blocks.push_back(p);
  }
  for (size_t i = 0; i < 20; ++i) {
    void* p = cpu::alloc(3 * kMiB);
    memset(p, 1, 3 * kMiB);
    blocks.push_back(p);
  }
  EXPECT_GE(stats().reserved, s0.reserved + 64 * kMiB);
  for (void* p : blocks) cpu::free(p);
  cpu::flush_thread_cache();
  size_t threads = task_count();
  cpu::Stats s1;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    for (int i = 0; i < 256; ++i) cpu::free(cpu::alloc(64));  // the thread cache only
    s1 = stats();
  } while (s1.reserved > s0.reserved + 4 * kMiB && std::chrono::steady_clock::now() < deadline);
  EXPECT_LE(s1.reserved, s0.reserved + 4 * kMiB) << "free memory still mapped after 5 s";
  EXPECT_GE(s1.purged - s0.purged, 32 * kMiB);
  EXPECT_EQ(task_count(), threads);
}

TEST(LargeBlocks, LoopOfBigBlocksReusesTheCache) {
  cpu::trim();
  cpu::Stats s0 = stats();
  const int rounds = 200;
  size_t most_reserved = 0;
  for (int i = 0; i < rounds; ++i) {
    size_t n = (5 + size_t(i * 7919) % 21) * kMiB;
    char* p = static_cast<char*>(cpu::alloc(n));
    ASSERT_NE(p, nullptr);
    for (size_t off = 0; off < n; off += 64 * kKiB) p[off] = char(i);
    p[n - 1] = char(i);
    cpu::free(p);
    most_reserved = std::max<size_t>(most_reserved, stats().reserved);
  }
  cpu::Stats s1 = stats();
  EXPECT_EQ(s1.large_mallocs - s0.large_mallocs, uint64_t(rounds));
  EXPECT_GE(s1.large_cache_hits - s0.large_cache_hits, uint64_t(rounds * 3 / 4));
  EXPECT_EQ(s1.class_count[cpu::kStatClasses - 1] - s0.class_count[cpu::kStatClasses - 1], uint64_t(rounds));
  EXPECT_LE(most_reserved, s0.reserved + 128 * kMiB);
  cpu::trim();
  EXPECT_LE(stats().reserved, s0.reserved) << "the cache was not emptied";
}

// A freed large block stays mapped for a later large request; when the small blocks grow
// instead, a new segment takes its place rather than adding to it (tesseract kept two such
// blocks resident through the rest of its run).
TEST(LargeBlocks, HeapGrowthReleasesCachedBlocks) {
  cpu::trim();
  char* big = static_cast<char*>(cpu::alloc(8 * kMiB));
  ASSERT_NE(big, nullptr);
  memset(big, 1, 8 * kMiB);
  cpu::free(big);
  cpu::Stats s0 = stats();  // the 8 MiB still mapped, in the cache
  const size_t n = 256, count = 2 * cpu::kChunkSize / n;
  std::vector<void*> blocks;
  for (size_t i = 0; i < count; ++i) {
    void* p = cpu::alloc(n);
    ASSERT_NE(p, nullptr);
    memset(p, int(i), n);
    blocks.push_back(p);
  }
  cpu::Stats s1 = stats();
  EXPECT_LT(s1.reserved, s0.reserved + cpu::kChunkSize) << "the cache and the new segments both stay mapped";
  for (void* p : blocks) cpu::free(p);
  cpu::trim();
}

TEST(LargeBlocks, ReallocGrowsAndShrinksKeepingContents) {
  size_t cur = 6 * kMiB;
  char* p = static_cast<char*>(cpu::alloc(cur));
  ASSERT_NE(p, nullptr);
  fill_sparse(p, cur, 1);
  uint64_t seed = 1;
  for (size_t n : {12 * kMiB, 24 * kMiB, 25 * kMiB, 48 * kMiB}) {
    char* q = static_cast<char*>(cpu::realloc(p, n));
    ASSERT_NE(q, nullptr) << n;
    EXPECT_GE(cpu::usable_size(q), n);
    EXPECT_TRUE(check(q, 64 * kKiB, seed)) << cur << " -> " << n;
    EXPECT_TRUE(check_sparse(q, cur, seed)) << cur << " -> " << n;
    fill_sparse(q, n, ++seed);
    p = q;
    cur = n;
  }
  size_t reserved = stats().reserved;
  size_t n = 10 * kMiB;
  char* q = static_cast<char*>(cpu::realloc(p, n));
  ASSERT_NE(q, nullptr);
  EXPECT_GE(cpu::usable_size(q), n);
  EXPECT_LT(cpu::usable_size(q), cur);
  EXPECT_TRUE(check(q, 64 * kKiB, seed));
  EXPECT_LT(stats().reserved, reserved) << "shrinking gave nothing back";
  // And back into a size class.
  char* r = static_cast<char*>(cpu::realloc(q, 1000));
  ASSERT_NE(r, nullptr);
  EXPECT_TRUE(check(r, 1000, seed));
  cpu::free(r);
}

TEST(Stats, CountsFollowAllocationsAndFrees) {
  cpu::Stats s0 = stats();
  const size_t n = 64, count = 1000;
  unsigned cls = cpu::class_of(n);
  std::vector<void*> v;
  for (size_t i = 0; i < count; ++i) v.push_back(cpu::alloc(n));
  cpu::Stats s1 = stats();
  EXPECT_EQ(s1.mallocs - s0.mallocs, count);
  EXPECT_EQ(s1.frees, s0.frees);
  EXPECT_EQ(s1.class_count[cls] - s0.class_count[cls], count);
  EXPECT_EQ(s1.class_live[cls] - s0.class_live[cls], count);
  EXPECT_EQ(s1.class_size[cls], n);
  EXPECT_EQ(s1.allocated - s0.allocated, count * n);
  EXPECT_GE(s1.peak, s1.allocated);
  for (void* p : v) cpu::free(p);
  cpu::Stats s2 = stats();
  EXPECT_EQ(s2.frees - s0.frees, count);
  EXPECT_EQ(s2.class_live[cls], s0.class_live[cls]);
  EXPECT_EQ(s2.allocated, s0.allocated);
  EXPECT_GE(s2.peak, s1.allocated);

  void* big = cpu::alloc(3 * kMiB);
  cpu::Stats s3 = stats();
  EXPECT_EQ(s3.allocated - s2.allocated, cpu::usable_size(big));
  EXPECT_EQ(s3.large_mallocs - s2.large_mallocs, 1u);
  EXPECT_GE(s3.peak, s3.allocated);
  cpu::free(big);
  EXPECT_EQ(stats().allocated, s2.allocated);
  // Flushing the cache moves counts to the process totals without changing them.
  cpu::flush_thread_cache();
  cpu::Stats s4 = stats();
  EXPECT_EQ(s4.mallocs, s3.mallocs);
  EXPECT_EQ(s4.frees, s3.frees + 1);
  EXPECT_EQ(s4.allocated, s2.allocated);
}

}  // namespace
