// A workload that frees blocks while queued work still touches them. With the quarantine
// no block is handed out while such work is pending, and freed blocks are reused. Built a
// second time with MPSHIM_CUDA_UNFENCED (test cuda-unfenced), where the same workload must
// hit the race: that shows the check can fail.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <vector>

#include "fake_backend.h"

using namespace cudatest;

TEST(Race, NoBlockReusedBeforeItsWorkCompleted) {
  Fixture f;
  std::mt19937_64 rng(42);
  const uint64_t sizes[] = {kKiB, 4 * kKiB, 64 * kKiB, kMiB, 3 * kMiB, 12 * kMiB};
  struct Live {
    DevPtr p;
    uint64_t n;
  };
  std::vector<Live> live;
  std::set<DevPtr> freed;
  int reused = 0, races = 0;
  for (int i = 0; i < 4000; ++i) {
    if (live.empty() || (live.size() < 12 && rng() % 2 == 0)) {
      uint64_t n = sizes[rng() % 6];
      DevPtr p = f.alloc(n);
      ASSERT_NE(p, 0u);
      if (f.fake.busy(p, n)) ++races;
      if (freed.count(p) != 0) ++reused;
      f.fake.launch(f.ctx, p, n);  // a kernel on the new block, still queued when freed
      live.push_back({p, n});
    } else {
      size_t k = rng() % live.size();
      ASSERT_TRUE(f.free(live[k].p));
      freed.insert(live[k].p);
      live[k] = live.back();
      live.pop_back();
    }
    if (i % 64 == 63) f.fake.progress(f.ctx);
  }
  printf("reused %d races %d\n", reused, races);
  EXPECT_GT(reused, 100);  // otherwise the test proves nothing
#ifdef MPSHIM_CUDA_UNFENCED
  EXPECT_GT(races, 0) << "an unfenced cache hands out blocks that queued work still uses";
#else
  EXPECT_EQ(races, 0);
#endif
}
