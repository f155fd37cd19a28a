// The tracker on real allocator blocks: tags set and cleared, double frees refused, and the
// whole leak check (roots from /proc/self/maps, the allocator's heap ranges skipped)
// classifying blocks referenced from a global, leaked, leaked through a leaked owner, in a
// cycle, ignored and allocated with tracking disabled. Also the cost per tracked
// allocation and the time of a check over a million blocks.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <vector>

#include "cpu/heap.h"
#include "perf_clock.h"
#include "register_holder.h"
#include "track/check.h"
#include "track/tag.h"
#include "track/track.h"
#include "check_helpers.h"
#include "../own_process.h"

namespace mpshim::track {
namespace {

using track::Block;
using track::LeakClass;

using namespace checktest;

void** g_kept;  // a root: the program's global
void* g_blocks[16];

class Track : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    init();  // before the allocator's first block: enables tags
    ASSERT_TRUE(enabled());
  }
};

TEST_F(Track, TagIsSetAndClearedAndDoubleFreeRefused) {
  void* p = tracked(100);
  uint64_t* t = cpu::tag_of(p);
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(tag::kind(*t), Kind::Malloc);
  EXPECT_EQ(tag::size(*t, cpu::usable_size(p)), 100u);
  EXPECT_NE(tag::stack(*t), 0u);
  EXPECT_FALSE(on_free(static_cast<char*>(p) + 16));  // not a block start
  int local = 0;
  EXPECT_FALSE(on_free(&local));  // not ours
  EXPECT_TRUE(on_free(p));
  EXPECT_EQ(*t, 0u);
  EXPECT_FALSE(on_free(p));  // double free
  cpu::free(p);
}

// A signal handler that interrupted a stack capture allocates the program's blocks: they
// are recorded without a stack (no capture may start inside one), never as the shim's own,
// which would be roots and never reported.
TEST_F(Track, HandlerInsideACaptureAllocatesTheProgramsBlocks) {
  void* p = nullptr;
  run_as_if_capturing([](void* ctx) { *static_cast<void**>(ctx) = tracked(77); }, &p);
  ASSERT_NE(p, nullptr);
  uint64_t t = *cpu::tag_of(p);
  EXPECT_FALSE(tag::internal(t));
  EXPECT_EQ(tag::stack(t), 0u);
  EXPECT_EQ(tag::size(t, cpu::usable_size(p)), 77u);
  release(p);
}

TEST_F(Track, StackStartsAtTheAllocatingFunction) {
  void* p = tracked(100);
  const uintptr_t* pcs;
  size_t n = stack_frames(tag::stack(*cpu::tag_of(p)), &pcs);
  ASSERT_GE(n, 2u);
  EXPECT_LE(n, 16u);
  auto fn = reinterpret_cast<uintptr_t>(&tracked);
  EXPECT_GE(pcs[0], fn);
  EXPECT_LT(pcs[0], fn + 128);
  release(p);
}

TEST_F(Track, BigBlockReportsItsRequestedSize) {
  size_t size = (size_t(40) << 20) + 3;  // beyond the tag's size field
  void* p = tracked(size);
  g_blocks[0] = p;
  auto got = check();
  ASSERT_EQ(got.count(size), 1u);
  EXPECT_EQ(got[size].cls, LeakClass::Reachable);
  release(p);
  g_blocks[0] = nullptr;
}

void make_graph() {
  g_kept = static_cast<void**>(tracked(1001));
  g_kept[0] = tracked(1002);  // reachable through the global
  auto** owner = static_cast<void**>(tracked(1003));
  owner[0] = tracked(1004);  // leaked through a leaked owner
  auto** a = static_cast<void**>(tracked(1005));
  auto** b = static_cast<void**>(tracked(1006));
  a[0] = b;
  b[0] = static_cast<char*>(static_cast<void*>(a)) + 8;  // interior pointer closes the cycle
  auto** ig = static_cast<void**>(tracked(1007));
  ignore(ig);
  ig[0] = tracked(1008);  // kept by an ignored block
  disable_thread();
  auto** in = static_cast<void**>(tracked(1009));
  enable_thread();
  in[0] = tracked(1010);  // kept by an untracked (internal) block
  // Remember the blocks for cleanup in a form the scan does not see as pointers.
  void* all[] = {owner, owner[0], a, b, ig, ig[0], in, in[0]};
  for (size_t i = 0; i < 8; ++i) g_blocks[i] = reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(all[i]));
}

TEST_F(Track, ClassifiesRealBlocks) {
  deep(40, make_graph);
  auto got = check();
  ASSERT_EQ(got.count(1001), 1u);
  EXPECT_EQ(got[1001].cls, LeakClass::Reachable);
  EXPECT_EQ(got[1002].cls, LeakClass::Reachable);
  EXPECT_EQ(got[1003].cls, LeakClass::Direct);
  EXPECT_EQ(got[1004].cls, LeakClass::Indirect);
  ASSERT_EQ(got.count(1005), 1u);
  ASSERT_EQ(got.count(1006), 1u);
  EXPECT_EQ(int(got[1005].cls == LeakClass::Direct) + int(got[1006].cls == LeakClass::Direct), 1);
  EXPECT_EQ(int(got[1005].cls == LeakClass::Indirect) + int(got[1006].cls == LeakClass::Indirect), 1);
  EXPECT_EQ(got.count(1007), 0u);  // ignored: never listed
  EXPECT_EQ(got[1008].cls, LeakClass::Reachable);
  EXPECT_EQ(got.count(1009), 0u);  // internal: never listed
  EXPECT_EQ(got[1010].cls, LeakClass::Reachable);
  EXPECT_EQ(got[1003].kind, Kind::Malloc);
  EXPECT_NE(got[1003].stack, 0u);

  // Freed blocks leave the report.
  release(g_kept[0]);
  release(g_kept);
  g_kept = nullptr;
  for (size_t i = 0; i < 8; ++i) release(reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(g_blocks[i])));
  got = check();
  for (uint64_t size = 1001; size <= 1010; ++size) EXPECT_EQ(got.count(size), 0u) << size;
}

// The only pointer to a block sits in a register of a thread blocked in the kernel.
constexpr uintptr_t kMask = 0x6b6b6b6b6b6b6b6bull;
uintptr_t g_hidden;

TEST_F(Track, RegisterOfAnotherThreadKeepsBlock) {
  deep(40, [] { g_hidden = reinterpret_cast<uintptr_t>(tracked(2345)) ^ kMask; });
  RegisterHolder holder(g_hidden, kMask);
  auto got = check();
  ASSERT_EQ(got.count(2345), 1u);
  EXPECT_EQ(got[2345].cls, LeakClass::Reachable);
  release(reinterpret_cast<void*>(holder.stop()));
}

// A check whose scan of this thread's stack starts at a given address (the frame of the
// _exit called) reads nothing below it: a block held only in a deeper frame is a leak.
uintptr_t g_scan_from;
__attribute__((noinline)) void held_in_frame(std::map<uint64_t, Block>* all, std::map<uint64_t, Block>* above) {
  void* volatile p = tracked(4567);
  *all = check();
  *above = check(StackFrom{false, g_scan_from});
  g_hidden = reinterpret_cast<uintptr_t>(p) ^ kMask;
}

TEST_F(Track, ScanStartsWhereTold) {
  volatile uintptr_t marker = 0;
  g_scan_from = reinterpret_cast<uintptr_t>(&marker);
  std::map<uint64_t, Block> all, above;
  held_in_frame(&all, &above);
  ASSERT_EQ(all.count(4567), 1u);
  EXPECT_EQ(all[4567].cls, LeakClass::Reachable);
  ASSERT_EQ(above.count(4567), 1u);
  EXPECT_EQ(above[4567].cls, LeakClass::Direct);
  release(reinterpret_cast<void*>(g_hidden ^ kMask));
}

// A thread left the only copy of a pointer in a returned frame, then blocked in the kernel:
// that dead stack memory is not a root, so the block is a leak (as for valgrind and LSan).
TEST_F(Track, DeadStackOfABlockedThreadIsNotARoot) {
  std::atomic<uint32_t> ready{0}, stop{0};
  std::thread t([&] {
    deep(40, [] {
      volatile uintptr_t stale = reinterpret_cast<uintptr_t>(tracked(3456));
      g_hidden = stale ^ kMask;
    });
    ready.store(1);
    while (stop.load() == 0)
      syscall(SYS_futex, &stop, FUTEX_WAIT_PRIVATE, 0, nullptr, nullptr, 0);
  });
  while (ready.load() == 0) usleep(100);
  usleep(10000);  // into the futex wait
  auto got = check();
  stop.store(1);
  syscall(SYS_futex, &stop, FUTEX_WAKE_PRIVATE, INT_MAX, nullptr, nullptr, 0);
  t.join();
  ASSERT_EQ(got.count(3456), 1u);
  EXPECT_EQ(got[3456].cls, LeakClass::Direct);
  release(reinterpret_cast<void*>(g_hidden ^ kMask));
}

// A million tracked blocks, half in a list from a global, half leaked in pairs.
void** volatile g_list;
std::vector<void*>* g_million;

void make_million() {
  constexpr size_t kN = 1000000;
  g_million->reserve(kN);
  void** prev = nullptr;
  double t0 = thread_cpu_ns();
  for (size_t i = 0; i < kN / 2; ++i) {
    auto** p = static_cast<void**>(tracked(32));
    memset(p, 0, 32);  // no stale words from earlier tests' blocks
    p[0] = prev;
    prev = p;
    g_million->push_back(reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(p)));
  }
  g_list = prev;
  for (size_t i = 0; i < kN / 4; ++i) {
    auto** owner = static_cast<void**>(tracked(40));
    memset(owner, 0, 40);
    owner[1] = tracked(48);
    memset(owner[1], 0, 48);
    g_million->push_back(reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(owner)));
    g_million->push_back(reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(owner[1])));
  }
  double t1 = thread_cpu_ns();
  std::printf("[ perf ] cpu::alloc + on_alloc (16 frames): %.1f ns CPU per block\n", (t1 - t0) / kN);
}

// Expected: the 500,000 list nodes reachable, 250,000 owners direct (40 B each), their
// children indirect. Runs in a process of its own (own_process.h).
void million_blocks_check() {
  std::vector<void*> blocks;
  g_million = &blocks;
  deep(40, make_million);
  std::map<LeakClass, size_t> count;
  std::map<LeakClass, uint64_t> bytes;
  std::pair<std::map<LeakClass, size_t>*, std::map<LeakClass, uint64_t>*> sink_ctx(&count, &bytes);
  double t0 = thread_cpu_ns();
  leak_check(
      [](Block* b, size_t n, void* ctx) {
        auto* c = static_cast<std::pair<std::map<LeakClass, size_t>*, std::map<LeakClass, uint64_t>*>*>(ctx);
        for (size_t i = 0; i < n; ++i)
          if (b[i].size == 32 || b[i].size == 40 || b[i].size == 48) {
            (*c->first)[b[i].cls]++;
            (*c->second)[b[i].cls] += b[i].size;
          }
        return false;
      },
      &sink_ctx, StackFrom{});
  double t1 = thread_cpu_ns();
  std::fprintf(stderr, "[ perf ] leak check over 1M live blocks: %.1f ms CPU\n", (t1 - t0) / 1e6);
  EXPECT_EQ(count[LeakClass::Reachable], 500000u);
  EXPECT_EQ(count[LeakClass::Direct], 250000u);
  EXPECT_EQ(count[LeakClass::Indirect], 250000u);
  EXPECT_EQ(bytes[LeakClass::Direct], 250000u * 40);
  for (void* p : blocks) release(reinterpret_cast<void*>(~reinterpret_cast<uintptr_t>(p)));
  g_list = nullptr;
}

TEST_F(Track, MillionBlocksCheck) { MPSHIM_IN_OWN_PROCESS(million_blocks_check()); }

}  // namespace
}  // namespace mpshim::track
