// Unit test of the fake CUDA driver: dlopens the built libcuda.so.1 and reaches it as the
// CUDA runtime does, through cuGetProcAddress_v2. The driver reads its knobs at cuInit, so each
// test runs in a process of its own with its own environment.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "../unit/own_process.h"
#include "fakecuda.h"

namespace {

typedef unsigned long long Dptr;
typedef void* Handle;
typedef int (*GetProc)(const char*, void**, int, uint64_t, int*);

constexpr int kOOM = 2, kNotFound = 500, kNotReady = 600, kUnsupported = 900,
              kInvalidated = 901;
constexpr uint64_t kPerThread = 2;  // CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM
const Handle kLegacy = reinterpret_cast<Handle>(1), kPerThreadStream = reinterpret_cast<Handle>(2);

// The driver opened as cudart opens it, its entry points fetched by base name and version.
struct Cuda {
  void* lib = nullptr;
  GetProc get_proc = nullptr;
  Handle ctx = nullptr;
  int (*MemAlloc)(Dptr*, size_t);
  int (*MemFree)(Dptr);
  int (*MemGetInfo)(size_t*, size_t*);
  int (*MemGetAddressRange)(Dptr*, size_t*, Dptr);
  int (*PointerGetAttribute)(void*, int, Dptr);
  int (*MemAllocAsync)(Dptr*, size_t, Handle);
  int (*MemFreeAsync)(Dptr, Handle);
  int (*MemAllocHost)(void**, size_t);
  int (*MemFreeHost)(void*);
  int (*MemAllocManaged)(Dptr*, size_t, unsigned);
  int (*MemsetD32)(Dptr, unsigned, size_t);
  int (*MemcpyDtoH)(void*, Dptr, size_t);
  int (*StreamCreate)(Handle*, unsigned);
  int (*StreamDestroy)(Handle);
  int (*StreamSynchronize)(Handle);
  int (*StreamSynchronizePt)(Handle);
  int (*StreamQuery)(Handle);
  int (*StreamWaitEvent)(Handle, Handle, unsigned);
  int (*EventCreate)(Handle*, unsigned);
  int (*EventRecord)(Handle, Handle);
  int (*EventQuery)(Handle);
  int (*EventSynchronize)(Handle);
  int (*CtxRecordEvent)(Handle, Handle);
  int (*CtxSynchronize)();
  int (*BeginCapture)(Handle, int);
  int (*EndCapture)(Handle, Handle*);
  int (*IsCapturing)(Handle, int*);
  int (*ExchangeMode)(int*);
  int (*GraphInstantiate)(Handle*, Handle, unsigned long long);
  int (*GraphLaunch)(Handle, Handle);
  int (*ModuleLoadData)(Handle*, const void*);
  int (*ModuleGetFunction)(Handle*, Handle, const char*);
  int (*LaunchKernel)(Handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                      unsigned, Handle, void**, void**);
  int (*LaunchKernelPt)(Handle, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                        unsigned, Handle, void**, void**);
  Handle fill = nullptr, add = nullptr, raw_add = nullptr;
  void (*counters)(fakecuda_counters_t*);
  int (*create_unseen)(Handle*, unsigned);

  template <typename F>
  void get(F& fn, const char* name, int version = 13000, uint64_t flags = 0) {
    int status = -1;
    void* p = nullptr;
    ASSERT_EQ(get_proc(name, &p, version, flags, &status), 0) << name;
    ASSERT_EQ(status, 0);
    fn = reinterpret_cast<F>(p);
  }

  fakecuda_counters_t count() {
    fakecuda_counters_t c;
    counters(&c);
    return c;
  }

  // Launches fill(p, v, n) or add(p, v, n) (n ints) on stream s.
  int launch(Handle f, Handle s, Dptr p, unsigned v, size_t n, bool per_thread = false) {
    void* args[] = {&p, &v, &n};
    return (per_thread ? LaunchKernelPt : LaunchKernel)(f, 1, 1, 1, 32, 1, 1, 0, s, args, nullptr);
  }
};

// Kernel emulations: fill(int* p, unsigned v, size_t n) and add(...): p[i] (+)= v.
void fill_kernel(void** args, const fakecuda_launch*) {
  unsigned* p = *static_cast<unsigned**>(args[0]);
  for (size_t i = 0; i < *static_cast<size_t*>(args[2]); ++i) p[i] = *static_cast<unsigned*>(args[1]);
}
void add_kernel(void** args, const fakecuda_launch*) {
  unsigned* p = *static_cast<unsigned**>(args[0]);
  for (size_t i = 0; i < *static_cast<size_t*>(args[2]); ++i) p[i] += *static_cast<unsigned*>(args[1]);
}

// Opens the driver with the given knobs ("NAME=value" strings), makes the primary context of
// device 0 current and registers the kernels.
void open(Cuda& cu, std::initializer_list<const char*> env) {
  for (const char* e : env) putenv(const_cast<char*>(e));
  cu.lib = dlopen(FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(cu.lib, nullptr) << dlerror();
  cu.get_proc = reinterpret_cast<GetProc>(dlsym(cu.lib, "cuGetProcAddress_v2"));
  ASSERT_NE(cu.get_proc, nullptr);
  int (*init)(unsigned) = nullptr;
  int (*retain)(Handle*, int) = nullptr;
  int (*set_current)(Handle) = nullptr;
  cu.get(init, "cuInit");
  cu.get(retain, "cuDevicePrimaryCtxRetain");
  cu.get(set_current, "cuCtxSetCurrent");
  ASSERT_EQ(init(0), 0);
  ASSERT_EQ(retain(&cu.ctx, 0), 0);
  ASSERT_EQ(set_current(cu.ctx), 0);
  cu.get(cu.MemAlloc, "cuMemAlloc");
  cu.get(cu.MemFree, "cuMemFree");
  cu.get(cu.MemGetInfo, "cuMemGetInfo");
  cu.get(cu.MemGetAddressRange, "cuMemGetAddressRange");
  cu.get(cu.PointerGetAttribute, "cuPointerGetAttribute");
  cu.get(cu.MemAllocAsync, "cuMemAllocAsync");
  cu.get(cu.MemFreeAsync, "cuMemFreeAsync");
  cu.get(cu.MemAllocHost, "cuMemAllocHost");
  cu.get(cu.MemFreeHost, "cuMemFreeHost");
  cu.get(cu.MemAllocManaged, "cuMemAllocManaged");
  cu.get(cu.MemsetD32, "cuMemsetD32");
  cu.get(cu.MemcpyDtoH, "cuMemcpyDtoH");
  cu.get(cu.StreamCreate, "cuStreamCreate");
  cu.get(cu.StreamDestroy, "cuStreamDestroy");
  cu.get(cu.StreamSynchronize, "cuStreamSynchronize");
  cu.get(cu.StreamSynchronizePt, "cuStreamSynchronize", 13000, kPerThread);
  cu.get(cu.StreamQuery, "cuStreamQuery");
  cu.get(cu.StreamWaitEvent, "cuStreamWaitEvent");
  cu.get(cu.EventCreate, "cuEventCreate");
  cu.get(cu.EventRecord, "cuEventRecord");
  cu.get(cu.EventQuery, "cuEventQuery");
  cu.get(cu.EventSynchronize, "cuEventSynchronize");
  cu.get(cu.CtxSynchronize, "cuCtxSynchronize", 12000);
  cu.get(cu.BeginCapture, "cuStreamBeginCapture");
  cu.get(cu.EndCapture, "cuStreamEndCapture");
  cu.get(cu.IsCapturing, "cuStreamIsCapturing");
  cu.get(cu.ExchangeMode, "cuThreadExchangeStreamCaptureMode");
  cu.get(cu.GraphInstantiate, "cuGraphInstantiateWithFlags");
  cu.get(cu.GraphLaunch, "cuGraphLaunch");
  cu.get(cu.ModuleLoadData, "cuModuleLoadData");
  cu.get(cu.ModuleGetFunction, "cuModuleGetFunction");
  cu.get(cu.LaunchKernel, "cuLaunchKernel");
  cu.get(cu.LaunchKernelPt, "cuLaunchKernel", 13000, kPerThread);
  cu.counters = reinterpret_cast<void (*)(fakecuda_counters_t*)>(dlsym(cu.lib, "fakecuda_counters"));
  cu.create_unseen = reinterpret_cast<int (*)(Handle*, unsigned)>(
      dlsym(cu.lib, "fakecuda_stream_create_unseen"));
  auto reg = reinterpret_cast<int (*)(const char*, fakecuda_kernel_fn, unsigned, const size_t*)>(
      dlsym(cu.lib, "fakecuda_register_kernel_params"));
  auto reg_raw = reinterpret_cast<int (*)(const char*, fakecuda_kernel_fn)>(
      dlsym(cu.lib, "fakecuda_register_kernel"));
  ASSERT_TRUE(cu.counters && cu.create_unseen && reg && reg_raw);
  const size_t sizes[] = {sizeof(Dptr), sizeof(unsigned), sizeof(size_t)};
  ASSERT_EQ(reg("_Z4fillPjjm", fill_kernel, 3, sizes), 0);
  ASSERT_EQ(reg("_Z3addPjjm", add_kernel, 3, sizes), 0);
  ASSERT_EQ(reg_raw("_Z7raw_addPjjm", add_kernel), 0);
  Handle mod;
  static const char image[] = "fatbin";
  ASSERT_EQ(cu.ModuleLoadData(&mod, image), 0);
  ASSERT_EQ(cu.ModuleGetFunction(&cu.fill, mod, "_Z4fillPjjm"), 0);
  ASSERT_EQ(cu.ModuleGetFunction(&cu.add, mod, "_Z3addPjjm"), 0);
  ASSERT_EQ(cu.ModuleGetFunction(&cu.raw_add, mod, "_Z7raw_addPjjm"), 0);
}

unsigned* host(Dptr p) { return reinterpret_cast<unsigned*>(p); }  // device memory is mapped

// ---- allocation
void allocation_and_capacity() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_MEMORY=1M"}));
  size_t free_b, total;
  ASSERT_EQ(cu.MemGetInfo(&free_b, &total), 0);
  EXPECT_EQ(total, 1u << 20);
  EXPECT_EQ(free_b, 1u << 20);
  Dptr a, b, c;
  ASSERT_EQ(cu.MemAlloc(&a, 512 << 10), 0);
  ASSERT_EQ(cu.MemAlloc(&b, 512 << 10), 0);
  EXPECT_EQ(cu.MemAlloc(&c, 1), kOOM);
  ASSERT_EQ(cu.MemGetInfo(&free_b, &total), 0);
  EXPECT_EQ(free_b, 0u);
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.mem_alloc, 3u);
  EXPECT_EQ(k.bytes_in_use[0], 1u << 20);
  EXPECT_EQ(k.live_allocations[0], 2u);
  Dptr base;
  size_t size;
  ASSERT_EQ(cu.MemGetAddressRange(&base, &size, b + 100), 0);
  EXPECT_EQ(base, b);
  EXPECT_EQ(size, 512u << 10);
  unsigned type = 0;
  ASSERT_EQ(cu.PointerGetAttribute(&type, 2, a + 8), 0);  // MEMORY_TYPE
  EXPECT_EQ(type, 2u);                                     // DEVICE
  ASSERT_EQ(cu.MemsetD32(a, 0xabcd, 4), 0);
  unsigned out[4];
  ASSERT_EQ(cu.MemcpyDtoH(out, a, sizeof out), 0);
  EXPECT_EQ(out[3], 0xabcdu);
  EXPECT_EQ(cu.MemFree(a), 0);
  EXPECT_EQ(cu.MemFree(a), 1);  // twice: invalid value
  EXPECT_EQ(cu.MemFree(0), 0);
  ASSERT_EQ(cu.MemAlloc(&c, 512 << 10), 0);
  EXPECT_EQ(c, a);  // first fit
  void* h;
  ASSERT_EQ(cu.MemAllocHost(&h, 100), 0);
  static_cast<char*>(h)[99] = 1;
  ASSERT_EQ(cu.PointerGetAttribute(&type, 2, reinterpret_cast<Dptr>(h)), 0);
  EXPECT_EQ(type, 1u);  // HOST
  EXPECT_EQ(cu.MemFreeHost(h), 0);
  Dptr m;
  EXPECT_EQ(cu.MemAllocManaged(&m, 1000, 1), kOOM);
  ASSERT_EQ(cu.MemFree(c), 0);
  ASSERT_EQ(cu.MemAllocManaged(&m, 1000, 1), 0);
  ASSERT_EQ(cu.MemFree(m), 0);
  ASSERT_EQ(cu.MemFree(b), 0);
  k = cu.count();
  EXPECT_EQ(k.bytes_in_use[0], 0u);
  EXPECT_EQ(k.peak_bytes_in_use[0], 1u << 20);
  EXPECT_EQ(k.live_allocations[0], 0u);
  EXPECT_EQ(k.mem_free, 6u);
  EXPECT_EQ(k.alloc_host, 1u);
  EXPECT_EQ(k.free_host, 1u);
  EXPECT_EQ(k.alloc_managed, 2u);
}
TEST(FakeCuda, AllocationAndCapacity) { MPSHIM_IN_OWN_PROCESS(allocation_and_capacity()); }

// FAKECUDA_DEVICES: each device has its own arena and counters; created contexts are pushed.
// FAKECUDA_ALLOC_LATENCY_US / FAKECUDA_FREE_LATENCY_US: each call costs at least that.
void devices_and_latency() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(
      open(cu, {"FAKECUDA_DEVICES=2", "FAKECUDA_MEMORY=64K", "FAKECUDA_ALLOC_LATENCY_US=2000",
                "FAKECUDA_FREE_LATENCY_US=1000"}));
  int (*count)(int*) = nullptr, (*ctx_create)(Handle*, void*, unsigned, int) = nullptr,
      (*ctx_destroy)(Handle) = nullptr, (*get_device)(int*) = nullptr, (*pop)(Handle*) = nullptr;
  cu.get(count, "cuDeviceGetCount");
  cu.get(ctx_create, "cuCtxCreate");
  cu.get(ctx_destroy, "cuCtxDestroy");
  cu.get(get_device, "cuCtxGetDevice", 12000);
  cu.get(pop, "cuCtxPopCurrent");
  int n = 0, dev = -1;
  ASSERT_EQ(count(&n), 0);
  EXPECT_EQ(n, 2);
  Handle c1, popped;
  ASSERT_EQ(ctx_create(&c1, nullptr, 0, 1), 0);
  ASSERT_EQ(get_device(&dev), 0);
  EXPECT_EQ(dev, 1);
  auto t0 = std::chrono::steady_clock::now();
  Dptr p[4];
  for (Dptr& x : p) ASSERT_EQ(cu.MemAlloc(&x, 16 << 10), 0);
  EXPECT_EQ(cu.MemAlloc(&p[0], 1), kOOM);
  for (Dptr& x : p) ASSERT_EQ(cu.MemFree(x), 0);
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(us, 5 * 2000 + 4 * 1000);
  ASSERT_EQ(cu.MemAlloc(&p[0], 100), 0);  // left for the context's destruction
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.peak_bytes_in_use[1], 64u << 10);
  EXPECT_EQ(k.live_allocations[1], 1u);
  EXPECT_EQ(k.peak_bytes_in_use[0], 0u);
  ASSERT_EQ(ctx_destroy(c1), 0);
  EXPECT_EQ(cu.count().live_allocations[1], 0u);
  ASSERT_EQ(get_device(&dev), 0);  // the primary context of device 0 is current again
  EXPECT_EQ(dev, 0);
  ASSERT_EQ(pop(&popped), 0);
  EXPECT_EQ(popped, cu.ctx);
  EXPECT_EQ(get_device(&dev), 201);  // no current context
}
TEST(FakeCuda, DevicesAndLatency) { MPSHIM_IN_OWN_PROCESS(devices_and_latency()); }

// cuMemFree synchronises the device: work queued on any stream has run when it returns.
void mem_free_syncs_device() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  Dptr a, b;
  ASSERT_EQ(cu.MemAlloc(&a, 64), 0);
  ASSERT_EQ(cu.MemAlloc(&b, 64), 0);
  ASSERT_EQ(cu.launch(cu.fill, s, a, 7, 16), 0);
  EXPECT_EQ(host(a)[15], 0u);
  uint64_t syncs = cu.count().device_synchronize;
  ASSERT_EQ(cu.MemFree(b), 0);
  EXPECT_EQ(host(a)[15], 7u);
  EXPECT_EQ(cu.count().device_synchronize, syncs + 1);
}
TEST(FakeCuda, MemFreeSynchronisesTheDevice) { MPSHIM_IN_OWN_PROCESS(mem_free_syncs_device()); }

// ---- asynchronous mode: ordering
void async_ordering() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle blocking, nonblocking;
  ASSERT_EQ(cu.StreamCreate(&blocking, 0), 0);
  ASSERT_EQ(cu.StreamCreate(&nonblocking, 1), 0);
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 4 * 4), 0);
  unsigned* v = host(p);
  // A non-blocking stream's kernel has not run until something waits for it.
  ASSERT_EQ(cu.launch(cu.fill, nonblocking, p, 5, 1), 0);
  EXPECT_EQ(v[0], 0u);
  EXPECT_EQ(cu.count().kernels_run, 0u);
  ASSERT_EQ(cu.StreamSynchronize(nonblocking), 0);
  EXPECT_EQ(v[0], 5u);
  // The legacy stream waits for blocking streams...
  ASSERT_EQ(cu.launch(cu.fill, blocking, p + 4, 1, 1), 0);
  ASSERT_EQ(cu.launch(cu.add, kLegacy, p + 4, 10, 1), 0);
  ASSERT_EQ(cu.StreamSynchronize(nullptr), 0);
  EXPECT_EQ(v[1], 11u);
  // ...and blocking streams wait for the legacy stream.
  ASSERT_EQ(cu.launch(cu.fill, nullptr, p + 8, 3, 1), 0);
  ASSERT_EQ(cu.launch(cu.add, blocking, p + 8, 1, 1), 0);
  ASSERT_EQ(cu.StreamSynchronize(blocking), 0);
  EXPECT_EQ(v[2], 4u);
  // Non-blocking streams do not wait for the legacy stream, nor it for them.
  ASSERT_EQ(cu.launch(cu.fill, kLegacy, p + 12, 1, 1), 0);
  ASSERT_EQ(cu.launch(cu.add, nonblocking, p + 12, 100, 1), 0);
  ASSERT_EQ(cu.StreamSynchronize(nonblocking), 0);
  EXPECT_EQ(v[3], 100u);
  ASSERT_EQ(cu.StreamSynchronize(kLegacy), 0);
  EXPECT_EQ(v[3], 1u);
  // cuStreamWaitEvent orders a non-blocking stream after an event of another.
  Handle e;
  ASSERT_EQ(cu.EventCreate(&e, 0), 0);
  ASSERT_EQ(cu.launch(cu.fill, blocking, p, 20, 1), 0);
  ASSERT_EQ(cu.EventRecord(e, blocking), 0);
  ASSERT_EQ(cu.StreamWaitEvent(nonblocking, e, 0), 0);
  ASSERT_EQ(cu.launch(cu.add, nonblocking, p, 1, 1), 0);
  ASSERT_EQ(cu.StreamSynchronize(nonblocking), 0);
  EXPECT_EQ(v[0], 21u);
  // A kernel without declared parameters runs at launch, after what its stream waits for.
  ASSERT_EQ(cu.launch(cu.fill, nonblocking, p, 1, 1), 0);
  ASSERT_EQ(cu.launch(cu.raw_add, nonblocking, p, 1, 1), 0);
  EXPECT_EQ(v[0], 2u);
  // Without FAKECUDA_ASYNC the same launch would have run already (see SyncMode).
}
TEST(FakeCuda, AsyncOrdering) { MPSHIM_IN_OWN_PROCESS(async_ordering()); }

void sync_mode() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {}));
  Handle s;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 4), 0);
  ASSERT_EQ(cu.launch(cu.fill, s, p, 9, 1), 0);
  EXPECT_EQ(*host(p), 9u);
  EXPECT_EQ(cu.count().kernels_run, 1u);
}
TEST(FakeCuda, SyncMode) { MPSHIM_IN_OWN_PROCESS(sync_mode()); }

// The per-thread default stream: one per thread, blocking (it waits for the legacy stream).
void per_thread_stream() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 8), 0);
  unsigned* v = host(p);
  ASSERT_EQ(cu.launch(cu.fill, kLegacy, p, 2, 1), 0);
  ASSERT_EQ(cu.launch(cu.add, nullptr, p, 1, 1, true), 0);  // _ptsz on NULL: per-thread
  ASSERT_EQ(cu.StreamSynchronize(kPerThreadStream), 0);
  EXPECT_EQ(v[0], 3u);
  // Another thread's per-thread stream is another stream.
  std::thread t([&] {
    int (*set_current)(Handle) = nullptr;
    cu.get(set_current, "cuCtxSetCurrent");
    ASSERT_EQ(set_current(cu.ctx), 0);
    ASSERT_EQ(cu.launch(cu.fill, kPerThreadStream, p + 4, 8, 1), 0);
  });
  t.join();
  ASSERT_EQ(cu.StreamSynchronizePt(nullptr), 0);
  EXPECT_EQ(v[1], 0u);
  ASSERT_EQ(cu.CtxSynchronize(), 0);
  EXPECT_EQ(v[1], 8u);
}
TEST(FakeCuda, PerThreadDefaultStream) { MPSHIM_IN_OWN_PROCESS(per_thread_stream()); }

// cuCtxRecordEvent covers every stream of the context, a stream nobody saw created included;
// an event recorded on the legacy stream does not.
void ctx_record_event() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  cu.get(cu.CtxRecordEvent, "cuCtxRecordEvent", 12050);
  Handle unseen, e;
  ASSERT_EQ(cu.create_unseen(&unseen, 1), 0);
  ASSERT_EQ(cu.EventCreate(&e, 0), 0);
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 4), 0);
  ASSERT_EQ(cu.launch(cu.fill, unseen, p, 6, 1), 0);
  ASSERT_EQ(cu.EventRecord(e, kLegacy), 0);
  ASSERT_EQ(cu.EventSynchronize(e), 0);
  EXPECT_EQ(*host(p), 0u);
  ASSERT_EQ(cu.CtxRecordEvent(cu.ctx, e), 0);
  ASSERT_EQ(cu.EventSynchronize(e), 0);
  EXPECT_EQ(*host(p), 6u);
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.stream_creates, 0u);  // the unseen stream is not counted
  EXPECT_EQ(k.ctx_record_events, 1u);
  EXPECT_EQ(k.event_records, 1u);
  EXPECT_EQ(k.event_synchronize, 2u);
}
TEST(FakeCuda, CtxRecordEventCoversAnUnseenStream) { MPSHIM_IN_OWN_PROCESS(ctx_record_event()); }

// A query of unfinished work answers NOT_READY and runs one item: polling makes progress.
void event_query_progress() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s, e;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  ASSERT_EQ(cu.EventCreate(&e, 0), 0);
  EXPECT_EQ(cu.EventQuery(e), 0);  // never recorded: complete
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 4), 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(cu.launch(cu.add, s, p, 1, 1), 0);
  ASSERT_EQ(cu.EventRecord(e, s), 0);
  for (unsigned i = 1; i <= 3; ++i) {
    EXPECT_EQ(cu.EventQuery(e), kNotReady);
    EXPECT_EQ(*host(p), i);
  }
  EXPECT_EQ(cu.EventQuery(e), kNotReady);  // the record itself
  EXPECT_EQ(cu.EventQuery(e), 0);
  EXPECT_EQ(cu.count().event_queries, 6u);
  ASSERT_EQ(cu.launch(cu.add, s, p, 1, 1), 0);
  EXPECT_EQ(cu.StreamQuery(s), kNotReady);
  EXPECT_EQ(cu.StreamQuery(s), 0);
  EXPECT_EQ(*host(p), 4u);
}
TEST(FakeCuda, EventQueryProgress) { MPSHIM_IN_OWN_PROCESS(event_query_progress()); }

// Stream-ordered allocation: the free takes effect when the stream reaches it.
void free_async_is_stream_ordered() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  Dptr p;
  ASSERT_EQ(cu.MemAllocAsync(&p, 1024, s), 0);
  EXPECT_EQ(cu.count().bytes_in_use[0], 1024u);
  ASSERT_EQ(cu.MemFreeAsync(p, s), 0);
  EXPECT_EQ(cu.MemFreeAsync(p, s), 1);  // already freed
  EXPECT_EQ(cu.count().bytes_in_use[0], 1024u);
  ASSERT_EQ(cu.StreamSynchronize(s), 0);
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.bytes_in_use[0], 0u);
  EXPECT_EQ(k.alloc_async, 1u);
  EXPECT_EQ(k.free_async, 2u);
}
TEST(FakeCuda, FreeAsyncIsStreamOrdered) { MPSHIM_IN_OWN_PROCESS(free_async_is_stream_ordered()); }

// ---- capture
// A global-mode capture is invalidated by a potentially unsafe call of another thread.
void capture_invalidated_by_other_thread() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s, e, g;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  ASSERT_EQ(cu.EventCreate(&e, 0), 0);
  ASSERT_EQ(cu.BeginCapture(s, 0), 0);  // global
  int rc = -1;
  std::thread([&] { rc = cu.EventQuery(e); }).join();
  EXPECT_EQ(rc, kUnsupported);
  int status = -1;
  ASSERT_EQ(cu.IsCapturing(s, &status), 0);
  EXPECT_EQ(status, 2);  // invalidated
  EXPECT_EQ(cu.EndCapture(s, &g), kInvalidated);
  EXPECT_EQ(g, nullptr);
  ASSERT_EQ(cu.IsCapturing(s, &status), 0);
  EXPECT_EQ(status, 0);
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.captures_begun, 1u);
  EXPECT_EQ(k.captures_invalidated, 1u);
  EXPECT_EQ(k.captures_ended, 0u);
  EXPECT_EQ(k.unsafe_calls_refused, 1u);
  // The capturing thread's own sync of the capturing stream invalidates it too.
  ASSERT_EQ(cu.BeginCapture(s, 1), 0);  // thread-local
  EXPECT_EQ(cu.StreamSynchronize(s), kUnsupported);
  EXPECT_EQ(cu.EndCapture(s, &g), kInvalidated);
}
TEST(FakeCuda, CaptureInvalidatedByAnotherThread) {
  MPSHIM_IN_OWN_PROCESS(capture_invalidated_by_other_thread());
}

// A thread in relaxed mode may make unsafe calls; a thread-local capture ignores other threads.
void capture_relaxed() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s, g;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  ASSERT_EQ(cu.BeginCapture(s, 0), 0);
  int (*set_current)(Handle) = nullptr;
  cu.get(set_current, "cuCtxSetCurrent");
  int rc = -1;
  std::thread([&] {
    ASSERT_EQ(set_current(cu.ctx), 0);
    int mode = 2;  // relaxed
    ASSERT_EQ(cu.ExchangeMode(&mode), 0);
    EXPECT_EQ(mode, 0);
    Dptr p;
    rc = cu.MemAlloc(&p, 64);
    if (rc == 0) rc = cu.MemFree(p);
  }).join();
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(cu.EndCapture(s, &g), 0);
  EXPECT_NE(g, nullptr);
  ASSERT_EQ(cu.BeginCapture(s, 1), 0);  // thread-local
  std::thread([&] {
    ASSERT_EQ(set_current(cu.ctx), 0);
    rc = cu.CtxSynchronize();
  }).join();
  EXPECT_EQ(rc, 0);
  ASSERT_EQ(cu.EndCapture(s, &g), 0);
  EXPECT_EQ(cu.count().captures_invalidated, 0u);
}
TEST(FakeCuda, CaptureRelaxedModeIsNotInvalidated) { MPSHIM_IN_OWN_PROCESS(capture_relaxed()); }

// Captured work runs only when the graph is launched, once per launch.
void graph_replay() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_ASYNC=1"}));
  Handle s, g, exec;
  ASSERT_EQ(cu.StreamCreate(&s, 1), 0);
  Dptr p;
  ASSERT_EQ(cu.MemAlloc(&p, 4), 0);
  ASSERT_EQ(cu.BeginCapture(s, 0), 0);
  ASSERT_EQ(cu.launch(cu.add, s, p, 1, 1), 0);
  ASSERT_EQ(cu.launch(cu.add, s, p, 2, 1), 0);
  EXPECT_EQ(cu.launch(cu.raw_add, s, p, 1, 1), 801);  // arguments it could not keep
  ASSERT_EQ(cu.EndCapture(s, &g), 0);
  ASSERT_EQ(cu.StreamSynchronize(s), 0);
  EXPECT_EQ(*host(p), 0u);
  ASSERT_EQ(cu.GraphInstantiate(&exec, g, 0), 0);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(cu.GraphLaunch(exec, s), 0);
  EXPECT_EQ(*host(p), 0u);
  ASSERT_EQ(cu.StreamSynchronize(s), 0);
  EXPECT_EQ(*host(p), 9u);
  fakecuda_counters_t k = cu.count();
  EXPECT_EQ(k.kernels_run, 6u);
  EXPECT_EQ(k.graph_launches, 3u);
  EXPECT_EQ(k.captures_ended, 1u);
}
TEST(FakeCuda, GraphReplay) { MPSHIM_IN_OWN_PROCESS(graph_replay()); }

// ---- cuGetProcAddress
void proc_address() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {}));
  auto expect = [&](const char* name, int version, uint64_t flags, const char* symbol) {
    void* p = nullptr;
    int status = -1;
    ASSERT_EQ(cu.get_proc(name, &p, version, flags, &status), 0) << name;
    EXPECT_EQ(status, 0);
    EXPECT_EQ(p, dlsym(cu.lib, symbol)) << name << " " << version << " -> " << symbol;
  };
  expect("cuMemAlloc", 3020, 0, "cuMemAlloc_v2");
  expect("cuMemAlloc", 13000, kPerThread, "cuMemAlloc_v2");
  expect("cuMemAllocAsync", 11020, 0, "cuMemAllocAsync");
  expect("cuMemAllocAsync", 11020, kPerThread, "cuMemAllocAsync_ptsz");
  expect("cuStreamBeginCapture", 10000, 0, "cuStreamBeginCapture");
  expect("cuStreamBeginCapture", 10010, 0, "cuStreamBeginCapture_v2");
  expect("cuStreamBeginCapture", 12000, kPerThread, "cuStreamBeginCapture_v2_ptsz");
  expect("cuMemcpyHtoD", 13000, kPerThread, "cuMemcpyHtoD_v2_ptds");
  expect("cuMemcpyHtoD", 13000, 1, "cuMemcpyHtoD_v2");  // legacy-stream flag
  expect("cuCtxSynchronize", 12090, 0, "cuCtxSynchronize");
  expect("cuCtxSynchronize", 13000, 0, "cuCtxSynchronize_v2");
  expect("cuGetProcAddress", 12000, 0, "cuGetProcAddress_v2");
  expect("cuInit", 2000, 0, "cuInit");
  void* p = reinterpret_cast<void*>(1);
  int status = -1;
  EXPECT_EQ(cu.get_proc("cuCtxRecordEvent", &p, 12040, 0, &status), kNotFound);
  EXPECT_EQ(status, 2);  // version not sufficient
  EXPECT_EQ(p, nullptr);
  expect("cuCtxRecordEvent", 12050, 0, "cuCtxRecordEvent");
  EXPECT_EQ(cu.get_proc("cuNoSuchFunction", &p, 13000, 0, &status), kNotFound);
  EXPECT_EQ(status, 1);  // symbol not found
}
TEST(FakeCuda, GetProcAddressVariants) { MPSHIM_IN_OWN_PROCESS(proc_address()); }

// FAKECUDA_NO_CTX_RECORD_EVENT: a driver older than 12.5, for dlsym and cuGetProcAddress.
void no_ctx_record_event() {
  Cuda cu;
  ASSERT_NO_FATAL_FAILURE(open(cu, {"FAKECUDA_NO_CTX_RECORD_EVENT=1"}));
  EXPECT_EQ(dlsym(cu.lib, "cuCtxRecordEvent"), nullptr);
  void* p = nullptr;
  int status = -1;
  EXPECT_EQ(cu.get_proc("cuCtxRecordEvent", &p, 13000, 0, &status), kNotFound);
  EXPECT_EQ(status, 1);
  EXPECT_NE(dlsym(cu.lib, "cuCtxWaitEvent"), nullptr);
}
TEST(FakeCuda, NoCtxRecordEvent) { MPSHIM_IN_OWN_PROCESS(no_ctx_record_event()); }

}  // namespace
