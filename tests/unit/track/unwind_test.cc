// The table-driven walker gives the same return addresses as libunwind: through plain
// frames, recursion, frame-pointer frames, functions that realign their stack, code in
// other modules, and a signal handler (where it may give up, never give wrong frames).
#include "track/unwind.h"

#include <gtest/gtest.h>
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "perf_clock.h"

namespace mpshim::track {
namespace {

constexpr size_t kMax = 48;

struct Both {
  size_t walked = 0, general = 0;
  uintptr_t walk[kMax], unw[kMax];
};

// Both walks from the same function: entry 0 is a pc in it (a different one for each),
// so the lists are compared from entry 1.
__attribute__((noinline)) void take_both(Both* b) {
  b->walked = walk_stack(b->walk, kMax);
  void* raw[kMax];
  int n = unw_backtrace(raw, kMax);
  b->general = n > 0 ? size_t(n) : 0;
  for (size_t i = 0; i < b->general; ++i) b->unw[i] = reinterpret_cast<uintptr_t>(raw[i]);
  asm volatile("" ::: "memory");
}

// The frames after the first (the capture site itself differs by a few bytes).
void expect_same(const Both& b, size_t at_least) {
  ASSERT_NE(b.walked, kWalkFailed);
  ASSERT_GE(b.walked, at_least);
  size_t n = b.walked < b.general ? b.walked : b.general;
  ASSERT_GE(n, at_least);
  for (size_t i = 1; i < n; ++i) EXPECT_EQ(b.walk[i], b.unw[i]) << "frame " << i;
}

void recurse(Both* b, int levels);
void (*volatile g_recurse)(Both*, int) = recurse;
__attribute__((noinline)) void recurse(Both* b, int levels) {
  if (levels == 0)
    take_both(b);
  else
    g_recurse(b, levels - 1);
  asm volatile("" ::: "memory");
}

TEST(Walk, SameFramesAsLibunwind) {
  Both b;
  recurse(&b, 20);
  expect_same(b, 22);
}

// A frame with a frame pointer and a variable-length array: its CFA is rbp-based.
__attribute__((noinline, optimize("no-omit-frame-pointer"))) void with_frame_pointer(Both* b,
                                                                                     int n) {
  volatile char vla[n];
  vla[0] = 1;
  recurse(b, 3);
  asm volatile("" ::"r"(vla) : "memory");
}

TEST(Walk, FramePointerAndVariableLengthArray) {
  Both b;
  with_frame_pointer(&b, 100 + std::rand() % 4);
  expect_same(b, 8);
}

// A 64-byte aligned local makes the function realign its stack: its CFA is then found
// through the saved stack pointer (*(rbp - 8)), and rbp is saved at rbp + 0.
__attribute__((noinline)) void realigned(Both* b) {
  alignas(64) volatile char buf[64];
  buf[0] = 1;
  recurse(b, 2);
  asm volatile("" ::"r"(buf) : "memory");
}

TEST(Walk, RealignedStack) {
  Both b;
  realigned(&b);
  expect_same(b, 6);
}

// qsort (libc, no frame pointer) calling back into the program.
Both g_sorted;
int compare(const void* x, const void* y) {
  static bool taken = false;
  if (!taken) {
    taken = true;
    take_both(&g_sorted);
  }
  return *static_cast<const int*>(x) - *static_cast<const int*>(y);
}

TEST(Walk, ThroughAnotherModule) {
  int v[8] = {5, 3, 7, 1, 0, 2, 6, 4};
  std::qsort(v, 8, sizeof(int), compare);
  expect_same(g_sorted, 5);
}

// A thread: the walk ends at the thread's first frame, as libunwind's does.
void* thread_main(void* arg) {
  recurse(static_cast<Both*>(arg), 5);
  return nullptr;
}

TEST(Walk, EndsAtTheThreadsFirstFrame) {
  Both b;
  pthread_t t;
  ASSERT_EQ(pthread_create(&t, nullptr, thread_main, &b), 0);
  pthread_join(t, nullptr);
  expect_same(b, 8);
  EXPECT_LT(b.walked, kMax);
  EXPECT_EQ(b.walked, b.general);
}

// In a signal handler the kernel's frame is not described by a simple rule: the walker
// either gives up (the caller then uses libunwind) or agrees with libunwind.
Both g_in_signal;
void on_signal(int) { recurse(&g_in_signal, 2); }

TEST(Walk, SignalHandlerGivesUpOrAgrees) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_signal;
  ASSERT_EQ(sigaction(SIGUSR1, &sa, &old), 0);
  raise(SIGUSR1);
  sigaction(SIGUSR1, &old, nullptr);
  if (g_in_signal.walked == kWalkFailed) SUCCEED() << "gave up";
  else expect_same(g_in_signal, 4);
}

TEST(Walk, DepthIsHonoured) {
  Both b;
  uintptr_t out[4];
  recurse(&b, 10);
  EXPECT_EQ(walk_stack(out, 4), 4u);
  EXPECT_EQ(walk_stack(out, 0), 0u);
}

TEST(Walk, ForgetEmptiesTheCache) {
  Both b;
  recurse(&b, 3);
  EXPECT_GT(walk_cached(), 0u);
  walk_forget();
  EXPECT_EQ(walk_cached(), 0u);
  recurse(&b, 3);
  expect_same(b, 5);
  EXPECT_GT(walk_cached(), 0u);
}

uintptr_t g_out[kMax];
size_t g_n;
WalkMemo g_memo;
WalkMemo* g_use_memo;

// Two leaves, so consecutive walks differ in their innermost frames as allocation
// sites do.
__attribute__((noinline)) void leaf_a() {
  g_n = walk_stack(g_out, 16, g_use_memo);
  asm volatile("" ::: "memory");
}
__attribute__((noinline)) void leaf_b() {
  g_n = walk_stack(g_out, 16, g_use_memo);
  asm volatile("" ::: "memory");
}

// At the bottom of `levels` frames, `iters` walks alternating between the two leaves.
void timed(int levels, long iters);
void (*volatile g_timed)(int, long) = timed;
__attribute__((noinline)) void timed(int levels, long iters) {
  if (levels == 0) {
    for (long i = 0; i < iters; ++i) {
      if (i & 1) leaf_a();
      else leaf_b();
    }
  } else {
    g_timed(levels - 1, iters);
  }
  asm volatile("" ::: "memory");
}

// The walk with a memo gives the same frames as without.
TEST(Walk, MemoGivesTheSameFrames) {
  for (int i = 0; i < 4; ++i) {
    uintptr_t plain[kMax];
    g_use_memo = nullptr;
    timed(20, 1 + (i & 1));
    std::memcpy(plain, g_out, sizeof plain);
    size_t n = g_n;
    g_use_memo = &g_memo;
    timed(20, 1 + (i & 1));
    ASSERT_EQ(g_n, n);
    for (size_t f = 0; f < n; ++f) EXPECT_EQ(g_out[f], plain[f]) << "frame " << f;
  }
}

// Random call chains through frames of every kind (rsp-based, rbp-based with a
// variable-length array, realigned), walked with one memo: each walk must give
// libunwind's frames, whatever the last walk was.
struct Chain {
  uint64_t rng;
  int left;
  Both* b;
};
void chain_step(Chain* c);
void (*volatile g_chain_step)(Chain*) = chain_step;

__attribute__((noinline)) void chain_plain(Chain* c) {
  g_chain_step(c);
  asm volatile("" ::: "memory");
}
__attribute__((noinline, optimize("no-omit-frame-pointer"))) void chain_vla(Chain* c) {
  volatile char vla[16 + (c->rng & 63)];
  vla[0] = 1;
  g_chain_step(c);
  asm volatile("" ::"r"(vla) : "memory");
}
__attribute__((noinline)) void chain_aligned(Chain* c) {
  alignas(64) volatile char buf[64];
  buf[0] = 1;
  g_chain_step(c);
  asm volatile("" ::"r"(buf) : "memory");
}
WalkCache* g_use_cache;
constexpr size_t kCacheTestMax = 24;
// Stacks stored with the cache: its values are indices here, one per distinct stack.
uintptr_t g_known[4096][kCacheTestMax];
size_t g_known_n[4096], g_known_count, g_recalls;

__attribute__((noinline)) void chain_leaf(Both* b) {
  if (g_use_cache != nullptr) {
    uint32_t value = 0;
    size_t n = walk_stack(b->walk, kCacheTestMax, g_use_memo, nullptr, g_use_cache, &value);
    if (n == kWalkRecalled) {
      ++g_recalls;
      n = g_known_n[value];
      std::memcpy(b->walk, g_known[value], sizeof g_known[value]);
    } else if (n != kWalkFailed) {
      // The value of a stack is its index here, as the tracker's is its stack id.
      size_t k = 0;
      while (k < g_known_count &&
             (g_known_n[k] != n || std::memcmp(g_known[k], b->walk, n * sizeof(uintptr_t)) != 0))
        ++k;
      if (k == g_known_count && g_known_count < 4096) {
        g_known_n[k] = n;
        std::memcpy(g_known[k], b->walk, sizeof g_known[0]);
        ++g_known_count;
      }
      if (k < g_known_count) walk_remember(g_use_cache, *g_use_memo, uint32_t(k));
    }
    b->walked = n;
  } else {
    b->walked = walk_stack(b->walk, kMax, g_use_memo);
  }
  void* raw[kMax];
  int n = unw_backtrace(raw, g_use_cache != nullptr ? int(kCacheTestMax) : int(kMax));
  b->general = n > 0 ? size_t(n) : 0;
  for (size_t i = 0; i < b->general; ++i) b->unw[i] = reinterpret_cast<uintptr_t>(raw[i]);
  asm volatile("" ::: "memory");
}

__attribute__((noinline)) void chain_step(Chain* c) {
  c->rng = c->rng * 6364136223846793005ull + 1442695040888963407ull;
  if (c->left-- == 0) {
    chain_leaf(c->b);
  } else {
    switch ((c->rng >> 33) % 3) {
      case 0: chain_plain(c); break;
      case 1: chain_vla(c); break;
      default: chain_aligned(c); break;
    }
  }
  asm volatile("" ::: "memory");
}

TEST(Walk, MemoAgreesWithLibunwindOnRandomChains) {
  WalkMemo memo{};
  g_use_memo = &memo;
  uint64_t seed = 12345;
  for (int i = 0; i < 3000; ++i) {
    seed = seed * 2862933555777941757ull + 3037000493ull;
    Both b;
    Chain c{seed, int(seed >> 59), &b};  // 0-31 levels
    chain_step(&c);
    ASSERT_NE(b.walked, kWalkFailed);
    ASSERT_EQ(b.walked, b.general) << "walk " << i;
    for (size_t f = 1; f < b.walked; ++f) ASSERT_EQ(b.walk[f], b.unw[f]) << "walk " << i << " frame " << f;
  }
  g_use_memo = nullptr;
}

// Walks the chain drawn from `seed` (walk `i` of a test) and checks it against libunwind.
void walk_chain_of(uint64_t seed, int i) {
  Both b;
  Chain c{seed, int((seed >> 7) % 12), &b};
  chain_step(&c);
  ASSERT_NE(b.walked, kWalkFailed);
  ASSERT_EQ(b.walked, b.general) << "walk " << i;
  for (size_t f = 1; f < b.walked; ++f) ASSERT_EQ(b.walk[f], b.unw[f]) << "walk " << i << " frame " << f;
}

// A memo and a cache of walks for chain_leaf to use, and no stack known yet; put away
// again when the test ends, an early return by a failed assertion included.
struct CachedWalks {
  WalkMemo memo{};
  WalkCache cache{};
  CachedWalks() {
    g_use_memo = &memo;
    g_use_cache = &cache;
    g_known_count = g_recalls = 0;
  }
  ~CachedWalks() {
    g_use_memo = nullptr;
    g_use_cache = nullptr;
  }
};

// The cache of recent walks gives a stored stack only where the walk would give that
// stack: chains drawn from a few seeds come back often (recalled), among others that
// start from the same frames and differ further up (rbp-based frames of other sizes,
// realigned frames), each checked against libunwind.
TEST(Walk, CacheRecallsOnlyTheSameStack) {
  CachedWalks walks;
  uint64_t pick = 99;
  for (int i = 0; i < 4000; ++i) {
    pick = pick * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t seed = 1000 + ((pick >> 40) % 6) * 7919;  // a few chains, again and again
    if ((pick >> 20) % 4 == 0) seed = pick;            // and now and then a new one
    ASSERT_NO_FATAL_FAILURE(walk_chain_of(seed, i));
  }
  EXPECT_GT(g_recalls, 1000u);
}

// A thread that goes round 20 stacks (allocations and frees at the few places it works)
// finds most of them in the cache once it has settled: with 4 ways filled in turn it
// found almost none.
TEST(Walk, CacheHoldsARoundOfStacks) {
  CachedWalks walks;
  constexpr int kStacks = 20, kRounds = 50;
  for (int i = 0; i < kStacks * kRounds; ++i) {
    if (i == kStacks * kRounds / 2) g_recalls = 0;  // counted once the cache has settled
    uint64_t seed = 5000 + uint64_t(i % kStacks) * 104729;
    ASSERT_NO_FATAL_FAILURE(walk_chain_of(seed, i));
  }
  // Rounds to fill (a stack is remembered when missed again soon), then most are recalled
  // (chains through a variable-length array differ in their words each time: 70-80 %
  // here; 15 % when only states met within the last 16 misses were admitted).
  EXPECT_GE(g_recalls, size_t(kStacks * kRounds / 2 * 3 / 5));
}

TEST(Walk, CostOf16Frames) {
  constexpr long kIters = 200000;
  double ns[2];
  for (int with_memo = 0; with_memo < 2; ++with_memo) {
    g_use_memo = with_memo ? &g_memo : nullptr;
    timed(30, 2);
    double t0 = thread_cpu_ns();
    timed(30, kIters);
    ns[with_memo] = (thread_cpu_ns() - t0) / kIters;
    ASSERT_EQ(g_n, 16u);
  }
  g_use_memo = nullptr;
  std::printf("[ perf ] walk of 16 frames (two call sites in turn): %.1f ns CPU, %.1f with the "
              "memo\n", ns[0], ns[1]);
}

}  // namespace
}  // namespace mpshim::track
