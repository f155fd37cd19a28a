#include "driver.h"

#include <dlfcn.h>

#include <mutex>

namespace fakecudart {
namespace {

Driver g_tables[2];
cudaError_t g_load_error = cudaErrorInitializationError;
std::once_flag g_once;

// The per-thread-default-stream variants (_ptsz, _ptds) exist from CUDA 7.0: a request for
// them names at least that version (no entry here changes signature before it).
constexpr int kPerThreadVersion = 7000;

void fetch(GetProcAddressFn get, Driver& table, cuuint64_t flags) {
  const bool per_thread = flags == CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM;
#define FAKECUDART_FETCH(name, version, ret, params)                                       \
  {                                                                                         \
    void* fn = nullptr;                                                                     \
    CUdriverProcAddressQueryResult status = 0;                                              \
    int v = per_thread && version < kPerThreadVersion ? kPerThreadVersion : version;        \
    if (get(#name, &fn, v, flags, &status) == CUDA_SUCCESS)                                 \
      table.name = reinterpret_cast<ret(*) params>(fn);                                     \
  }
  FAKECUDART_DRIVER_ENTRIES(FAKECUDART_FETCH)
#undef FAKECUDART_FETCH
}

void load() {
  // The handle is kept for the life of the process, as the real runtime does.
  void* handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (!handle) {
    g_load_error = cudaErrorInsufficientDriver;
    return;
  }
  auto get = reinterpret_cast<GetProcAddressFn>(dlsym(handle, "cuGetProcAddress_v2"));
  if (!get) {
    g_load_error = cudaErrorInsufficientDriver;
    return;
  }
  fetch(get, g_tables[0], CU_GET_PROC_ADDRESS_LEGACY_STREAM);
  fetch(get, g_tables[1], CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM);
  if (!g_tables[0].cuInit || g_tables[0].cuInit(0) != CUDA_SUCCESS) {
    g_load_error = cudaErrorInitializationError;
    return;
  }
  g_load_error = cudaSuccess;
}

}  // namespace

cudaError_t load_driver() {
  std::call_once(g_once, load);
  return g_load_error;
}

const Driver& driver(bool ptsz) { return g_tables[ptsz ? 1 : 0]; }

}  // namespace fakecudart
