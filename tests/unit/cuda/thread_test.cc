// Threads allocating and freeing at once, and the cost of a cached alloc + free pair.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "fake_backend.h"

using namespace cudatest;

TEST(Threads, EightThreadsNeverShareABlock) {
  Fixture f;
  std::mutex m;
  std::map<DevPtr, DevPtr> ranges;  // live [start, end) of every thread
  bool overlap = false;
  auto worker = [&](int id) {
    std::mt19937_64 rng(id);
    const uint64_t sizes[] = {512, 3 * kKiB, 200 * kKiB, kMiB, 2 * kMiB, 11 * kMiB};
    std::vector<std::pair<DevPtr, uint64_t>> mine;
    Context ctx = ctx_n(1 + id % 2);  // two contexts, shared by four threads each
    for (int i = 0; i < 3000; ++i) {
      if (mine.empty() || (mine.size() < 16 && rng() % 2 == 0)) {
        uint64_t n = sizes[rng() % 6];
        DevPtr p = 0;
        ASSERT_EQ(f.cache.alloc(ctx, 0, n, &p), kSuccess);
        std::lock_guard<std::mutex> g(m);
        auto next = ranges.lower_bound(p);
        if (next != ranges.end() && next->first < p + n) overlap = true;
        if (next != ranges.begin() && std::prev(next)->second > p) overlap = true;
        ranges[p] = p + n;
        mine.push_back({p, n});
      } else {
        size_t k = rng() % mine.size();
        {
          std::lock_guard<std::mutex> g(m);
          ranges.erase(mine[k].first);
        }
        size_t requested = 0;
        ASSERT_EQ(f.cache.free(mine[k].first, &requested), TestCache::FreeResult::Freed);
        ASSERT_EQ(requested, mine[k].second);
        mine[k] = mine.back();
        mine.pop_back();
      }
    }
    for (auto& b : mine) {
      std::lock_guard<std::mutex> g(m);
      ranges.erase(b.first);
      f.free(b.first);
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) threads.emplace_back(worker, t);
  for (auto& t : threads) t.join();
  EXPECT_FALSE(overlap);
  f.cache.release(nullptr);
  EXPECT_EQ(f.fake.used(), 0u);  // every segment went back: the blocks all merged
  EXPECT_EQ(f.stats(PoolKind::Small).allocated + f.stats(PoolKind::Large).allocated, 0u);
  f.cache.drop_context(ctx_n(2), true);
}

// CPU time of the calling thread: less sensitive to other load than wall time.
static double thread_cpu_ns() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e9 + double(ts.tv_nsec);
}

// Prints the cost of a cached pair (best of five rounds); no assertion on time.
TEST(Bench, CachedAllocFreePair) {
  Fixture f;
  constexpr int kPairs = 100000;
  for (int i = 0; i < 4096; ++i) f.free(f.alloc(kKiB));  // warm: segment and event made
  double best = 1e30;
  for (int round = 0; round < 5; ++round) {
    double t0 = thread_cpu_ns();
    for (int i = 0; i < kPairs; ++i) {
      DevPtr p = 0;
      f.cache.alloc(f.ctx, 0, kKiB, &p);
      f.cache.free(p, nullptr);
    }
    double ns = (thread_cpu_ns() - t0) / kPairs;
    if (ns < best) best = ns;
  }
  printf("cuda cache: %.1f ns per cached alloc+free pair (1 KiB, fake driver, %llu driver calls)\n",
         best, (unsigned long long)f.fake.calls().total());
  EXPECT_EQ(f.fake.calls().mem_alloc, 1u);
}
