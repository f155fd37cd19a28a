// The fake CUDA stack on its own (no shim): the nvcc-built programs and driver_api run on
// libcudart.so.13 and libcuda.so.1 through LD_LIBRARY_PATH, and their output is checked.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <string>

#ifndef FAKE_CUDA_LIB_DIR
#error FAKE_CUDA_LIB_DIR must name the folder of libcuda.so.1 and libcudart.so.13
#endif

namespace {

struct Result {
  int status = -1;
  std::string out;
};

// Runs a program of tests/cuda/programs with the fake stack and `env` ("A=1 B=2").
Result run(const std::string& program, const std::string& args = "", const std::string& env = "") {
  std::string cmd = "env LD_LIBRARY_PATH=" FAKE_CUDA_LIB_DIR " " + env + " " +
                    CUDA_PROGRAMS_DIR "/" + program + " " + args + " 2>&1";
  Result r;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  return r;
}

bool has(const Result& r, const std::string& text) { return r.out.find(text) != std::string::npos; }

#define NEEDS_NVCC() \
  if (!CUDA_NVCC_FOUND) GTEST_SKIP() << "nvcc not found: the CUDA programs were not built"

TEST(FakeCudart, ExportsTheRealRuntimesVersionNode) {
  void* h = dlopen(FAKE_CUDA_LIB_DIR "/libcudart.so.13", RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(h, nullptr) << dlerror();
  for (const char* name : {"cudaMalloc", "cudaFree", "cudaMallocAsync_ptsz", "cudaMemcpy_ptds",
                           "__cudaRegisterFatBinary", "__cudaRegisterFatBinaryEnd",
                           "__cudaUnregisterFatBinary", "__cudaRegisterFunction",
                           "__cudaPushCallConfiguration", "__cudaPopCallConfiguration",
                           "__cudaGetKernel", "__cudaLaunchKernel", "__cudaLaunchKernel_ptsz",
                           "cudaLaunchKernel", "cudaStreamBeginCapture_ptsz"})
    EXPECT_NE(dlvsym(h, name, "libcudart.so.13"), nullptr) << name;
  EXPECT_EQ(dlsym(h, "cuGetProcAddress_v2"), nullptr) << "the runtime must not define driver API";
  dlclose(h);
}

TEST(FakeCudart, DriverApiThroughGetProcAddress) {
  Result r = run("driver_api", "100");
  EXPECT_EQ(r.status, 0) << r.out;
  // The last byte of each block is the iteration's memset value: sum of 0..99.
  EXPECT_TRUE(has(r, "iterations=100 checksum=4950")) << r.out;
}

TEST(FakeCudart, HostOnlyProgram) {
  NEEDS_NVCC();
  Result r = run("host_only");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "devices=1 error=cudaSuccess")) << r.out;
  r = run("host_only", "", "FAKECUDA_DEVICES=3");
  EXPECT_TRUE(has(r, "devices=3 error=cudaSuccess")) << r.out;
}

TEST(FakeCudart, KernelsRunThroughTheDriver) {
  NEEDS_NVCC();
  for (const char* env : {"", "FAKECUDA_ASYNC=1"}) {
    Result r = run("loop", "50", env);
    EXPECT_EQ(r.status, 0) << env << r.out;
    // Iteration i writes i into every element and reads back the last one.
    EXPECT_TRUE(has(r, "iterations=50 checksum=1225")) << env << r.out;
  }
}

TEST(FakeCudart, ThreadsWithTheirOwnStreams) {
  NEEDS_NVCC();
  for (const char* env : {"", "FAKECUDA_ASYNC=1"}) {
    Result r = run("threads", "", env);
    EXPECT_EQ(r.status, 0) << env << r.out;
    EXPECT_TRUE(has(r, "threads=8 iterations=100 errors=0")) << env << r.out;
  }
}

// Compiled with --default-stream per-thread, the programs call the _ptsz/_ptds exports, which
// use the driver's per-thread-default-stream entry points.
TEST(FakeCudart, PerThreadDefaultStreamPrograms) {
  NEEDS_NVCC();
  for (const char* env : {"", "FAKECUDA_ASYNC=1"}) {
    Result r = run("loop_ptds", "50", env);
    EXPECT_EQ(r.status, 0) << env << r.out;
    EXPECT_TRUE(has(r, "iterations=50 checksum=1225")) << env << r.out;
    r = run("threads_ptds", "", env);
    EXPECT_EQ(r.status, 0) << env << r.out;
    EXPECT_TRUE(has(r, "threads=8 iterations=100 errors=0")) << env << r.out;
  }
}

TEST(FakeCudart, StreamOrderedAllocation) {
  NEEDS_NVCC();
  Result r = run("async_alloc", "", "FAKECUDA_ASYNC=1");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "async rounds=80 errors=0")) << r.out;
}

// cudaFree synchronises the device (cuMemFree_v2 does), so without a cache in front no
// stream pair can see a reused block overwritten by the earlier owner's kernel.
TEST(FakeCudart, FreeSynchronisesSoReuseIsSafe) {
  NEEDS_NVCC();
  const char* kinds[] = {"legacy", "blocking", "nonblocking", "ptds", "destroyed", "unseen"};
  for (const char* prev : kinds)
    for (const char* next : {"nonblocking", "legacy"}) {
      Result r = run("reuse_race", std::string(prev) + " " + next, "FAKECUDA_ASYNC=1");
      EXPECT_EQ(r.status, 0) << prev << "->" << next << r.out;
      EXPECT_TRUE(has(r, "size=1024 ")) << r.out;
      EXPECT_TRUE(has(r, "size=25165824 ")) << r.out;
      EXPECT_FALSE(has(r, "corrupted=") && !has(r, "corrupted=0")) << r.out;
      size_t lines = 0;
      for (size_t at = 0; (at = r.out.find("corrupted=0\n", at)) != std::string::npos; ++at)
        ++lines;
      EXPECT_EQ(lines, 4u) << prev << "->" << next << r.out;
    }
}

// The same program catches a cache that hands a freed block out again without waiting for
// the kernels still queued on it (unfenced_cache.c): every size is reused and corrupted.
TEST(FakeCudart, ReuseRaceCatchesAnUnfencedCache) {
  NEEDS_NVCC();
  for (const char* pair : {"nonblocking nonblocking", "legacy nonblocking", "blocking blocking",
                           "ptds nonblocking", "unseen nonblocking", "nonblocking destroyed"}) {
    Result r = run("reuse_race", pair, "FAKECUDA_ASYNC=1 LD_PRELOAD=" UNFENCED_CACHE);
    EXPECT_EQ(r.status, 0) << pair << r.out;
    size_t reused = 0, clean = 0;
    for (size_t at = 0; (at = r.out.find("reused=1 ", at)) != std::string::npos; ++at) ++reused;
    for (size_t at = 0; (at = r.out.find("corrupted=0\n", at)) != std::string::npos; ++at) ++clean;
    EXPECT_EQ(reused, 4u) << pair << r.out;
    EXPECT_EQ(clean, 0u) << pair << r.out;
  }
}

TEST(FakeCudart, AllocationDuringGlobalCaptureInvalidatesIt) {
  NEEDS_NVCC();
  Result r = run("capture");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "begin_capture=cudaSuccess")) << r.out;
  EXPECT_TRUE(has(r, "capture_malloc=cudaErrorStreamCaptureUnsupported")) << r.out;
  EXPECT_TRUE(has(r, "end_capture=cudaErrorStreamCaptureInvalidated")) << r.out;
  EXPECT_TRUE(has(r, "capture_status=invalidated")) << r.out;
}

// The capturing thread's own allocation is refused in thread-local mode, but other threads may
// allocate; in relaxed mode nothing is refused and the graph computes fill 7 + add 5.
TEST(FakeCudart, CaptureModes) {
  NEEDS_NVCC();
  Result r = run("capture", "threadlocal");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "capture_malloc=cudaErrorStreamCaptureUnsupported")) << r.out;
  EXPECT_TRUE(has(r, "other_failures=0 ")) << r.out;
  EXPECT_TRUE(has(r, "capture_status=invalidated")) << r.out;
  for (const char* env : {"", "FAKECUDA_ASYNC=1"}) {
    r = run("capture", "relaxed", env);
    EXPECT_EQ(r.status, 0) << r.out;
    EXPECT_TRUE(has(r, "capture_malloc=cudaSuccess")) << r.out;
    EXPECT_TRUE(has(r, "capture_free=cudaSuccess")) << r.out;
    EXPECT_TRUE(has(r, "end_capture=cudaSuccess")) << r.out;
    EXPECT_TRUE(has(r, "other_failures=0 ")) << r.out;
    EXPECT_TRUE(has(r, "capture_status=captured")) << r.out;
    EXPECT_TRUE(has(r, "data=ok wrong=0")) << env << r.out;
  }
}

TEST(FakeCudart, OutOfMemory) {
  NEEDS_NVCC();
  Result r = run("oom", "", "FAKECUDA_MEMORY=64M");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "filled=8 fill_error=cudaErrorMemoryAllocation")) << r.out;
  EXPECT_TRUE(has(r, "big=cudaSuccess")) << r.out;
  EXPECT_TRUE(has(r, "never=cudaErrorMemoryAllocation (out of memory) last=cudaErrorMemoryAllocation"))
      << r.out;
}

TEST(FakeCudart, TwoDevicesFreedFromTheOtherDevice) {
  NEEDS_NVCC();
  Result r = run("two_devices", "", "FAKECUDA_DEVICES=2");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "block0 device=0 type=2")) << r.out;
  EXPECT_TRUE(has(r, "block1 device=1 type=2")) << r.out;
  EXPECT_TRUE(has(r, "free0=cudaSuccess free1=cudaSuccess")) << r.out;
  EXPECT_TRUE(has(r, "held0=0 held1=0")) << r.out;
}

TEST(FakeCudart, LeaksProgramRuns) {
  NEEDS_NVCC();
  Result r = run("leaks");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_TRUE(has(r, "leaked device=1000,3145728 pinned=4096 managed=8192")) << r.out;
}

}  // namespace
