// prim::os_map_aligned, which maps the heap's segments: aligned whatever is in the way, and
// never over another mapping; prim::os_guard, whose guard pages stay mappings apart from the
// pages they guard.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "prim/os.h"

namespace prim = mpshim::prim;

namespace {

constexpr size_t kUnit = size_t(4) << 20;

bool aligned(const void* p) { return (reinterpret_cast<uintptr_t>(p) & (kUnit - 1)) == 0; }

TEST(MapAligned, SegmentsFollowEachOtherDownAndAreAligned) {
  void* a = prim::os_map_aligned(kUnit, kUnit);
  void* b = prim::os_map_aligned(kUnit, kUnit);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(aligned(a));
  EXPECT_TRUE(aligned(b));
  EXPECT_NE(a, b);
  memset(a, 1, kUnit);  // writable, zero-filled before
  EXPECT_EQ(static_cast<unsigned char*>(b)[kUnit - 1], 0);
  prim::os_unmap(a, kUnit);
  prim::os_unmap(b, kUnit);
}

TEST(MapAligned, PlaceTakenGoesElsewhereWithoutTouchingIt) {
  void* a = prim::os_map_aligned(kUnit, kUnit);
  ASSERT_NE(a, nullptr);
  // Something of the program's own takes the place the next segment would be tried at.
  auto* next = static_cast<unsigned char*>(a) - kUnit;
  void* blocker = mmap(next, kUnit, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
  if (blocker != next) GTEST_SKIP() << "the place below was not free";
  memset(blocker, 7, kUnit);
  void* b = prim::os_map_aligned(kUnit, kUnit);
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(aligned(b));
  EXPECT_NE(b, blocker);
  for (size_t i = 0; i < kUnit; i += 4096) ASSERT_EQ(static_cast<unsigned char*>(blocker)[i], 7);
  void* c = prim::os_map_aligned(kUnit, kUnit);  // the tries go on from where it went
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(aligned(c));
  munmap(blocker, kUnit);
  for (void* p : {a, b, c}) prim::os_unmap(p, kUnit);
}

TEST(MapAligned, LargerMappingsAreAlignedToo) {
  void* p = prim::os_map_aligned(3 * kUnit + 4096, kUnit);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(aligned(p));
  memset(p, 1, 3 * kUnit + 4096);
  prim::os_unmap(p, 3 * kUnit + 4096);
}

// The mappings /proc/self/maps lists in [lo, hi).
int mappings_in(uintptr_t lo, uintptr_t hi) {
  FILE* f = fopen("/proc/self/maps", "r");
  if (f == nullptr) return -1;
  int n = 0;
  unsigned long a, b;
  char line[512];
  while (fgets(line, sizeof line, f) != nullptr)
    if (sscanf(line, "%lx-%lx", &a, &b) == 2 && a < hi && b > lo) ++n;
  fclose(f);
  return n;
}

TEST(Guard, GuardedPagesStayMappingsOfTheirOwn) {
  size_t pg = prim::page_size();
  auto* base = static_cast<char*>(prim::os_map(3 * pg));
  ASSERT_NE(base, nullptr);
  ASSERT_TRUE(prim::os_guard(base, pg));
  ASSERT_TRUE(prim::os_guard(base + 2 * pg, pg));
  uintptr_t lo = uintptr_t(base), hi = lo + 3 * pg;
  EXPECT_EQ(mappings_in(lo, hi), 3);
  // Made inaccessible like its guards (a freed sampled block), the middle page does not
  // merge with them: protecting it again splits nothing.
  ASSERT_TRUE(prim::os_protect(base + pg, pg, false));
  EXPECT_EQ(mappings_in(lo, hi), 3);
  ASSERT_TRUE(prim::os_protect(base + pg, pg, true));
  base[pg] = 1;
  EXPECT_EQ(mappings_in(lo, hi), 3);
  prim::os_unmap(base, 3 * pg);
}

}  // namespace
