// Size rules, pool choice, split and merge, best fit, max_split and max_cached.
#include <gtest/gtest.h>

#include "fake_backend.h"

using namespace cudatest;

TEST(Rules, RoundingAndPools) {
  EXPECT_EQ(round_size(0), 512u);
  EXPECT_EQ(round_size(1), 512u);
  EXPECT_EQ(round_size(512), 512u);
  EXPECT_EQ(round_size(513), 1024u);
  EXPECT_EQ(pool_kind(kMiB), PoolKind::Small);
  EXPECT_EQ(pool_kind(kMiB + 512), PoolKind::Large);
  EXPECT_EQ(segment_size(1024), 2 * kMiB);
  EXPECT_EQ(segment_size(kMiB), 2 * kMiB);
  EXPECT_EQ(segment_size(kMiB + 512), 20 * kMiB);
  EXPECT_EQ(segment_size(10 * kMiB - 512), 20 * kMiB);
  EXPECT_EQ(segment_size(10 * kMiB), 10 * kMiB);
  EXPECT_EQ(segment_size(11 * kMiB), 12 * kMiB);
}

TEST(Rules, PoolChosenBySize) {
  Fixture f;
  DevPtr p = 0;
  EXPECT_EQ(f.cache.alloc(f.ctx, 0, 0, &p), kErrorInvalidValue);  // as cuMemAlloc(0)
  EXPECT_EQ(f.fake.calls().mem_alloc, 0u);
  DevPtr a = f.alloc(1);
  DevPtr b = f.alloc(2 * kMiB);
  ASSERT_NE(a, 0u);
  ASSERT_NE(b, 0u);
  EXPECT_EQ(f.stats(PoolKind::Small).allocated, 512u);
  EXPECT_EQ(f.stats(PoolKind::Small).reserved, 2 * kMiB);
  EXPECT_EQ(f.stats(PoolKind::Large).allocated, 2 * kMiB);
  EXPECT_EQ(f.stats(PoolKind::Large).reserved, 20 * kMiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 2u);
  size_t requested = 0;
  EXPECT_EQ(f.cache.free(a, &requested), TestCache::FreeResult::Freed);
  EXPECT_EQ(requested, 1u);
}

TEST(Rules, SplitThenMergeOnceFree) {
  Fixture f;
  DevPtr a = f.alloc(kMiB), b = f.alloc(512 * kKiB), c = f.alloc(512 * kKiB);
  EXPECT_EQ(b, a + kMiB);  // carved in address order from one 2 MiB segment
  EXPECT_EQ(c, b + 512 * kKiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
  f.free(b);
  f.free(a);
  f.free(c);
  // The segment is full: the next request seals the quarantine; the fence has completed
  // (no work queued), so the three blocks merge back into one 2 MiB block.
  EXPECT_EQ(f.alloc(kMiB), a);
  EXPECT_EQ(f.alloc(kMiB), a + kMiB);  // only possible if b and c merged
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
}

TEST(Rules, LargeSplitKeepsRestsAboveOneMiB) {
  Fixture f;
  DevPtr a = f.alloc(9 * kMiB);                 // a 20 MiB segment: 11 MiB rest is split off
  DevPtr b = f.alloc(10 * kMiB + 512 * kKiB);   // 10.5 MiB of the 11: 0.5 MiB rest stays
  EXPECT_EQ(b, a + 9 * kMiB);
  EXPECT_EQ(f.stats(PoolKind::Large).allocated, 20 * kMiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
}

TEST(Rules, BestFit) {
  Fixture f;
  DevPtr x1 = f.alloc(4 * kMiB), s1 = f.alloc(2 * kMiB), x2 = f.alloc(2 * kMiB);
  DevPtr s2 = f.alloc(2 * kMiB), x3 = f.alloc(3 * kMiB), s3 = f.alloc(2 * kMiB);
  ASSERT_EQ(f.fake.calls().mem_alloc, 1u);  // 15 MiB of one 20 MiB segment; 5 MiB rest
  f.free(x1);
  f.free(x2);
  f.free(x3);
  f.cache.release(f.ctx);  // waits for the fence; the segment stays (live blocks)
  EXPECT_EQ(f.fake.calls().mem_free, 0u);
  EXPECT_EQ(f.alloc(2 * kMiB + 512 * kKiB), x3);  // 3 MiB fits best (not 4, not the 5 rest)
  EXPECT_EQ(f.alloc(2 * kMiB), x2);
  EXPECT_EQ(f.alloc(3 * kMiB + 512 * kKiB), x1);
  EXPECT_EQ(f.stats(PoolKind::Large).allocated, 15 * kMiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
  (void)s1, (void)s2, (void)s3;
}

TEST(Rules, OversizeBlocksUnsplitAndOnlyForCloseRequests) {
  TestCache::Options o;
  o.max_split = 30 * kMiB;
  Fixture f(o);
  DevPtr big = f.alloc(64 * kMiB);
  f.free(big);
  DevPtr m = f.alloc(12 * kMiB);  // below max_split: never from an oversize block
  EXPECT_NE(m, 0u);
  EXPECT_NE(m, big);
  DevPtr h = f.alloc(32 * kMiB);  // oversize, but 64 MiB is more than 20 MiB too big
  EXPECT_NE(h, big);
  DevPtr q = f.alloc(50 * kMiB);  // within 20 MiB: reused whole
  EXPECT_EQ(q, big);
  EXPECT_EQ(f.stats(PoolKind::Large).allocated, (12 + 32 + 64) * kMiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 3u);
}

TEST(Rules, WithoutMaxSplitBigBlocksAreSplit) {
  Fixture f;
  DevPtr big = f.alloc(64 * kMiB);
  f.free(big);
  EXPECT_EQ(f.alloc(12 * kMiB), big);
  EXPECT_EQ(f.alloc(32 * kMiB), big + 12 * kMiB);
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
}

TEST(Rules, MaxCachedGivesUnusedSegmentsBack) {
  TestCache::Options o;
  o.max_cached = 16 * kMiB;
  Fixture f(o);
  DevPtr a = f.alloc(12 * kMiB), b = f.alloc(12 * kMiB), c = f.alloc(12 * kMiB);
  f.free(a);
  f.free(b);
  f.free(c);
  // A miss seals the quarantine; its fence has completed, so 36 MiB are free: two 12 MiB
  // segments go back to stay under 16 MiB.
  EXPECT_NE(f.alloc(kKiB), 0u);
  EXPECT_EQ(f.fake.calls().mem_free, 2u);
  EXPECT_EQ(f.stats(PoolKind::Large).driver_frees, 2u);
  EXPECT_EQ(f.stats(PoolKind::Large).reserved, 12 * kMiB);
}

TEST(Rules, CacheOffGivesEveryBlockBack) {
  TestCache::Options o;
  o.cache = false;
  Fixture f(o);
  DevPtr a = f.alloc(kKiB);
  EXPECT_EQ(f.stats(PoolKind::Small).reserved, kKiB);  // exactly the rounded request
  f.free(a);
  EXPECT_EQ(f.fake.calls().mem_free, 1u);
  EXPECT_EQ(f.fake.used(), 0u);
}
