// Foreign blocks (device, managed, pinned memory recorded through on_foreign_alloc): the
// record store, classification of opaque blocks on a synthetic graph, and the whole leak
// check with device blocks mapped PROT_NONE, so a single read of one would crash the test.
#include "track/foreign.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <map>
#include <vector>

#include "cpu/heap.h"
#include "track/check.h"
#include "track/classify.h"
#include "track/track.h"
#include "check_helpers.h"
#include "../own_process.h"

namespace mpshim::track {
namespace {

ForeignBlock rec(uintptr_t start, uint64_t size, Memory mem = Memory::Device) {
  return ForeignBlock{start, size, 7, Kind::CuMemAlloc, mem, false};
}

TEST(ForeignStore, InsertFindEraseByAddress) {
  ForeignStore s;
  ASSERT_TRUE(s.insert(rec(0x30000, 0x100)));
  ASSERT_TRUE(s.insert(rec(0x10000, 0x100)));
  ASSERT_TRUE(s.insert(rec(0x20000, 0)));
  EXPECT_EQ(s.size(), 3u);
  ForeignBlock b{};
  ASSERT_TRUE(s.find(0x300ff, &b));  // interior
  EXPECT_EQ(b.start, 0x30000u);
  EXPECT_FALSE(s.find(0x30100, &b));  // one past the end
  EXPECT_FALSE(s.find(0xffff, &b));
  ASSERT_TRUE(s.find(0x20000, &b));  // size 0: its start only
  EXPECT_FALSE(s.find(0x20001, &b));
  EXPECT_FALSE(s.set_closing(0x30001, true));  // only by start
  ASSERT_TRUE(s.set_closing(0x30000, true));
  ASSERT_TRUE(s.find(0x30000, &b));
  EXPECT_TRUE(b.closing);
  ASSERT_TRUE(s.set_closing(0x30000, false));
  ASSERT_TRUE(s.find(0x30000, &b));
  EXPECT_FALSE(b.closing);
  EXPECT_FALSE(s.erase(0x10001));  // only by start
  ASSERT_TRUE(s.erase(0x10000, &b));
  EXPECT_EQ(b.size, 0x100u);
  EXPECT_FALSE(s.find(0x10010, &b));
  // The same start again replaces the record (its free was never seen).
  ASSERT_TRUE(s.insert(rec(0x30000, 0x40, Memory::Pinned)));
  EXPECT_EQ(s.size(), 2u);
  ASSERT_TRUE(s.find(0x30000, &b));
  EXPECT_EQ(b.mem, Memory::Pinned);
  EXPECT_FALSE(s.find(0x30040, &b));
  EXPECT_TRUE(s.ignore(0x30010));
  ASSERT_TRUE(s.find(0x30000, &b));
  EXPECT_TRUE(b.ignored);
  s.release();
  EXPECT_EQ(s.size(), 0u);
}

TEST(ForeignStore, GrowsAndWalksInAddressOrder) {
  ForeignStore s;
  constexpr size_t kN = 5000;  // several pages of records
  for (size_t i = 0; i < kN; ++i) ASSERT_TRUE(s.insert(rec(((i * 7919) % kN + 1) << 12, 4096)));
  EXPECT_EQ(s.size(), kN);
  std::vector<uintptr_t> seen;
  s.lock();
  s.for_each_locked([](const ForeignBlock& b, void* ctx) {
    static_cast<std::vector<uintptr_t>*>(ctx)->push_back(b.start);
  }, &seen);
  uintptr_t lo, hi;
  s.mapping_locked(&lo, &hi);
  s.unlock();
  ASSERT_EQ(seen.size(), kN);
  for (size_t i = 0; i < kN; ++i) EXPECT_EQ(seen[i], (i + 1) << 12);
  EXPECT_GE(hi - lo, kN * sizeof(ForeignBlock));
  for (size_t i = 0; i < kN; i += 2) ASSERT_TRUE(s.erase((i + 1) << 12));
  EXPECT_EQ(s.size(), kN / 2);
  ForeignBlock b{};
  EXPECT_FALSE(s.find((1 << 12) + 5, &b));
  ASSERT_TRUE(s.find((2 << 12) + 5, &b));
  EXPECT_EQ(b.start, uintptr_t(2) << 12);
  s.release();
}

// Memory that faults on any access, standing for device memory.
struct NoAccess {
  explicit NoAccess(size_t n) : size(n) {
    p = mmap(nullptr, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    EXPECT_NE(p, MAP_FAILED);
  }
  ~NoAccess() { munmap(p, size); }
  uintptr_t addr(size_t off = 0) const { return reinterpret_cast<uintptr_t>(p) + off; }
  void* p;
  size_t size;
};

TEST(ClassifyOpaque, DeviceBlocksAreClassifiedByPointersAndNeverRead) {
  NoAccess dev(3 * 4096);
  std::vector<uintptr_t> host(8, 0);  // block 3: words 0..3, block 4: words 4..7
  std::vector<ScanBlock> b = {
      {dev.addr(0), 4096, 0, false, Reach::Unvisited, true},
      {dev.addr(4096), 4096, 0, false, Reach::Unvisited, true},
      {dev.addr(8192), 4096, 0, false, Reach::Unvisited, true},
      {reinterpret_cast<uintptr_t>(&host[0]), 32, 0, false, Reach::Unvisited},
      {reinterpret_cast<uintptr_t>(&host[4]), 32, 0, false, Reach::Unvisited},
  };
  host[1] = dev.addr(8192 + 100);  // leaked host block 3 holds device block 2 (interior)
  host[4] = dev.addr(4096);        // reachable host block 4 holds device block 1
  std::vector<uintptr_t> roots = {dev.addr(10), reinterpret_cast<uintptr_t>(&host[4])};
  ScanRange r{reinterpret_cast<uintptr_t>(roots.data()),
              reinterpret_cast<uintptr_t>(roots.data() + roots.size())};
  auto find = [](uintptr_t a, void* ctx) -> uintptr_t {
    for (const ScanBlock& s : *static_cast<std::vector<ScanBlock>*>(ctx))
      if (a - s.start < s.size) return s.start;
    return 0;
  };
  ASSERT_TRUE(classify(b.data(), b.size(), &r, 1, find, &b));
  EXPECT_EQ(b[0].reach, Reach::Reachable);  // from a root, interior pointer
  EXPECT_EQ(b[1].reach, Reach::Reachable);  // through a reachable host block
  EXPECT_EQ(b[2].reach, Reach::Indirect);   // only through a leaked host block
  EXPECT_EQ(b[3].reach, Reach::Direct);
  EXPECT_EQ(b[4].reach, Reach::Reachable);
}

// ---- the whole check -------------------------------------------------------------------

using namespace checktest;

uintptr_t hide(const void* p) { return ~reinterpret_cast<uintptr_t>(p); }
void* unhide(uintptr_t v) { return reinterpret_cast<void*>(~v); }

// Device blocks lie in one PROT_NONE mapping and pinned blocks in one read-write mapping,
// each at 8 KiB steps from the second step on: the mappings' own addresses, which the
// test keeps, point at no block.
constexpr size_t kStep = 8192;
uintptr_t g_dev;        // the device mapping
uintptr_t g_pin;        // the pinned mapping
volatile uintptr_t g_dev_kept;  // a root: the program's global holding a device pointer
void* volatile g_pinned_kept;  // a root holding a pinned block
uintptr_t g_hidden[3];  // for cleanup, in a form the scan does not see as pointers

void* dev(size_t k, size_t off = 0) { return reinterpret_cast<void*>(g_dev + k * kStep + off); }
void** pin(size_t k) { return reinterpret_cast<void**>(g_pin + k * kStep); }

void make_graph() {
  on_foreign_alloc(dev(1), 5001, Kind::CuMemAlloc, Memory::Device);
  g_dev_kept = reinterpret_cast<uintptr_t>(dev(1, 16));  // interior
  on_foreign_alloc(dev(2), 5002, Kind::CuMemAlloc, Memory::Device);  // referenced nowhere
  on_foreign_alloc(dev(3), 5003, Kind::CuMemAllocPitch, Memory::Device);
  auto** owner = static_cast<void**>(tracked(5004));  // a leaked host block holds it
  owner[0] = dev(3, 64);
  on_foreign_alloc(dev(4), 5009, Kind::CuMemAlloc, Memory::Device);
  ignore(dev(4, 8));  // never reported
  // Pinned blocks are scanned like host blocks, and are no root themselves.
  on_foreign_alloc(pin(1), 5005, Kind::CuMemAllocHost, Memory::Pinned);
  g_pinned_kept = pin(1);
  pin(1)[0] = tracked(5006);  // reachable through the kept pinned block
  on_foreign_alloc(pin(2), 5007, Kind::CuMemHostAlloc, Memory::Pinned);
  pin(2)[0] = tracked(5008);  // indirect: held only by a leaked pinned block
  g_hidden[0] = hide(owner);
  g_hidden[1] = hide(pin(1)[0]);
  g_hidden[2] = hide(pin(2)[0]);
}

class Foreign : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!enabled()) init();  // before the allocator's first block: enables tags
    ASSERT_TRUE(enabled());
  }
};

void device_and_pinned_blocks() {
  NoAccess device(5 * kStep);
  g_dev = device.addr();
  void* pinned = mmap(nullptr, 3 * kStep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(pinned, MAP_FAILED);
  g_pin = reinterpret_cast<uintptr_t>(pinned);
  deep(40, make_graph);
  auto got = check();
  for (uint64_t size : {5001, 5002, 5003, 5004, 5005, 5006, 5007, 5008})
    ASSERT_EQ(got.count(size), 1u) << size;
  EXPECT_EQ(got[5001].cls, LeakClass::Reachable);
  EXPECT_EQ(got[5002].cls, LeakClass::Direct);
  EXPECT_EQ(got[5003].cls, LeakClass::Indirect);
  EXPECT_EQ(got[5004].cls, LeakClass::Direct);
  EXPECT_EQ(got[5005].cls, LeakClass::Reachable);
  EXPECT_EQ(got[5006].cls, LeakClass::Reachable);
  EXPECT_EQ(got[5007].cls, LeakClass::Direct);
  EXPECT_EQ(got[5008].cls, LeakClass::Indirect);
  EXPECT_EQ(got.count(5009), 0u);  // ignored
  EXPECT_EQ(got[5002].mem, Memory::Device);
  EXPECT_EQ(got[5002].kind, Kind::CuMemAlloc);
  EXPECT_NE(got[5002].stack, 0u);
  EXPECT_EQ(got[5003].kind, Kind::CuMemAllocPitch);
  EXPECT_EQ(got[5005].mem, Memory::Pinned);
  EXPECT_EQ(got[5004].mem, Memory::Host);

  // Forgotten blocks leave the report; a second free is refused.
  for (size_t k = 1; k <= 4; ++k) EXPECT_TRUE(on_foreign_free(dev(k)));
  EXPECT_FALSE(on_foreign_free(dev(1)));
  EXPECT_TRUE(on_foreign_free(pin(1)));
  EXPECT_TRUE(on_foreign_free(pin(2)));
  for (uintptr_t h : g_hidden) release(unhide(h));
  got = check();
  for (uint64_t size = 5001; size <= 5009; ++size) EXPECT_EQ(got.count(size), 0u) << size;
  munmap(pinned, 3 * kStep);
  g_dev = g_pin = 0;
  g_dev_kept = 0;
  g_pinned_kept = nullptr;
}

TEST_F(Foreign, DeviceAndPinnedBlocksInTheLeakCheck) {
  MPSHIM_IN_OWN_PROCESS(device_and_pinned_blocks());
}

// A pinned block being freed: the driver may unmap it before its record goes, so a check
// meanwhile must not read it (PROT_NONE here: one read would crash the test). It is still
// listed; once the free is refused it is scanned again.
void record_closing() { on_foreign_alloc(dev(1), 6001, Kind::CuMemAllocHost, Memory::Pinned); }
void fill_pinned() {
  static_cast<void**>(dev(1))[0] = tracked(6002);
  g_hidden[0] = hide(static_cast<void**>(dev(1))[0]);
}

void closing_pinned_block() {
  NoAccess gone(2 * kStep);
  g_dev = gone.addr();
  deep(40, record_closing);
  on_foreign_closing(dev(1), true);
  auto got = check();
  ASSERT_EQ(got.count(6001), 1u);
  EXPECT_EQ(got[6001].cls, LeakClass::Direct);
  EXPECT_EQ(got[6001].mem, Memory::Pinned);
  void* readable = mmap(dev(1), kStep, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  ASSERT_EQ(readable, dev(1));
  deep(40, fill_pinned);
  on_foreign_closing(dev(1), false);
  got = check();
  ASSERT_EQ(got.count(6002), 1u);
  EXPECT_NE(got[6002].cls, LeakClass::Direct);  // read again: the pinned block holds it
  EXPECT_TRUE(on_foreign_free(dev(1)));
  release(unhide(g_hidden[0]));
  g_dev = 0;
}

TEST_F(Foreign, BlockBeingFreedIsNotRead) { MPSHIM_IN_OWN_PROCESS(closing_pinned_block()); }

}  // namespace
}  // namespace mpshim::track
