// Stack capture: the caller's frames come first, `skip` drops the tracker's own frames,
// the depth is honoured, and the cost of a 16-frame capture.
#include "track/capture.h"

#include <gtest/gtest.h>
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

#include "perf_clock.h"

namespace mpshim::track {
namespace {

struct Probe {
  size_t depth, skip, n;
  long iters;  // captures made at the leaf (0: one)
  uintptr_t pcs[kMaxDepth];
  uintptr_t leaf_ra;   // return address of the leaf into its caller
  uintptr_t leaf_fn;   // the leaf's entry
};

// Recurses `levels` times, then captures; each level is a distinct frame.
__attribute__((noinline)) void leaf(Probe* p) {
  for (long i = 0; i < (p->iters > 0 ? p->iters : 1); ++i)
    p->n = capture_stack(p->pcs, p->depth, p->skip);
  p->leaf_ra = reinterpret_cast<uintptr_t>(__builtin_return_address(0));
  p->leaf_fn = reinterpret_cast<uintptr_t>(&leaf);
  asm volatile("" ::: "memory");  // keeps the capture from being a tail call
}

void recurse(Probe* p, int levels);
// Called through a volatile pointer so the compiler can neither inline nor unroll the
// recursion: every level is a real frame with the same return address.
void (*volatile g_recurse)(Probe*, int) = recurse;

__attribute__((noinline)) void recurse(Probe* p, int levels) {
  if (levels == 0)
    leaf(p);
  else
    g_recurse(p, levels - 1);
  asm volatile("" ::: "memory");
}

class Capture : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { capture_init(); }
};

TEST_F(Capture, CallerFirstThenItsCallers) {
  Probe p{};
  p.depth = 8;
  recurse(&p, 10);
  ASSERT_EQ(p.n, 8u);
  EXPECT_GE(p.pcs[0], p.leaf_fn);  // a pc inside leaf()
  EXPECT_LT(p.pcs[0], p.leaf_fn + 256);
  EXPECT_EQ(p.pcs[1], p.leaf_ra);
  EXPECT_NE(p.pcs[2], p.pcs[1]);  // the recursive call site, not the leaf's
  for (size_t i = 3; i < 8; ++i) EXPECT_EQ(p.pcs[i], p.pcs[2]) << "recursion frame " << i;
}

TEST_F(Capture, SkipDropsTheCallersOwnFrames) {
  Probe p{};
  p.depth = 4;
  p.skip = 1;
  recurse(&p, 10);
  ASSERT_EQ(p.n, 4u);
  EXPECT_EQ(p.pcs[0], p.leaf_ra);
}

TEST_F(Capture, DepthIsHonoured) {
  for (size_t depth : {size_t(0), size_t(1), size_t(5), size_t(16), kMaxDepth}) {
    Probe p{};
    p.depth = depth;
    recurse(&p, 100);
    EXPECT_EQ(p.n, depth);
  }
  Probe p{};
  p.depth = 64;
  recurse(&p, 3);  // the whole stack is shorter than the depth
  EXPECT_GT(p.n, 4u);
  EXPECT_LT(p.n, 64u);
}

TEST_F(Capture, NoOwnObjectWhenLinkedIntoAProgram) {
  EXPECT_FALSE(capture_skips_own_object());
  EXPECT_FALSE(in_own_object(reinterpret_cast<uintptr_t>(&leaf)));
}

TEST_F(Capture, DynamicLinkerRange) {
  void* in_ld = dlsym(RTLD_DEFAULT, "__tls_get_addr");  // defined by ld.so
  ASSERT_NE(in_ld, nullptr);
  EXPECT_TRUE(in_dynamic_linker(reinterpret_cast<uintptr_t>(in_ld)));
  EXPECT_FALSE(in_dynamic_linker(reinterpret_cast<uintptr_t>(&leaf)));
  EXPECT_FALSE(in_dynamic_linker(reinterpret_cast<uintptr_t>(&dl_iterate_phdr)));  // libc
}

// In a child: exit() from inside a function runs an atexit handler, which must find the
// frame that called exit() above its own.
uintptr_t g_exit_caller_sp;
void at_exit_handler() {
  uintptr_t sp = 0, regs[8];
  size_t nregs = 0;
  int here = 0;
  bool found = exit_caller_frame(&sp, regs, 8, &nregs);
  bool ok = found && sp > reinterpret_cast<uintptr_t>(&here) && sp <= g_exit_caller_sp &&
            nregs == 6;
  _exit(ok ? 0 : 1);
}

__attribute__((noinline)) void call_exit() {
  volatile int frame_marker = 0;
  g_exit_caller_sp = reinterpret_cast<uintptr_t>(&frame_marker) + 64;
  std::exit(0);
}

TEST_F(Capture, FindsTheFrameThatCalledExit) {
  uintptr_t sp = 0, regs[8];
  size_t nregs = 0;
  EXPECT_FALSE(exit_caller_frame(&sp, regs, 8, &nregs));  // not exiting
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    atexit(at_exit_handler);
    call_exit();
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Inside a signal handler the walk meets the kernel's signal frame, which only libunwind
// can step through: the capture must still reach the interrupted code's callers.
Probe g_in_handler;
void* g_handler_raw[kMaxDepth];
int g_handler_raw_n;
void on_signal(int) {
  g_handler_raw_n = unw_backtrace(g_handler_raw, kMaxDepth);
  recurse(&g_in_handler, 1);
}

TEST_F(Capture, ThroughASignalFrame) {
  struct sigaction sa = {}, old = {};
  sa.sa_handler = on_signal;
  ASSERT_EQ(sigaction(SIGUSR2, &sa, &old), 0);
  g_in_handler = Probe{};
  g_in_handler.depth = kMaxDepth;
  raise(SIGUSR2);
  sigaction(SIGUSR2, &old, nullptr);
  // The capture (leaf, recurse x2, on_signal, ...) ends with libunwind's frames from the
  // signal frame on; compare the outermost frames, which both reach.
  ASSERT_GT(g_handler_raw_n, 4);
  ASSERT_GT(g_in_handler.n, 6u);
  size_t tail = size_t(g_handler_raw_n) - 1;  // frames above on_signal in libunwind's list
  ASSERT_GE(g_in_handler.n, tail);
  for (size_t i = 1; i <= tail - 1; ++i)
    EXPECT_EQ(g_in_handler.pcs[g_in_handler.n - i],
              reinterpret_cast<uintptr_t>(g_handler_raw[g_handler_raw_n - i]))
        << "frame " << i << " from the outermost";
}

void* g_raw[kMaxDepth + 8];
long g_raw_iters;
void raw_recurse(int levels);
void (*volatile g_raw_recurse)(int) = raw_recurse;
__attribute__((noinline)) void raw_recurse(int levels) {
  if (levels == 0)
    for (long i = 0; i < g_raw_iters; ++i) unw_backtrace(g_raw, 18);
  else
    g_raw_recurse(levels - 1);
  asm volatile("" ::: "memory");
}

// Captures repeated at the bottom of one 30-frame stack (without a memo: every frame is
// stepped), against libunwind's own walk of as many frames.
TEST_F(Capture, CostOfA16FrameCapture) {
  constexpr long kIters = 200000;
  Probe p{};
  p.depth = 16;
  p.skip = 1;
  recurse(&p, 30);  // fills the walker's cache
  g_raw_iters = 1;
  raw_recurse(30);
  p.iters = kIters;
  g_raw_iters = kIters;
  double t0 = thread_cpu_ns();
  recurse(&p, 30);
  double t1 = thread_cpu_ns();
  raw_recurse(30);
  double t2 = thread_cpu_ns();
  ASSERT_EQ(p.n, 16u);
  std::printf("[ perf ] capture of 16 frames: %.1f ns CPU (unw_backtrace of 18 frames: %.1f ns)\n",
              (t1 - t0) / kIters, (t2 - t1) / kIters);
}

}  // namespace
}  // namespace mpshim::track
