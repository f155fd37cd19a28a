/* A program that uses the CUDA driver directly, as a static-cudart program does: dlopen
 * libcuda.so.1, cuGetProcAddress_v2 for every entry point, then allocation, streams, events,
 * an emulated kernel, a captured graph, and frees everything. Run under the shim, its leak
 * report must be empty: the fake driver's own bookkeeping stays reachable. Exits 0 when every
 * call succeeded and the kernel's results are right. */
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fakecuda.h"

typedef int (*GetProc)(const char*, void**, int, uint64_t, int*);
static GetProc get_proc;

static void* fn(const char* name) {
  void* p = NULL;
  int status;
  if (get_proc(name, &p, 13000, 0, &status) != 0) {
    fprintf(stderr, "driver_direct: no %s\n", name);
    return NULL;
  }
  return p;
}

#define CHECK(call)                                                   \
  do {                                                                \
    int rc_ = (call);                                                 \
    if (rc_ != 0) {                                                   \
      fprintf(stderr, "driver_direct: %s: error %d\n", #call, rc_);   \
      return 1;                                                       \
    }                                                                 \
  } while (0)

static void scale(void** args, const struct fakecuda_launch* launch) {
  unsigned* p = *(unsigned**)args[0];
  unsigned factor = *(unsigned*)args[1];
  for (unsigned i = 0; i < launch->grid[0] * launch->block[0]; ++i) p[i] *= factor;
}

int main(void) {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!lib) {
    fprintf(stderr, "driver_direct: %s\n", dlerror());
    return 1;
  }
  get_proc = (GetProc)dlsym(lib, "cuGetProcAddress_v2");
  int (*reg)(const char*, fakecuda_kernel_fn, unsigned, const size_t*) =
      (int (*)(const char*, fakecuda_kernel_fn, unsigned, const size_t*))dlsym(
          RTLD_DEFAULT, "fakecuda_register_kernel_params");
  if (!get_proc || !reg) return 1;
  const size_t sizes[] = {sizeof(unsigned long long), sizeof(unsigned)};
  CHECK(reg("_Z5scalePjj", scale, 2, sizes));

  int (*init)(unsigned) = fn("cuInit");
  int (*retain)(void**, int) = fn("cuDevicePrimaryCtxRetain");
  int (*release)(int) = fn("cuDevicePrimaryCtxRelease");
  int (*set_current)(void*) = fn("cuCtxSetCurrent");
  int (*mem_alloc)(unsigned long long*, size_t) = fn("cuMemAlloc");
  int (*mem_free)(unsigned long long) = fn("cuMemFree");
  int (*alloc_async)(unsigned long long*, size_t, void*) = fn("cuMemAllocAsync");
  int (*free_async)(unsigned long long, void*) = fn("cuMemFreeAsync");
  int (*alloc_host)(void**, size_t) = fn("cuMemAllocHost");
  int (*free_host)(void*) = fn("cuMemFreeHost");
  int (*htod)(unsigned long long, const void*, size_t) = fn("cuMemcpyHtoD");
  int (*dtoh)(void*, unsigned long long, size_t) = fn("cuMemcpyDtoH");
  int (*stream_create)(void**, unsigned) = fn("cuStreamCreate");
  int (*stream_destroy)(void*) = fn("cuStreamDestroy");
  int (*stream_sync)(void*) = fn("cuStreamSynchronize");
  int (*event_create)(void**, unsigned) = fn("cuEventCreate");
  int (*event_destroy)(void*) = fn("cuEventDestroy");
  int (*ctx_record_event)(void*, void*) = fn("cuCtxRecordEvent");
  int (*event_sync)(void*) = fn("cuEventSynchronize");
  int (*module_load)(void**, const void*) = fn("cuModuleLoadData");
  int (*module_unload)(void*) = fn("cuModuleUnload");
  int (*get_function)(void**, void*, const char*) = fn("cuModuleGetFunction");
  int (*launch)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned,
                void*, void**, void**) = fn("cuLaunchKernel");
  int (*begin_capture)(void*, int) = fn("cuStreamBeginCapture");
  int (*end_capture)(void*, void**) = fn("cuStreamEndCapture");
  int (*instantiate)(void**, void*, unsigned long long) = fn("cuGraphInstantiateWithFlags");
  int (*graph_launch)(void*, void*) = fn("cuGraphLaunch");
  int (*graph_destroy)(void*) = fn("cuGraphDestroy");
  int (*exec_destroy)(void*) = fn("cuGraphExecDestroy");
  if (!init || !retain || !release || !set_current || !mem_alloc || !mem_free || !alloc_async ||
      !free_async || !alloc_host || !free_host || !htod || !dtoh || !stream_create ||
      !stream_destroy || !stream_sync || !event_create || !event_destroy || !ctx_record_event ||
      !event_sync || !module_load || !module_unload || !get_function || !launch ||
      !begin_capture || !end_capture || !instantiate || !graph_launch || !graph_destroy ||
      !exec_destroy)
    return 1;

  void *ctx, *stream, *event, *module, *kernel, *graph, *exec, *pinned;
  CHECK(init(0));
  CHECK(retain(&ctx, 0));
  CHECK(set_current(ctx));
  CHECK(stream_create(&stream, 1));
  CHECK(event_create(&event, 0));
  CHECK(module_load(&module, "image"));
  CHECK(get_function(&kernel, module, "_Z5scalePjj"));

  enum { N = 256 };
  unsigned long long dev, tmp;
  unsigned host[N];
  for (unsigned i = 0; i < N; ++i) host[i] = i;
  CHECK(mem_alloc(&dev, sizeof host));
  CHECK(alloc_async(&tmp, 4096, stream));
  CHECK(alloc_host(&pinned, 4096));
  CHECK(htod(dev, host, sizeof host));
  unsigned factor = 3;
  void* args[] = {&dev, &factor};
  CHECK(launch(kernel, 1, 1, 1, N, 1, 1, 0, stream, args, NULL));
  CHECK(begin_capture(stream, 0));
  factor = 2;
  CHECK(launch(kernel, 1, 1, 1, N, 1, 1, 0, stream, args, NULL));
  CHECK(end_capture(stream, &graph));
  CHECK(instantiate(&exec, graph, 0));
  CHECK(graph_launch(exec, stream));
  CHECK(ctx_record_event(ctx, event));
  CHECK(event_sync(event));
  CHECK(stream_sync(stream));
  CHECK(dtoh(host, dev, sizeof host));
  for (unsigned i = 0; i < N; ++i)
    if (host[i] != i * 6) {
      fprintf(stderr, "driver_direct: element %u is %u, not %u\n", i, host[i], i * 6);
      return 1;
    }

  CHECK(free_async(tmp, stream));
  CHECK(exec_destroy(exec));
  CHECK(graph_destroy(graph));
  CHECK(mem_free(dev));
  CHECK(free_host(pinned));
  CHECK(module_unload(module));
  CHECK(event_destroy(event));
  CHECK(stream_destroy(stream));
  CHECK(release(0));
  printf("driver_direct: ok\n");
  return 0;
}
