// Root ranges: which /proc/self/maps lines count, range subtraction, lookup.
#include "track/roots.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/mman.h>

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <thread>
#include <vector>

#include "prim/fs.h"
#include "prim/os.h"
#include "register_holder.h"

namespace mpshim::track {
namespace {

TEST(Roots, ParseKeepsReadableWritableMemoryOnly) {
  const char* text =
      "55d0a000-55d0b000 r--p 00000000 08:01 123 /usr/bin/app\n"
      "55d0b000-55d0c000 r-xp 00001000 08:01 123 /usr/bin/app\n"
      "55d0c000-55d0d000 rw-p 00002000 08:01 123 /usr/bin/app\n"
      "55d0d000-55d2e000 rw-p 00000000 00:00 0                          [heap]\n"
      "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
      "7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \n"
      "7f0000900000-7f0000a00000 rw-s 00000000 00:05 77                 /dev/nvidia0\n"
      "7f0000a00000-7f0000b00000 rw-s 00000000 00:01 78                 /dev/zero (deleted)\n"
      "7f0000b00000-7f0000c00000 rw-s 00000000 00:1a 79                 /dev/shm/seg\n"
      "7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                  [stack]\n"
      "7ffd00100000-7ffd00104000 r--p 00000000 00:00 0                  [vvar]\n"
      "7ffd00104000-7ffd00106000 r-xp 00000000 00:00 0                  [vdso]\n"
      "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0          [vsyscall]";
  ScanRange out[16];
  size_t n = parse_maps(text, strlen(text), out, 16);
  ASSERT_EQ(n, 6u);
  EXPECT_EQ(out[0].lo, 0x55d0c000u);
  EXPECT_EQ(out[0].hi, 0x55d0d000u);
  EXPECT_EQ(out[1].lo, 0x55d0d000u);
  EXPECT_EQ(out[2].lo, 0x7f0000001000u);
  EXPECT_EQ(out[3].lo, 0x7f0000a00000u);  // /dev/zero is anonymous shared memory
  EXPECT_EQ(out[4].lo, 0x7f0000b00000u);
  EXPECT_EQ(out[5].hi, 0x7ffd00021000u);
  EXPECT_EQ(parse_maps(text, strlen(text), nullptr, 0), 6u);  // counting only
}

TEST(Roots, GuardedAnonymousMappingsLookLikeThreadStacks) {
  const char* text =
      "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
      "7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \n"         // a thread stack
      "7f0000900000-7f0000a00000 rw-p 00000000 00:00 0 \n"         // no guard below
      "7f0000a00000-7f0010a00000 ---p 00000000 00:00 0 \n"         // a big reservation
      "7f0010a00000-7f0010b00000 rw-p 00000000 00:00 0 \n"         // its committed part
      "7f0010b00000-7f0010b01000 ---p 00000000 00:00 0 \n"
      "7f0010b01000-7f0010b02000 rw-p 00000000 08:01 5 /lib/x.so\n";  // file-backed
  ScanRange out[8];
  bool guarded[8];
  ASSERT_EQ(parse_maps(text, strlen(text), out, 8, guarded), 4u);
  EXPECT_TRUE(guarded[0]);
  EXPECT_FALSE(guarded[1]);
  EXPECT_FALSE(guarded[2]);
  EXPECT_FALSE(guarded[3]);
}

TEST(Roots, UnreadableMappings) {
  const char* text =
      "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
      "7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \n"
      "7f0000801000-7f0000802000 -w-p 00000000 00:00 0 \n"  // write-only: not readable
      "7f0000802000-7f0000803000 r--p 00000000 00:00 0 \n"
      "7f0000803000-7f0000804000 --xp 00000000 08:01 5 /lib/x.so\n"
      "garbage line\n";
  ScanRange out[8];
  ASSERT_EQ(parse_unreadable(text, strlen(text), out, 8), 3u);
  EXPECT_EQ(out[0].lo, 0x7f0000000000u);
  EXPECT_EQ(out[0].hi, 0x7f0000001000u);
  EXPECT_EQ(out[1].lo, 0x7f0000801000u);
  EXPECT_EQ(out[2].lo, 0x7f0000803000u);
  EXPECT_EQ(parse_unreadable(text, strlen(text), nullptr, 0), 3u);
}

TEST(Roots, PrivateWritableMappingsOfASize) {
  const char* text =
      "7f0000000000-7f0000100000 rw-p 00000000 00:00 0 \n"           // 1 MiB: kept
      "7f0000100000-7f0000101000 rw-p 00000000 00:00 0 \n"           // too small
      "7f0000200000-7f0000300000 rw-s 00000000 00:05 7 /dev/shm/x\n"  // shared: a page
                                                                    // not in memory may
                                                                    // hold what was written
      "7f0000300000-7f0000400000 r--p 00000000 08:01 5 /lib/x.so\n"   // read-only
      "7f0000400000-7f0000600000 rwxp 00000000 00:00 0 \n"           // kept
      "7f0000600000-7f0000700000 rw-p 00000000 08:01 1234 /tmp/f\n"  // a file's: a page
                                                                    // not in memory holds
                                                                    // the file's bytes
      "7f0000700000-7f0000800000 rw-p 00000000 00:01 5 /memfd:m (deleted)\n"
      "7f0000800000-7f0000900000 rw-p 00001000 08:01 10 /lib/x.so\n";  // a module's data
  ScanRange out[8];
  ASSERT_EQ(parse_private(text, strlen(text), out, 8, 64 << 10), 2u);
  EXPECT_EQ(out[0].lo, 0x7f0000000000u);
  EXPECT_EQ(out[0].hi, 0x7f0000100000u);
  EXPECT_EQ(out[1].lo, 0x7f0000400000u);
  EXPECT_EQ(out[1].hi, 0x7f0000600000u);
  EXPECT_EQ(parse_private(text, strlen(text), nullptr, 0, 64 << 10), 2u);
}

// The runs of pages neither in memory nor in swap, as pagemap tells them.
TEST(Roots, UntouchedRunsOfAMapping) {
  const size_t page = 4096, n = 64;
  char* m = static_cast<char*>(mmap(nullptr, n * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(m, MAP_FAILED);
  m[3 * page] = 1;                                    // written
  EXPECT_EQ(*(volatile char*)(m + 40 * page), 0);     // read: the zero page
  m[41 * page + 7] = 1;
  std::vector<ScanRange> runs;
  auto add = [](uintptr_t lo, uintptr_t hi, void* ctx) {
    static_cast<std::vector<ScanRange>*>(ctx)->push_back({lo, hi});
  };
  uintptr_t lo = uintptr_t(m);
  ASSERT_TRUE(prim::for_each_untouched(lo, lo + n * page, page, add, &runs));
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].lo, lo);
  EXPECT_EQ(runs[0].hi, lo + 3 * page);
  EXPECT_EQ(runs[1].lo, lo + 4 * page);
  EXPECT_EQ(runs[1].hi, lo + 40 * page);
  EXPECT_EQ(runs[2].lo, lo + 42 * page);
  EXPECT_EQ(runs[2].hi, lo + n * page);
  runs.clear();  // shorter runs than asked for are left out
  ASSERT_TRUE(prim::for_each_untouched(lo, lo + n * page, 20 * page, add, &runs));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].lo, lo + 4 * page);
  EXPECT_EQ(runs[1].lo, lo + 42 * page);
  munmap(m, n * page);
}

TEST(Roots, ReadableRangesMergeNeighbours) {
  const char* text =
      "7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n"
      "7f0000001000-7f0000002000 rw-p 00000000 00:00 0 \n"
      "7f0000002000-7f0000003000 r--p 00000000 08:01 5 /lib/x.so\n"  // continues it
      "7f0000004000-7f0000005000 r-xp 00000000 08:01 5 /lib/x.so\n"  // after a gap
      "7f0000005000-7f0000006000 -w-p 00000000 00:00 0 \n"
      "garbage line\n";
  ScanRange out[8];
  size_t counted = parse_readable(text, strlen(text), nullptr, 0);
  ASSERT_GE(counted, 2u);
  ASSERT_EQ(parse_readable(text, strlen(text), out, counted), 2u);
  EXPECT_EQ(out[0].lo, 0x7f0000001000u);
  EXPECT_EQ(out[0].hi, 0x7f0000003000u);
  EXPECT_EQ(out[1].lo, 0x7f0000004000u);
  EXPECT_EQ(out[1].hi, 0x7f0000005000u);
}

TEST(Roots, OtherTasksWithTheStackPointerOfABlockedThread) {
  std::atomic<uintptr_t> local_addr{0};
  std::atomic<bool> stop{false};
  std::thread t([&] {
    int local = 0;
    local_addr = reinterpret_cast<uintptr_t>(&local);
    while (!stop) usleep(1000);  // blocked in the kernel most of the time
  });
  while (local_addr == 0) usleep(100);
  usleep(20000);
  TaskInfo tasks[64];
  size_t n = 0;
  bool found = false;
  for (int attempt = 0; attempt < 50 && !found; ++attempt) {
    n = list_other_tasks(tasks, 64);
    for (size_t i = 0; i < n && i < 64; ++i)
      found |= tasks[i].sp != 0 && tasks[i].sp < local_addr && local_addr - tasks[i].sp < 65536;
    if (!found) usleep(1000);
  }
  stop = true;
  t.join();
  EXPECT_GE(n, 1u);
  EXPECT_TRUE(found);
}

constexpr uintptr_t kMask = 0x5c5c5c5c5c5c5c5cull;

bool sigurg_is_default() {
  struct sigaction sa {};
  return sigaction(SIGURG, nullptr, &sa) == 0 && sa.sa_handler == SIG_DFL;
}

TEST(Roots, SnapshotTakesTheRegistersOfABlockedThread) {
  const uintptr_t value = 0x123456789abcull;
  RegisterHolder holder(value ^ kMask, kMask);
  ThreadRegs t[1] = {};
  t[0].tid = holder.tid();
  EXPECT_EQ(snapshot_registers(t, 1, 2'000'000'000), 1u);
  EXPECT_EQ(t[0].answered.load(), 1u);
  EXPECT_EQ(t[0].regs[REG_R12 - REG_R8], value);
  EXPECT_NE(t[0].regs[kThreadRegSp], 0u);
  EXPECT_TRUE(sigurg_is_default());
  EXPECT_EQ(holder.stop(), value);  // the wait went on after the signal
}

void program_handler(int) {}

TEST(Roots, SnapshotLeavesTheProgramsOwnHandlerAlone) {
  RegisterHolder holder(kMask, kMask);
  struct sigaction mine {}, old {};
  mine.sa_handler = program_handler;
  ASSERT_EQ(sigaction(SIGURG, &mine, &old), 0);
  ThreadRegs t[1] = {};
  t[0].tid = holder.tid();
  EXPECT_EQ(snapshot_registers(t, 1, 2'000'000'000), 0u);
  struct sigaction now {};
  sigaction(SIGURG, &old, &now);
  EXPECT_EQ(now.sa_handler, program_handler);
}

TEST(Roots, SnapshotDoesNotWaitForAThreadThatBlocksTheSignal) {
  std::atomic<int> tid{0};
  std::atomic<bool> stop{false};
  std::thread blocking([&] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGURG);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    tid = int(syscall(SYS_gettid));
    while (!stop) usleep(1000);
  });
  while (tid == 0) usleep(100);
  ThreadRegs t[1] = {};
  t[0].tid = tid;
  uint64_t t0 = prim::now_ns();
  EXPECT_EQ(snapshot_registers(t, 1, 5'000'000'000), 0u);
  EXPECT_LT(prim::now_ns() - t0, 1'000'000'000u);
  EXPECT_TRUE(sigurg_is_default());
  stop = true;
  blocking.join();
}

// A thread in poll(2) would see EINTR from a handler even under SA_RESTART: it is not
// asked, and its poll goes on undisturbed.
TEST(Roots, SnapshotLeavesAThreadInPollUndisturbed) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  std::atomic<int> tid{0};
  int result = -2, error = 0;
  std::thread waiting([&] {
    tid = int(syscall(SYS_gettid));
    pollfd p{fds[0], POLLIN, 0};
    result = poll(&p, 1, -1);
    error = errno;
  });
  while (tid == 0) usleep(100);
  usleep(20000);  // into poll
  ThreadRegs t[1] = {};
  t[0].tid = tid;
  EXPECT_EQ(snapshot_registers(t, 1, 500'000'000), 0u);
  usleep(20000);
  EXPECT_EQ(result, -2) << "poll returned early, errno " << error;
  ASSERT_EQ(write(fds[1], "x", 1), 1);
  waiting.join();
  EXPECT_EQ(result, 1);
  close(fds[0]);
  close(fds[1]);
}

TEST(Roots, ParseReadsTheRealMapsFile) {
  Scratch s;
  size_t len = 0;
  const char* text = read_maps(s, &len);
  ASSERT_NE(text, nullptr);
  ASSERT_GT(len, 100u);
  std::vector<ScanRange> r(parse_maps(text, len, nullptr, 0));
  parse_maps(text, len, r.data(), r.size());
  static int global_var = 1;
  int local_var = 2;
  EXPECT_GE(find_range(r.data(), r.size(), reinterpret_cast<uintptr_t>(&global_var)), 0);
  EXPECT_GE(find_range(r.data(), r.size(), reinterpret_cast<uintptr_t>(&local_var)), 0);
  EXPECT_LT(find_range(r.data(), r.size(), reinterpret_cast<uintptr_t>(&parse_maps)), 0);
  for (size_t i = 1; i < r.size(); ++i) EXPECT_LE(r[i - 1].hi, r[i].lo);
}

TEST(Roots, SubtractHoles) {
  const ScanRange ranges[] = {{100, 200}, {300, 400}, {500, 600}};
  // Unsorted, overlapping, spanning several ranges, touching edges.
  ScanRange holes[] = {{350, 360}, {150, 320}, {355, 370}, {590, 700}, {500, 510}, {0, 50}};
  ScanRange out[16];
  size_t n = subtract_ranges(ranges, 3, holes, 6, out);
  const std::vector<std::pair<uintptr_t, uintptr_t>> want = {
      {100, 150}, {320, 350}, {370, 400}, {510, 590}};
  ASSERT_EQ(n, want.size());
  for (size_t i = 0; i < n; ++i) {
    EXPECT_EQ(out[i].lo, want[i].first) << i;
    EXPECT_EQ(out[i].hi, want[i].second) << i;
  }
}

TEST(Roots, SubtractNothingAndEverything) {
  const ScanRange ranges[] = {{100, 200}, {300, 400}};
  ScanRange out[8];
  EXPECT_EQ(subtract_ranges(ranges, 2, nullptr, 0, out), 2u);
  ScanRange all[] = {{0, 1000}};
  EXPECT_EQ(subtract_ranges(ranges, 2, all, 1, out), 0u);
}

TEST(Roots, SortAndFind) {
  std::vector<ScanRange> r;
  for (uintptr_t i = 0; i < 1000; ++i) r.push_back({(i * 7919 % 1000) * 10, (i * 7919 % 1000) * 10 + 5});
  sort_ranges(r.data(), r.size());
  for (size_t i = 1; i < r.size(); ++i) ASSERT_LT(r[i - 1].lo, r[i].lo);
  EXPECT_EQ(find_range(r.data(), r.size(), 4242), 424);
  EXPECT_EQ(find_range(r.data(), r.size(), 4247), -1);
  EXPECT_EQ(find_range(r.data(), r.size(), 99999), -1);
}

}  // namespace
}  // namespace mpshim::track
