// What the tests of whole leak checks share: tracked blocks made as the entry layer makes
// them, a check that returns the blocks by requested size, and a way to leave no stale
// pointer in the stack the check scans.
#pragma once
#include <cstdint>
#include <cstring>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "cpu/heap.h"
#include "track/check.h"
#include "track/track.h"

namespace mpshim::track::checktest {

/// A tracked host block as the entry layer allocates it: with slack, so that a pointer one
/// past its end (a word left by memset, say) never names its neighbour. Zeroed: a reused
/// span may still hold an earlier test's pointers.
__attribute__((noinline)) inline void* tracked(size_t n) {
  void* p = cpu::alloc_with_slack(n);
  on_alloc(p, n, Kind::Malloc);
  memset(p, 0, n);
  asm volatile("" ::: "memory");
  return p;
}

inline void release(void* p) {
  if (on_free(p)) cpu::free(p);
}

/// Blocks of one check by requested size (the tests give each block a distinct size).
inline std::map<uint64_t, Block> check(StackFrom from = {}) {
  std::vector<Block> got;
  int r = leak_check(
      [](Block* b, size_t n, void* ctx) {
        static_cast<std::vector<Block>*>(ctx)->assign(b, b + n);
        return false;
      },
      &got, from);
  EXPECT_EQ(r, 0);
  std::map<uint64_t, Block> by_size;
  for (auto& b : got) by_size[b.size] = b;
  return by_size;
}

/// Runs fn with its frames far below those the check will use, so values it leaves in
/// dead stack memory lie below the checking thread's stack pointer (not a root).
void deep(int levels, void (*fn)());
inline void (*volatile g_deep)(int, void (*)()) = deep;  // no inlining, no unrolling
__attribute__((noinline)) inline void deep(int levels, void (*fn)()) {
  volatile char pad[512];
  pad[0] = 0;
  if (levels == 0)
    fn();
  else
    g_deep(levels - 1, fn);
  asm volatile("" ::: "memory");
  (void)pad[0];
}

}  // namespace mpshim::track::checktest
