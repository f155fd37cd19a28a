// prim::os_map_aligned, which maps the heap's segments: aligned whatever is in the way, and
// never over another mapping.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstdint>
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

}  // namespace
