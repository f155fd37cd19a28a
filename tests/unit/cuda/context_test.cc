// Frees of pointers that are not live blocks, pools per context, drop_context, statistics.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>
#include <vector>

#include "fake_backend.h"

using namespace cudatest;
using FR = TestCache::FreeResult;

TEST(Free, UnknownInteriorAndDoubleFrees) {
  Fixture f;
  DevPtr p = f.alloc(4 * kKiB);
  ASSERT_NE(p, 0u);
  EXPECT_TRUE(f.cache.owns(p));
  EXPECT_TRUE(f.cache.owns(p + kMiB));  // rest of the segment
  EXPECT_FALSE(f.cache.owns(p - 1));
  size_t n = 0;
  EXPECT_EQ(f.cache.free(p - 1, &n), FR::NotOurs);
  EXPECT_EQ(f.cache.free(0x1234, &n), FR::NotOurs);
  EXPECT_EQ(f.cache.free(p + 512, &n), FR::Invalid);  // interior
  EXPECT_EQ(f.cache.free(p + 8 * kKiB, &n), FR::Invalid);  // free rest of the segment
  EXPECT_EQ(f.cache.free(p, &n), FR::Freed);
  EXPECT_EQ(n, 4 * kKiB);
  EXPECT_EQ(f.cache.free(p, &n), FR::Invalid);  // double free (quarantined)
  f.cache.release(f.ctx);
  EXPECT_EQ(f.cache.free(p, &n), FR::NotOurs);  // the segment went back
  EXPECT_EQ(f.fake.calls().mem_free, 1u);
}

TEST(Contexts, PoolsPerContextFreedFromAnyThread) {
  Fixture f;
  Context a = ctx_n(1), b = ctx_n(2);
  DevPtr pa = 0, pb = 0, keep = 0;
  ASSERT_EQ(f.cache.alloc(a, 0, kKiB, &pa), kSuccess);
  ASSERT_EQ(f.cache.alloc(b, 1, kKiB, &pb), kSuccess);
  ASSERT_EQ(f.cache.alloc(b, 1, kKiB, &keep), kSuccess);
  EXPECT_EQ(f.fake.calls().mem_alloc, 2u);  // one segment per context
  EXPECT_EQ(f.stats(PoolKind::Small, 1).allocated, 2 * kKiB);
  // The core has no current context on free: the block finds its pool itself.
  std::thread t([&] { EXPECT_EQ(f.cache.free(pb, nullptr), FR::Freed); });
  t.join();
  EXPECT_EQ(f.stats(PoolKind::Small, 1).allocated, kKiB);
  EXPECT_EQ(f.stats(PoolKind::Small, 0).allocated, kKiB);
  f.cache.release(b);  // b's fence; its segment stays (keep is live)
  DevPtr again = 0;
  ASSERT_EQ(f.cache.alloc(a, 0, kKiB, &again), kSuccess);
  EXPECT_NE(again, pb);  // never across contexts
  ASSERT_EQ(f.cache.alloc(b, 1, kKiB, &again), kSuccess);
  EXPECT_EQ(again, pb);  // best fit in b's pool
  f.cache.drop_context(b, true);
}

TEST(Contexts, DropWithDriverAlive) {
  Fixture f;
  Context c = ctx_n(7);
  DevPtr a = f.alloc(kKiB, c), b = f.alloc(12 * kMiB, c), q = f.alloc(12 * kMiB, c);
  f.fake.launch(c, q, 12 * kMiB);
  f.free(q);
  DevPtr d = f.alloc(14 * kMiB, c);  // records a fence on q (still pending)
  ASSERT_NE(d, 0u);
  EXPECT_EQ(f.fake.live_events(), 1u);
  std::vector<DevPtr> forgotten;
  f.cache.drop_context(
      c, true, [](DevPtr p, void* v) { static_cast<std::vector<DevPtr>*>(v)->push_back(p); },
      &forgotten);
  std::sort(forgotten.begin(), forgotten.end());
  std::vector<DevPtr> live{a, b, d};
  std::sort(live.begin(), live.end());
  EXPECT_EQ(forgotten, live);
  Calls k = f.fake.calls();
  EXPECT_EQ(k.ctx_synchronize, 1u);
  EXPECT_EQ(k.mem_free, 1u);  // q's segment: the others hold live blocks the driver frees
  EXPECT_EQ(f.fake.live_events(), 0u);
  EXPECT_FALSE(f.cache.owns(a));
  EXPECT_EQ(f.cache.free(b, nullptr), FR::NotOurs);
  EXPECT_EQ(f.stats(PoolKind::Large).reserved, 0u);
  EXPECT_EQ(f.stats(PoolKind::Small).allocated, 0u);
}

TEST(Contexts, DropAfterDriverDestroyedIt) {
  Fixture f;
  Context c = ctx_n(8);
  DevPtr a = f.alloc(kKiB, c), q = f.alloc(kKiB, c);
  f.free(q);
  Calls before = f.fake.calls();
  int n = 0;
  f.cache.drop_context(c, false, [](DevPtr, void* v) { ++*static_cast<int*>(v); }, &n);
  EXPECT_EQ(n, 1);
  EXPECT_EQ(f.fake.calls().total(), before.total());  // no driver call
  EXPECT_FALSE(f.cache.owns(a));
  DevPtr again = f.alloc(kKiB, c);  // a fresh pool set
  EXPECT_NE(again, 0u);
  EXPECT_EQ(f.fake.calls().mem_alloc, before.mem_alloc + 1);
}

TEST(Stats, CountersAndPeaks) {
  Fixture f;
  DevPtr a = f.alloc(kKiB), b = f.alloc(kKiB);
  PoolStats s = f.stats(PoolKind::Small);
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.hits, 1u);
  EXPECT_EQ(s.driver_allocs, 1u);
  EXPECT_EQ(s.allocated, 2 * kKiB);
  f.free(a);
  f.free(b);
  s = f.stats(PoolKind::Small);
  EXPECT_EQ(s.allocated, 0u);
  EXPECT_EQ(s.active, 2 * kKiB);  // quarantined
  EXPECT_EQ(s.peak_allocated, 2 * kKiB);
  EXPECT_EQ(s.reserved, 2 * kMiB);
  f.cache.reset_peaks();
  s = f.stats(PoolKind::Small);
  EXPECT_EQ(s.peak_allocated, 0u);
  EXPECT_EQ(s.peak_active, 2 * kKiB);
  EXPECT_EQ(s.peak_reserved, 2 * kMiB);
  f.cache.release(f.ctx);
  s = f.stats(PoolKind::Small);
  PoolStats l = f.stats(PoolKind::Large);
  EXPECT_EQ(s.fences + l.fences, 1u);  // one fence, one wait for it
  EXPECT_EQ(s.syncs + l.syncs, 1u);
  EXPECT_EQ(s.active, 0u);
  EXPECT_EQ(s.reserved, 0u);
  EXPECT_EQ(s.driver_frees, 1u);
  EXPECT_EQ(s.peak_reserved, 2 * kMiB);
  EXPECT_EQ(f.stats(PoolKind::Large).reserved, 0u);
}

TEST(Stats, InternalRangesCoverMetadataAndSegments) {
  Fixture f;
  DevPtr a = f.alloc(12 * kMiB);
  struct Seen {
    DevPtr a;
    bool segment = false;
    int ranges = 0;
  } seen{a};
  f.cache.lock();
  f.cache.for_each_internal_range(
      [](uintptr_t lo, uintptr_t hi, void* v) {
        auto* s = static_cast<Seen*>(v);
        ++s->ranges;
        if (lo == s->a && hi == s->a + 12 * kMiB) s->segment = true;
      },
      &seen);
  f.cache.unlock();
  EXPECT_TRUE(seen.segment);
  EXPECT_GE(seen.ranges, 5);  // two slabs, the hash, the segment table, the segment
}

// The process-wide cache is a global: constant-initialised, no constructor code.
FakeBackend g_fake;
constinit TestCache g_cache{g_fake};

TEST(Global, ConstantInitialisedCacheWorks) {
  DevPtr p = 0;
  ASSERT_EQ(g_cache.alloc(ctx_n(3), 0, kKiB, &p), kSuccess);
  EXPECT_EQ(g_cache.free(p, nullptr), TestCache::FreeResult::Freed);
  g_cache.drop_context(ctx_n(3), true);
  EXPECT_EQ(g_fake.used(), 0u);
}
