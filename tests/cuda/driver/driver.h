// Internal state of the fake CUDA driver: the handful of CUDA types it needs (declared here
// so that no toolkit is needed to build it), devices, contexts, streams with their work
// queues, events, captures, and the one lock that guards all of it.
#pragma once
#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "fakecuda.h"

#define FC_EXPORT extern "C" __attribute__((visibility("default")))

// ---- CUDA types (ABI of cuda.h: enums are int-sized, handles are pointers)
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef uint64_t cuuint64_t;
typedef struct CUctx_st* CUcontext;
typedef struct CUevent_st* CUevent;
typedef struct CUmod_st* CUmodule;
typedef struct CUfunc_st* CUfunction;
typedef struct CUlib_st* CUlibrary;
typedef struct CUkern_st* CUkernel;
typedef struct CUgraph_st* CUgraph;
typedef struct CUgraphExec_st* CUgraphExec;
typedef struct CUmemPoolHandle_st* CUmemoryPool;

enum : int {
  CUDA_SUCCESS = 0, CUDA_ERROR_INVALID_VALUE = 1, CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3, CUDA_ERROR_NO_DEVICE = 100, CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_CONTEXT = 201, CUDA_ERROR_INVALID_HANDLE = 400, CUDA_ERROR_ILLEGAL_STATE = 401,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600, CUDA_ERROR_NOT_SUPPORTED = 801,
  CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED = 900, CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901,
  CUDA_ERROR_STREAM_CAPTURE_UNMATCHED = 903, CUDA_ERROR_STREAM_CAPTURE_IMPLICIT = 906,
  CUDA_ERROR_CAPTURED_EVENT = 907, CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD = 908, CUDA_ERROR_UNKNOWN = 999,
};
enum : unsigned { CU_STREAM_NON_BLOCKING = 1 };
enum : int { CAPTURE_GLOBAL = 0, CAPTURE_THREAD_LOCAL = 1, CAPTURE_RELAXED = 2 };
#define CU_STREAM_LEGACY_HANDLE ((CUstream)0x1)
#define CU_STREAM_PER_THREAD_HANDLE ((CUstream)0x2)

namespace fakecuda {

struct Stream;
struct Context;
struct Capture;

// A queued item waits for these points of other streams before it runs.
struct Dep {
  std::shared_ptr<Stream> stream;
  uint64_t seq;
};

struct Work {
  uint64_t seq;
  std::vector<Dep> deps;
  std::function<void()> fn;  // empty for markers (event records, waits)
};

enum class StreamKind { User, Legacy, PerThread, Internal };

// Work submitted to a stream gets seq = ++submitted; it has run when completed >= seq.
struct Stream : std::enable_shared_from_this<Stream> {
  Context* ctx = nullptr;
  StreamKind kind = StreamKind::User;
  unsigned flags = 0;
  int priority = 0;
  uint64_t submitted = 0;
  uint64_t completed = 0;
  std::deque<Work> queue;
  Capture* capture = nullptr;  // set while the stream is part of a capture
  bool blocking() const {
    return kind != StreamKind::Internal && (flags & CU_STREAM_NON_BLOCKING) == 0;
  }
};

struct Context {
  int device = 0;
  bool primary = false;
  bool destroyed = false;
  unsigned flags = 0;
  std::shared_ptr<Stream> legacy;
  std::shared_ptr<Stream> internal;  // holds cuCtxRecordEvent markers
  std::vector<std::shared_ptr<Stream>> streams;  // every live stream, the two above included
  std::map<pid_t, std::shared_ptr<Stream>> per_thread;
};

struct Event {
  unsigned flags = 0;
  std::shared_ptr<Stream> stream;  // where it was last recorded (none: complete)
  uint64_t seq = 0;
  Capture* capture = nullptr;  // recorded into this capture
};

struct Graph {
  std::vector<std::function<void()>> ops;
};

struct Capture {
  int mode = CAPTURE_GLOBAL;
  pid_t owner = 0;
  bool invalidated = false;
  Stream* origin = nullptr;
  std::vector<std::shared_ptr<Stream>> streams;  // origin and the streams that joined
  std::unique_ptr<Graph> graph;
};

enum class AllocKind { Device, Managed, Async, Host };

struct Allocation {
  size_t size = 0;      // requested
  size_t reserved = 0;  // taken from the device arena (rounded)
  int device = 0;
  Context* ctx = nullptr;
  AllocKind kind = AllocKind::Device;
  bool free_pending = false;  // a stream-ordered free is queued
};

struct Device {
  char* base = nullptr;  // arena mapped with mmap: device memory never lives in the heap
  size_t capacity = 0;
  std::map<size_t, size_t> free_ranges;  // offset -> length
  Context primary;
  int primary_refs = 0;
  bool primary_active = false;
};

struct Kernel {
  fakecuda_kernel_fn fn = nullptr;
  bool sized = false;
  std::vector<size_t> param_sizes;
};

// A loaded module or library; the fake needs nothing from its image.
struct Module {};

struct Knobs {
  int devices = 1;
  size_t memory = size_t(1) << 30;
  unsigned alloc_latency_us = 0;
  unsigned free_latency_us = 0;
  bool async = false;
  bool no_ctx_record_event = false;
};

// Everything the driver knows, reachable from one global so that a leak checker sees it.
struct Driver {
  bool initialized = false;
  Knobs knobs;
  std::vector<std::unique_ptr<Device>> devices;
  std::vector<std::unique_ptr<Context>> contexts;  // created with cuCtxCreate (kept when destroyed)
  std::map<Stream*, std::shared_ptr<Stream>> streams;  // live user streams
  std::map<Event*, std::unique_ptr<Event>> events;
  std::map<uintptr_t, Allocation> allocations;  // by start address
  std::vector<Capture*> captures;              // active
  std::map<Graph*, std::unique_ptr<Graph>> graphs;
  std::map<Graph*, std::unique_ptr<Graph>> execs;  // instantiated graphs
  std::map<std::string, Kernel> kernels;
  std::map<Module*, std::unique_ptr<Module>> modules;
  // Function (and kernel) handles point to interned names, valid for the process's life.
  std::map<std::string, std::unique_ptr<std::string>> function_names;
  std::set<const void*> function_handles;
  struct fakecuda_counters counters{};
};

// ---- state.cc
extern std::recursive_mutex mu;
Driver& drv();                             // created on first use
std::unique_lock<std::recursive_mutex> lock();
CUresult check_init();
Context* current_ctx();                    // the calling thread's, or null
bool valid_ctx(Context* c);
pid_t thread_id();
int& thread_capture_mode();                // cuThreadExchangeStreamCaptureMode's
void busy_wait_us(unsigned us);

// ---- memory.cc
Allocation* find_allocation(uintptr_t addr, uintptr_t* base);  // containing addr
void release_allocation(uintptr_t base);
void release_context_memory(Context* c);

// ---- streams.cc
// Resolves a stream handle (NULL, legacy, per-thread or a created stream) in the calling
// thread's context; per_thread: the call came through a _ptsz/_ptds entry point.
CUresult resolve_stream(CUstream h, bool per_thread, Stream** out);
Stream* per_thread_stream(Context* c);
std::shared_ptr<Stream> shared(Stream* s);
std::shared_ptr<Stream> new_stream(Context* c, StreamKind kind, unsigned flags);
// Queues fn on s (or adds it to the graph s is capturing); without FAKECUDA_ASYNC it runs now.
CUresult submit(Stream* s, std::function<void()> fn, std::vector<Dep> deps = {});
void run_until(Stream* s, uint64_t seq);
bool step_toward(Stream* s, uint64_t seq);
void sync_context(Context* c);
void sync_device(int device);
void destroy_stream_locked(Stream* s);

// ---- capture.cc
// Potentially unsafe call made during a capture: CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED (and
// the captures it conflicts with are invalidated) or CUDA_SUCCESS.
CUresult capture_guard();
void invalidate(Capture* c);

}  // namespace fakecuda
