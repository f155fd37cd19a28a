// The records of freed blocks: each shard keeps its newest records (as many as asked,
// rounded up to a power of two), so a late double free is named while its record stands.
#include <gtest/gtest.h>

#include "track/history.h"

namespace mpshim::track {
namespace {

TEST(History, KeepsTheNewestRecordsOfItsRing) {
  history_init(0, 500);  // records only, 512 a shard; this thread frees into one of them
  constexpr uintptr_t kBase = uintptr_t(1) << 44;
  auto block = [](uint32_t i) { return kBase + uintptr_t(i) * 64; };
  for (uint32_t i = 0; i < 600; ++i)
    history_push(FreedBlock{0, block(i), 32, i + 1, i + 1000, 0, Kind::Malloc, Memory::Host});
  FreedBlock b;
  for (uint32_t i = 0; i < 600; ++i) {
    bool kept = i >= 600 - 512;
    ASSERT_EQ(history_find(block(i) + 5, &b), kept) << i;
    if (!kept) continue;
    EXPECT_EQ(b.user, block(i));
    EXPECT_EQ(b.alloc_stack, i + 1);
    EXPECT_EQ(b.free_stack, i + 1000);
  }
  MemError e;
  ASSERT_TRUE(history_find(block(599), &b));
  describe_freed(b, &e);
  EXPECT_TRUE(e.freed);
  EXPECT_EQ(e.block, block(599));
  EXPECT_EQ(e.size, 32u);
}

}  // namespace
}  // namespace mpshim::track
