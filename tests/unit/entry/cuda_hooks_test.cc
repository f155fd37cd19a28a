// The table that decides which driver entry points the shim hands out in place of the
// driver's: by exported name (dlsym) and by (base name, version, flags) as
// cuGetProcAddress_v2 is asked.
#include <gtest/gtest.h>

#include <cstring>

#include "entry/cuda_real.h"

namespace mpshim::entry::cuda {
namespace {

constexpr uint64_t kDefault = 0, kLegacy = 1, kPerThread = 2;

TEST(CudaHooks, ExportedNames) {
  EXPECT_EQ(hook_by_symbol("cuMemAlloc_v2"), Hook::MemAlloc);
  EXPECT_EQ(hook_by_symbol("cuMemFree_v2"), Hook::MemFree);
  EXPECT_EQ(hook_by_symbol("cuMemAllocAsync_ptsz"), Hook::MemAllocAsyncPtsz);
  EXPECT_EQ(hook_by_symbol("cuStreamBeginCapture_v2_ptsz"), Hook::BeginCapturePtsz);
  EXPECT_EQ(hook_by_symbol("cuGetProcAddress_v2"), Hook::GetProcAddress);
  // The 32-bit entry points of CUDA 3.1 and everything not hooked are left alone.
  EXPECT_EQ(hook_by_symbol("cuMemAlloc"), Hook::Count);
  EXPECT_EQ(hook_by_symbol("cuMemcpyHtoD_v2"), Hook::Count);
  EXPECT_EQ(hook_by_symbol("malloc"), Hook::Count);
  EXPECT_EQ(hook_by_symbol(""), Hook::Count);
  EXPECT_EQ(hook_by_symbol(nullptr), Hook::Count);
}

TEST(CudaHooks, VersionsPickTheVariant) {
  EXPECT_EQ(hook_by_request("cuMemAlloc", 3020, kDefault), Hook::MemAlloc);
  EXPECT_EQ(hook_by_request("cuMemAlloc", 13000, kLegacy), Hook::MemAlloc);
  EXPECT_EQ(hook_by_request("cuMemAlloc", 2000, kDefault), Hook::Count);  // 32-bit version
  EXPECT_EQ(hook_by_request("cuStreamBeginCapture", 10000, kLegacy), Hook::BeginCapture1);
  EXPECT_EQ(hook_by_request("cuStreamBeginCapture", 10010, kLegacy), Hook::BeginCapture);
  EXPECT_EQ(hook_by_request("cuStreamBeginCapture", 12080, kLegacy), Hook::BeginCapture);
  EXPECT_EQ(hook_by_request("cuCtxCreate", 11000, kDefault), Hook::CtxCreate2);
  EXPECT_EQ(hook_by_request("cuCtxCreate", 11040, kDefault), Hook::CtxCreate3);
  EXPECT_EQ(hook_by_request("cuCtxCreate", 12080, kDefault), Hook::CtxCreate4);
  EXPECT_EQ(hook_by_request("cuGetProcAddress", 11030, kDefault), Hook::GetProcAddress1);
  EXPECT_EQ(hook_by_request("cuGetProcAddress", 12000, kDefault), Hook::GetProcAddress);
  EXPECT_EQ(hook_by_request("cuMemAllocAsync", 11000, kDefault), Hook::Count);  // before it
  EXPECT_EQ(hook_by_request("cuMemcpy", 13000, kDefault), Hook::Count);
}

// The per-thread-default-stream flag selects the _ptsz variant, which is a hook of its own
// with a real pointer of its own; entry points without such a variant ignore the flag.
TEST(CudaHooks, PerThreadFlag) {
  EXPECT_EQ(hook_by_request("cuMemAllocAsync", 12000, kPerThread), Hook::MemAllocAsyncPtsz);
  EXPECT_EQ(hook_by_request("cuMemAllocAsync", 12000, kLegacy), Hook::MemAllocAsync);
  EXPECT_EQ(hook_by_request("cuMemFreeAsync", 12000, kPerThread), Hook::MemFreeAsyncPtsz);
  EXPECT_EQ(hook_by_request("cuStreamBeginCapture", 12000, kPerThread), Hook::BeginCapturePtsz);
  EXPECT_EQ(hook_by_request("cuStreamEndCapture", 12000, kPerThread), Hook::EndCapturePtsz);
  EXPECT_EQ(hook_by_request("cuMemAlloc", 12000, kPerThread), Hook::MemAlloc);
  EXPECT_EQ(hook_by_request("cuMemFree", 12000, kPerThread), Hook::MemFree);
}

TEST(CudaHooks, EveryRowIsReachable) {
  for (int i = 0; i < kHookCount; ++i) {
    const HookInfo& h = hook_info(Hook(i));
    EXPECT_EQ(hook_by_symbol(h.symbol), Hook(i)) << h.symbol;
    EXPECT_EQ(hook_by_request(h.base, h.from, h.ptsz ? kPerThread : kLegacy), Hook(i)) << h.symbol;
    EXPECT_EQ(strncmp(h.symbol, h.base, strlen(h.base)), 0) << h.symbol;
  }
}

}  // namespace
}  // namespace mpshim::entry::cuda
