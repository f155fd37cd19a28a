// Size classes: the table behind class_of() and the span and batch parameters of each class.
#include <gtest/gtest.h>

#include "cpu/heap.h"
#include "cpu/size_class.h"
#include "cpu/stats.h"

namespace cpu = mpshim::cpu;

namespace {

TEST(SizeClass, ClassOfIsTheSmallestFittingClass) {
  for (size_t n = 0; n <= cpu::kMaxSmall; ++n) {
    unsigned c = cpu::class_of(n);
    ASSERT_GE(c, 1u) << n;
    ASSERT_LT(c, cpu::kNumClasses) << n;
    ASSERT_GE(cpu::kClasses.info[c].size, n) << n;
    if (c > 1) {
      ASSERT_LT(cpu::kClasses.info[c - 1].size, n) << n;
    }
  }
}

TEST(SizeClass, SizesGrowInStepsOf16UpToMaxSmall) {
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    uint32_t size = cpu::kClasses.info[c].size;
    EXPECT_EQ(size % 16, 0u) << "class " << c;
    EXPECT_EQ(size, cpu::class_size_of(c));
    if (c > 1) {
      EXPECT_GT(size, cpu::kClasses.info[c - 1].size) << "class " << c;
    }
    // Neighbouring classes differ by at most a quarter (16 B steps below 128 B).
    if (c > 8) {
      EXPECT_LE(size - cpu::kClasses.info[c - 1].size, size / 4) << "class " << c;
    }
  }
  EXPECT_EQ(cpu::kClasses.info[cpu::kNumClasses - 1].size, cpu::kMaxSmall);
  // One statistics slot per class plus the one for large blocks.
  EXPECT_LT(cpu::kNumClasses, cpu::kStatClasses);
}

TEST(SizeClass, SpansWasteAtMostAnEighth) {
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    const cpu::ClassInfo& ci = cpu::kClasses.info[c];
    size_t span = size_t(ci.pages) * cpu::kPageSize;
    EXPECT_GE(ci.pages, 1u) << "class " << c;
    EXPECT_LT(ci.pages, cpu::kPagesPerSegment) << "class " << c;  // page 0 is the header
    EXPECT_EQ(ci.objects, span / ci.size) << "class " << c;
    EXPECT_GE(ci.objects, 1u) << "class " << c;
    EXPECT_LE((span - size_t(ci.objects) * ci.size) * 8, span) << "class " << c;
  }
}

TEST(SizeClass, BatchesAreSane) {
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    const cpu::ClassInfo& ci = cpu::kClasses.info[c];
    EXPECT_GE(ci.batch, 1u) << "class " << c;
    EXPECT_LE(ci.batch, cpu::kMaxBatch) << "class " << c;
    EXPECT_LE(ci.batch, ci.objects) << "class " << c;
    // A batch moves about 32 KiB (one block for the biggest classes).
    EXPECT_LE(size_t(ci.batch) * ci.size, ci.size > (32u << 10) ? ci.size : (32u << 10)) << "class " << c;
    EXPECT_GE(ci.max_cached, ci.batch) << "class " << c;
    EXPECT_LE(ci.transfer, 64u) << "class " << c;  // Central::batches holds 64
    // Whole batches kept centrally stay a bounded amount of memory per class.
    EXPECT_LE(size_t(ci.transfer) * ci.batch * ci.size, size_t(1) << 20) << "class " << c;
  }
}

TEST(SizeClass, LookupTableMatchesTheArithmeticPath) {
  // Sizes 0..1024 come from a table, larger ones from bit arithmetic: both agree at the seam.
  EXPECT_EQ(cpu::kClasses.info[cpu::class_of(1024)].size, 1024u);
  EXPECT_EQ(cpu::kClasses.info[cpu::class_of(1025)].size, 1280u);
  EXPECT_EQ(cpu::class_of(0), 1u);
  EXPECT_EQ(cpu::class_of(16), 1u);
  EXPECT_EQ(cpu::class_of(17), 2u);
  EXPECT_EQ(cpu::class_of(cpu::kMaxSmall), cpu::kNumClasses - 1);
}

}  // namespace

// block_index replaces a division on every tracked allocation and free: it must agree with
// it on both sides of every block boundary a 4 MiB chunk can hold, and at its end.
TEST(SizeClass, BlockIndexIsExactDivision) {
  constexpr size_t kChunk = size_t(4) << 20;
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    const cpu::ClassInfo& ci = cpu::kClasses.info[c];
    for (size_t b = ci.size; b < kChunk; b += ci.size)
      for (size_t off : {b - 1, b, b + 1})
        ASSERT_EQ(cpu::block_index(off, ci), off / ci.size) << "class " << c << " offset " << off;
    for (size_t off = kChunk - 4096; off < kChunk; ++off)
      ASSERT_EQ(cpu::block_index(off, ci), off / ci.size) << "class " << c << " offset " << off;
  }
}

// tag_of tells a block's first byte from any other without the class's size: every offset
// of a 4 MiB chunk, in every class.
TEST(SizeClass, BlockStartsAreToldWithoutTheSize) {
  constexpr size_t kChunk = size_t(4) << 20;
  for (unsigned c = 1; c < cpu::kNumClasses; ++c) {
    const cpu::ClassInfo& ci = cpu::kClasses.info[c];
    for (size_t off = 0; off < kChunk; ++off)
      if (cpu::at_block_start(off, ci.inverse) != (off % ci.size == 0))
        FAIL() << "class " << c << " offset " << off;
  }
}
