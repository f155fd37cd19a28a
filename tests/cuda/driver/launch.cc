// Modules, libraries and kernel launches. The fake reads nothing from a module image: a
// function handle is the kernel's interned name, and a launch runs the host emulation
// registered under that name (control.cc).
#include <cstdio>
#include <cstdlib>

#include "driver.h"

namespace fakecuda {

static const void* intern_function(const char* name) {
  Driver& d = drv();
  auto& slot = d.function_names[name];
  if (!slot) slot = std::make_unique<std::string>(name);
  d.function_handles.insert(slot.get());
  return slot.get();
}

static CUresult load_module(void** out, const void* image) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!out || !image) return CUDA_ERROR_INVALID_VALUE;
  if (!current_ctx()) return CUDA_ERROR_INVALID_CONTEXT;
  auto m = std::make_unique<Module>();
  *out = m.get();
  drv().modules[m.get()] = std::move(m);
  return CUDA_SUCCESS;
}

static CUresult unload_module(void* m) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  return drv().modules.erase(static_cast<Module*>(m)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

static CUresult get_function(void** out, void* m, const char* name) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!out || !name) return CUDA_ERROR_INVALID_VALUE;
  if (!drv().modules.count(static_cast<Module*>(m))) return CUDA_ERROR_INVALID_HANDLE;
  *out = const_cast<void*>(intern_function(name));
  return CUDA_SUCCESS;
}

// The arguments of a launch, copied when the kernel declared its parameter sizes.
struct Args {
  std::vector<std::vector<unsigned char>> copies;
  void** raw = nullptr;  // the caller's kernelParams, for kernels without declared sizes
};

static CUresult launch(CUfunction f, const unsigned grid[3], const unsigned block[3],
                       unsigned shmem, CUstream h, void** params, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Driver& d = drv();
  if (!d.function_handles.count(f)) return CUDA_ERROR_INVALID_HANDLE;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  ++d.counters.kernel_launches;
  const std::string* name = reinterpret_cast<const std::string*>(f);
  auto k = d.kernels.find(*name);
  if (k == d.kernels.end()) return CUDA_ERROR_NOT_FOUND;
  const Kernel kernel = k->second;
  if (!kernel.sized && s->capture) return CUDA_ERROR_NOT_SUPPORTED;  // its arguments would dangle
  if (kernel.sized && kernel.param_sizes.size() && !params) return CUDA_ERROR_INVALID_VALUE;
  auto args = std::make_shared<Args>();
  if (kernel.sized)
    for (size_t i = 0; i < kernel.param_sizes.size(); ++i) {
      auto* p = static_cast<unsigned char*>(params[i]);
      args->copies.emplace_back(p, p + kernel.param_sizes[i]);
    }
  else
    args->raw = params;
  fakecuda_launch info{{grid[0], grid[1], grid[2]}, {block[0], block[1], block[2]}, shmem, h,
                       name->c_str()};
  CUresult r = submit(s, [kernel, args, info] {
    ++drv().counters.kernels_run;
    if (args->raw || args->copies.empty()) {
      kernel.fn(args->raw, &info);
      return;
    }
    std::vector<void*> ptrs;
    for (auto& c : args->copies) ptrs.push_back(c.data());
    kernel.fn(ptrs.data(), &info);
  });
  if (r == CUDA_SUCCESS && !kernel.sized) run_until(s, s->submitted);  // before params go away
  return r;
}

}  // namespace fakecuda

using namespace fakecuda;

FC_EXPORT CUresult cuModuleLoadData(CUmodule* m, const void* image) {
  return load_module(reinterpret_cast<void**>(m), image);
}
FC_EXPORT CUresult cuModuleLoadFatBinary(CUmodule* m, const void* image) {
  return load_module(reinterpret_cast<void**>(m), image);
}
FC_EXPORT CUresult cuModuleUnload(CUmodule m) { return unload_module(m); }
FC_EXPORT CUresult cuModuleGetFunction(CUfunction* f, CUmodule m, const char* name) {
  return get_function(reinterpret_cast<void**>(f), m, name);
}

FC_EXPORT CUresult cuLibraryLoadData(CUlibrary* lib, const void* code, void*, void**, unsigned,
                                     void*, void**, unsigned) {
  return load_module(reinterpret_cast<void**>(lib), code);
}
FC_EXPORT CUresult cuLibraryUnload(CUlibrary lib) { return unload_module(lib); }
FC_EXPORT CUresult cuLibraryGetKernel(CUkernel* k, CUlibrary lib, const char* name) {
  return get_function(reinterpret_cast<void**>(k), lib, name);
}
// A kernel handle and its function handle are the same interned name.
FC_EXPORT CUresult cuKernelGetFunction(CUfunction* f, CUkernel k) {
  auto lk = lock();
  if (!f || !drv().function_handles.count(k)) return CUDA_ERROR_INVALID_HANDLE;
  *f = reinterpret_cast<CUfunction>(k);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                  unsigned bx, unsigned by, unsigned bz, unsigned shmem,
                                  CUstream h, void** params, void** /*extra*/) {
  const unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  return launch(f, grid, block, shmem, h, params, false);
}
FC_EXPORT CUresult cuLaunchKernel_ptsz(CUfunction f, unsigned gx, unsigned gy, unsigned gz,
                                       unsigned bx, unsigned by, unsigned bz, unsigned shmem,
                                       CUstream h, void** params, void** /*extra*/) {
  const unsigned grid[3] = {gx, gy, gz}, block[3] = {bx, by, bz};
  return launch(f, grid, block, shmem, h, params, true);
}

// ---- control API: kernel emulations
static int register_kernel(const char* name, fakecuda_kernel_fn fn, bool sized, unsigned n,
                           const size_t* sizes) {
  if (!name || !fn || (n && !sizes)) return 1;
  auto lk = lock();
  Kernel& k = drv().kernels[name];
  k.fn = fn;
  k.sized = sized;
  k.param_sizes.assign(sizes, sizes + n);
  return 0;
}

FC_EXPORT int fakecuda_register_kernel(const char* name, fakecuda_kernel_fn fn) {
  return register_kernel(name, fn, false, 0, nullptr);
}

FC_EXPORT int fakecuda_register_kernel_params(const char* name, fakecuda_kernel_fn fn,
                                              unsigned nparams, const size_t* sizes) {
  return register_kernel(name, fn, true, nparams, sizes);
}

FC_EXPORT void fakecuda_counters(struct fakecuda_counters* out) {
  auto lk = lock();
  if (out) *out = drv().counters;
}

// FAKECUDA_COUNTERS_FILE=path: the counters a test compares with a shim's statistics,
// written when the driver is unloaded (at exit), as key=value lines.
__attribute__((destructor)) static void write_counters_file() {
  const char* path = getenv("FAKECUDA_COUNTERS_FILE");
  if (!path || !*path) return;
  FILE* f = fopen(path, "w");
  if (!f) return;
  const struct fakecuda_counters& c = drv().counters;
  fprintf(f, "mem_alloc=%llu\nmem_free=%llu\nalloc_async=%llu\nfree_async=%llu\n"
             "alloc_host=%llu\nfree_host=%llu\nctx_record_events=%llu\nctx_synchronize=%llu\n"
             "event_synchronize=%llu\nkernels_run=%llu\npeak_bytes_in_use=%llu\n",
          (unsigned long long)c.mem_alloc, (unsigned long long)c.mem_free,
          (unsigned long long)c.alloc_async, (unsigned long long)c.free_async,
          (unsigned long long)c.alloc_host, (unsigned long long)c.free_host,
          (unsigned long long)c.ctx_record_events, (unsigned long long)c.ctx_synchronize,
          (unsigned long long)c.event_synchronize, (unsigned long long)c.kernels_run,
          (unsigned long long)c.peak_bytes_in_use[0]);
  fclose(f);
}
