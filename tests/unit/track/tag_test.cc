// Block tag encoding: every field round-trips, a live tag is never 0, and sizes beyond
// the size field are recovered from the usable size.
#include "track/tag.h"

#include <gtest/gtest.h>

namespace mpshim::track {
namespace {

TEST(Tag, FieldsRoundTrip) {
  for (Kind k : {Kind::Malloc, Kind::NewArrayAligned, Kind::Realloc}) {
    for (uint32_t stack : {0u, 1u, 0x12345678u, 0xffffffffu}) {
      for (uint64_t size : {uint64_t(0), uint64_t(1), uint64_t(4096), tag::kSizeMax - 1}) {
        for (uint64_t flags : {uint64_t(0), tag::kIgnored, tag::kInternal}) {
          uint64_t t = tag::make(k, flags, stack, size);
          EXPECT_NE(t, 0u);
          EXPECT_TRUE(tag::live(t));
          EXPECT_EQ(tag::kind(t), k);
          EXPECT_EQ(tag::stack(t), stack);
          EXPECT_EQ(tag::size(t, size + 100), size);
          EXPECT_EQ(tag::ignored(t), flags == tag::kIgnored);
          EXPECT_EQ(tag::internal(t), flags == tag::kInternal);
        }
      }
    }
  }
}

TEST(Tag, FlagsCanBeAddedLater) {
  uint64_t t = tag::make(Kind::New, 0, 77, 24);
  t |= tag::kIgnored;
  EXPECT_TRUE(tag::ignored(t));
  EXPECT_EQ(tag::stack(t), 77u);
  EXPECT_EQ(tag::size(t, 32), 24u);
  EXPECT_EQ(tag::kind(t), Kind::New);
}

TEST(Tag, BigBlocksKeepTheirExactSizeThroughTheSlack) {
  uint64_t size = (uint64_t(3) << 30) + 5;       // 3 GiB + 5
  uint64_t usable = (uint64_t(3) << 30) + 4096;  // page rounded
  ASSERT_TRUE(tag::needs_usable(size));
  uint64_t t = tag::make(Kind::Malloc, 0, 9, size, usable);
  EXPECT_EQ(tag::size(t, usable), size);
  EXPECT_EQ(tag::stack(t), 9u);
  EXPECT_EQ(tag::kind(t), Kind::Malloc);
}

TEST(Tag, HugeSlackFallsBackToTheUsableSize) {
  uint64_t size = uint64_t(1) << 30;
  uint64_t usable = size + (uint64_t(1) << 28);  // slack wider than the field
  uint64_t t = tag::make(Kind::Calloc, 0, 3, size, usable);
  EXPECT_EQ(tag::size(t, usable), usable);
}

TEST(Tag, EveryKindFitsAndHasAName) {
  for (int k = 1; k <= int(Kind::NewArrayAligned); ++k) {
    EXPECT_EQ(tag::kind(tag::make(Kind(k), 0, 0, 0)), Kind(k));
    EXPECT_STRNE(kind_name(Kind(k)), "unknown");
  }
  EXPECT_STREQ(kind_name(Kind::NewArray), "operator new[]");
}

}  // namespace
}  // namespace mpshim::track
