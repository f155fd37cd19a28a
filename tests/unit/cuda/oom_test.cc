// Out of memory: waiting for fences, releasing cached segments (oversize first), the
// failure line; releasable().
#include <gtest/gtest.h>

#include <string>

#include "fake_backend.h"

using namespace cudatest;

TEST(Oom, WaitsForFencesThenReuses) {
  Fixture f;
  f.fake.capacity = 20 * kMiB;
  DevPtr a = f.alloc(8 * kMiB);  // a 20 MiB segment: all there is
  f.fake.launch(f.ctx, a, 8 * kMiB);
  f.free(a);
  // 14 MiB fits neither the 12 MiB rest nor the driver; once a's fence is waited for,
  // a merges with the rest.
  EXPECT_EQ(f.alloc(14 * kMiB), a);
  EXPECT_FALSE(f.fake.busy(a, 14 * kMiB));
  EXPECT_EQ(f.fake.calls().event_synchronize, 1u);
  EXPECT_EQ(f.fake.calls().mem_alloc, 2u);  // one failed
  EXPECT_EQ(f.stats(PoolKind::Large).oom_retries, 1u);
}

TEST(Oom, ReleasesCachedSegmentsAndRetries) {
  Fixture f;
  f.fake.capacity = 40 * kMiB;
  DevPtr a = f.alloc(12 * kMiB), b = f.alloc(12 * kMiB);
  f.fake.launch(f.ctx, a, 12 * kMiB);
  f.fake.launch(f.ctx, b, 12 * kMiB);
  f.free(a);
  f.free(b);
  DevPtr c = f.alloc(30 * kMiB);
  EXPECT_NE(c, 0u);
  Calls k = f.fake.calls();
  EXPECT_EQ(k.event_synchronize, 1u);
  EXPECT_EQ(k.mem_free, 2u);
  EXPECT_EQ(k.mem_alloc, 4u);  // a, b, c failed, c
  EXPECT_EQ(f.stats(PoolKind::Large).oom_retries, 1u);
  EXPECT_EQ(f.stats(PoolKind::Large).driver_frees, 2u);

  // Nothing left to release: the failure is reported in one line.
  DevPtr d = 0;
  testing::internal::CaptureStderr();
  EXPECT_EQ(f.cache.alloc(f.ctx, 0, 50 * kMiB, &d), kErrorOutOfMemory);
  EXPECT_EQ(testing::internal::GetCapturedStderr(),
            "mpshim: CUDA out of memory on device 0: tried to allocate 50.0 MiB; 30.0 MiB "
            "allocated, 0 B reserved but unallocated, 10.0 MiB free of 40.0 MiB\n");
}

TEST(Oom, OversizeSegmentsGoFirst) {
  TestCache::Options o;
  o.max_split = 22 * kMiB;
  Fixture f(o);
  f.fake.capacity = 40 * kMiB;
  DevPtr big = f.alloc(24 * kMiB), s = f.alloc(12 * kMiB);
  f.free(big);
  f.free(s);
  // 14 MiB: the 24 MiB block is oversize (not for requests below max_split), 12 MiB is
  // too small, the driver has 4 MiB: the oversize segment goes back, the other stays.
  EXPECT_NE(f.alloc(14 * kMiB), 0u);
  EXPECT_EQ(f.fake.calls().mem_free, 1u);
  uint64_t allocs = f.fake.calls().mem_alloc;
  EXPECT_EQ(f.alloc(12 * kMiB), s);
  EXPECT_EQ(f.fake.calls().mem_alloc, allocs);
  (void)big;
}

TEST(Oom, SegmentOfTheRequestsSizeWhenTheSharedOneDoesNotFit) {
  Fixture f;
  f.fake.capacity = 16 * kMiB;
  // 7 MiB would get a shared 20 MiB segment; the driver has 16 MiB: 8 MiB of its own.
  DevPtr a = f.alloc(7 * kMiB);
  ASSERT_NE(a, 0u);
  DevPtr b = f.alloc(7 * kMiB);
  ASSERT_NE(b, 0u);
  EXPECT_EQ(f.fake.calls().mem_alloc, 4u);  // 20 MiB failed, 8 MiB, twice
  EXPECT_EQ(f.stats(PoolKind::Large).reserved, 16 * kMiB);
  // Its rest is split off as in any segment: 1 MiB here, too small to split.
  f.free(a);
  EXPECT_EQ(f.alloc(7 * kMiB), a);
}

TEST(Oom, ReleasableIsAllocatable) {
  Fixture f;
  f.fake.capacity = 64 * kMiB;
  DevPtr a = f.alloc(12 * kMiB);  // its own segment
  DevPtr b = f.alloc(8 * kMiB);   // a 20 MiB segment...
  DevPtr c = f.alloc(4 * kMiB);   // ...that c keeps
  f.free(a);
  f.free(b);
  EXPECT_EQ(f.cache.releasable(f.ctx), 12 * kMiB);  // quarantined counts: OOM waits for it
  EXPECT_EQ(f.cache.releasable(nullptr), 12 * kMiB);
  EXPECT_EQ(f.cache.releasable(ctx_n(99)), 0u);
  size_t free = 0, total = 0;
  f.fake.mem_get_info(f.ctx, &free, &total);
  uint64_t reported = free + f.cache.releasable(f.ctx);  // what cuMemGetInfo says
  EXPECT_EQ(reported, 44 * kMiB);
  EXPECT_NE(f.alloc(reported - 2 * kMiB), 0u);
  EXPECT_EQ(f.cache.releasable(f.ctx), 0u);
  (void)c;
}
