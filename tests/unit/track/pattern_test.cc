// find_changed, the check of redzones and freed blocks: nothing found in an untouched
// range of any length and alignment, and the first and last changed bytes found wherever
// they are (its word-wide fast path must never hide a change).
#include <gtest/gtest.h>

#include "track/history.h"

namespace mpshim::track {
namespace {

TEST(FindChanged, UntouchedRangesOfEveryLengthAndAlignment) {
  alignas(64) unsigned char buf[160];
  __builtin_memset(buf, 0xac, sizeof(buf));
  const unsigned char* last = nullptr;
  for (size_t off = 0; off < 16; ++off)
    for (size_t n = 0; off + n <= 144; ++n) EXPECT_EQ(find_changed(buf + off, n, 0xac, &last), nullptr);
}

TEST(FindChanged, FirstAndLastChangedBytes) {
  alignas(64) unsigned char buf[160];
  for (size_t off = 0; off < 9; ++off)
    for (size_t n = 1; off + n <= 140; n += 3)
      for (size_t a = 0; a < n; ++a) {
        __builtin_memset(buf, 0xdf, sizeof(buf));
        size_t b = a + (n - a) / 2;
        buf[off + a] = 0;
        buf[off + b] = 1;
        const unsigned char* last = nullptr;
        ASSERT_EQ(find_changed(buf + off, n, 0xdf, &last), buf + off + a) << off << " " << n << " " << a;
        ASSERT_EQ(last, buf + off + b);
      }
}

TEST(FindChanged, BytesOutsideTheRangeAreNotLookedAt) {
  alignas(64) unsigned char buf[64];
  __builtin_memset(buf, 0, sizeof(buf));
  __builtin_memset(buf + 8, 0xac, 40);
  const unsigned char* last;
  for (size_t n = 0; n <= 40; ++n) EXPECT_EQ(find_changed(buf + 8, n, 0xac, &last), nullptr);
}

}  // namespace
}  // namespace mpshim::track
