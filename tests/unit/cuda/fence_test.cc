// The quarantine: a freed block is handed out again only after a fence recorded after its
// free has completed; fences are amortised; the fallback without cuCtxRecordEvent; stream
// capture.
#include <gtest/gtest.h>

#include "fake_backend.h"

using namespace cudatest;

TEST(Fence, FreedBlockWaitsForItsFence) {
  Fixture f;
  DevPtr a = f.alloc(12 * kMiB);
  f.fake.launch(f.ctx, a, 12 * kMiB);  // work still queued when a is freed
  f.free(a);
  // A miss seals the quarantine with a fence; the device has not got that far, and the
  // quarantine holds less than asked for, so the cache grows instead of waiting.
  DevPtr b = f.alloc(14 * kMiB);
  EXPECT_NE(b, a);
  EXPECT_EQ(f.fake.calls().record_fence, 1u);
  EXPECT_EQ(f.fake.calls().event_synchronize, 0u);
  // Small requests come from their own pool, never from a quarantined block.
  DevPtr x = f.alloc(kKiB);
  f.fake.launch(f.ctx, x, kKiB);
  f.free(x);
  DevPtr y = f.alloc(kKiB);
  EXPECT_NE(y, x);
  EXPECT_FALSE(f.fake.busy(y, kKiB));
  // The device completes the work: the next miss finds the fence done and reuses a.
  f.fake.progress(f.ctx);
  EXPECT_EQ(f.alloc(12 * kMiB), a);
  EXPECT_EQ(f.fake.calls().event_synchronize, 0u);
  EXPECT_GE(f.fake.calls().event_query, 1u);
  EXPECT_EQ(f.fake.calls().mem_alloc, 3u);  // a's, b's and the small segment
}

TEST(Fence, WaitsRatherThanGrowsWhenQuarantineHoldsEnough) {
  Fixture f;
  DevPtr a = f.alloc(12 * kMiB);
  f.fake.launch(f.ctx, a, 12 * kMiB);
  f.free(a);
  EXPECT_EQ(f.alloc(12 * kMiB), a);  // after waiting for the fence, as cudaFree would
  EXPECT_FALSE(f.fake.busy(a, 12 * kMiB));
  EXPECT_EQ(f.fake.calls().record_fence, 1u);
  EXPECT_EQ(f.fake.calls().event_synchronize, 1u);
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
}

TEST(Fence, AmortisedOverASegmentOfFrees) {
  Fixture f;
  constexpr int kPairs = 100000;
  for (int i = 0; i < kPairs; ++i) {
    DevPtr p = f.alloc(kKiB);
    ASSERT_NE(p, 0u);
    f.free(p);
  }
  Calls c = f.fake.calls();
  EXPECT_EQ(c.mem_alloc, 1u);
  // One fence per 2048 frees (a 2 MiB segment of 1 KiB blocks).
  EXPECT_LE(c.record_fence, uint64_t(kPairs / 2048 + 1));
  EXPECT_GE(c.record_fence, uint64_t(kPairs / 2048 - 1));
  EXPECT_LT(c.total(), uint64_t(kPairs / 500));
  EXPECT_EQ(c.event_create, 1u);  // one event, reused
  PoolStats s = f.stats(PoolKind::Small);
  EXPECT_EQ(s.hits, uint64_t(kPairs - 1));
  EXPECT_EQ(s.misses, 1u);
}

TEST(Fence, ContextSynchronisationWithoutRecordEvent) {
  Fixture f;
  f.fake.has_record_fence = false;
  DevPtr a = f.alloc(12 * kMiB);
  f.fake.launch(f.ctx, a, 12 * kMiB);
  f.free(a);
  DevPtr b = f.alloc(14 * kMiB);  // the seal synchronises the context
  EXPECT_NE(b, a);
  EXPECT_EQ(f.fake.calls().ctx_synchronize, 1u);
  EXPECT_FALSE(f.fake.busy(a, 12 * kMiB));
  DevPtr c = f.alloc(12 * kMiB);  // a is free already: a plain hit
  EXPECT_EQ(c, a);
  f.fake.launch(f.ctx, c, 12 * kMiB);
  f.free(c);
  EXPECT_NE(f.alloc(16 * kMiB), 0u);
  Calls k = f.fake.calls();
  EXPECT_EQ(k.record_fence, 1u);  // tried once, then never again
  EXPECT_EQ(k.ctx_synchronize, 2u);
  EXPECT_EQ(k.event_query + k.event_synchronize, 0u);
  EXPECT_EQ(f.alloc(12 * kMiB), a);
}

TEST(Fence, NothingForbiddenDuringCapture) {
  TestCache::Options o;
  o.max_cached = 0;
  Fixture f(o);
  DevPtr a = f.alloc(12 * kMiB);
  f.fake.launch(f.ctx, a, 12 * kMiB);
  f.free(a);  // freed before the capture
  Calls before = f.fake.calls();

  f.cache.capture_begin();
  f.fake.set_capturing(true);
  DevPtr p = f.alloc(12 * kMiB);  // a new segment (relaxed capture mode), no fence
  ASSERT_NE(p, 0u);
  EXPECT_NE(p, a);
  f.fake.launch(f.ctx, p, 12 * kMiB);
  f.free(p);  // freed during the capture: the graph may use it at every replay
  DevPtr q = f.alloc(12 * kMiB);
  EXPECT_NE(q, a);
  EXPECT_NE(q, p);
  f.cache.release(f.ctx);  // deferred too
  DevPtr r = 0;
  f.fake.capacity = f.fake.used();  // out of memory: no wait, no release during a capture
  testing::internal::CaptureStderr();
  EXPECT_EQ(f.cache.alloc(f.ctx, 0, 12 * kMiB, &r), kErrorOutOfMemory);
  EXPECT_NE(testing::internal::GetCapturedStderr().find("out of memory"), std::string::npos);
  f.fake.capacity = uint64_t(1) << 40;
  Calls during = f.fake.calls();
  EXPECT_EQ(f.fake.violations(), 0u);
  EXPECT_EQ(during.sync_like(), before.sync_like());
  EXPECT_EQ(during.relax, 6u);  // on and off around three driver allocations
  f.fake.set_capturing(false);
  f.cache.capture_end();

  // After the capture, the next miss seals a with one fence; once the device has
  // progressed a is reused, but p never is (nor is its segment given back).
  f.fake.progress(f.ctx);
  EXPECT_EQ(f.alloc(12 * kMiB), a);
  DevPtr after = f.alloc(12 * kMiB);
  EXPECT_NE(after, p);
  EXPECT_EQ(f.fake.calls().record_fence, before.record_fence + 1);
  f.free(after);
  f.cache.release(f.ctx);
  EXPECT_EQ(f.cache.free(p, nullptr), FreeResult::Invalid);  // a second free of p
  EXPECT_LT(f.cache.releasable(f.ctx), f.fake.used());
  (void)q;
}
