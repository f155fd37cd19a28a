// Devices, versions and errors.
#include "state.h"

using namespace fakecudart;

namespace {

struct ErrorText {
  cudaError_t code;
  const char* name;
  const char* text;
};

// The texts of the real runtime for the errors the fake can produce.
constexpr ErrorText kErrors[] = {
    {0, "cudaSuccess", "no error"},
    {1, "cudaErrorInvalidValue", "invalid argument"},
    {2, "cudaErrorMemoryAllocation", "out of memory"},
    {3, "cudaErrorInitializationError", "initialization error"},
    {4, "cudaErrorCudartUnloading", "driver shutting down"},
    {35, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {36, "cudaErrorCallRequiresNewerDriver",
     "API call is not supported in the installed CUDA driver"},
    {52, "cudaErrorMissingConfiguration", "__global__ function call is not configured"},
    {98, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {100, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {101, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {201, "cudaErrorDeviceUninitialized", "invalid device context"},
    {400, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {401, "cudaErrorIllegalState", "the operation cannot be performed in the present state"},
    {500, "cudaErrorSymbolNotFound", "named symbol not found"},
    {600, "cudaErrorNotReady", "device not ready"},
    {700, "cudaErrorIllegalAddress", "an illegal memory access was encountered"},
    {719, "cudaErrorLaunchFailure", "unspecified launch failure"},
    {800, "cudaErrorNotPermitted", "operation not permitted"},
    {801, "cudaErrorNotSupported", "operation not supported"},
    {900, "cudaErrorStreamCaptureUnsupported", "operation not permitted when stream is capturing"},
    {901, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {903, "cudaErrorStreamCaptureUnmatched", "capture was not ended in the same stream as it began"},
    {904, "cudaErrorStreamCaptureUnjoined", "capturing stream has unjoined work"},
    {905, "cudaErrorStreamCaptureIsolation",
     "dependency created on uncaptured work in another stream"},
    {906, "cudaErrorStreamCaptureImplicit",
     "operation would make the legacy stream depend on a capturing blocking stream"},
    {907, "cudaErrorCapturedEvent", "operation not permitted on an event last recorded in a capturing stream"},
    {908, "cudaErrorStreamCaptureWrongThread",
     "attempt to terminate a thread-local capture sequence from another thread"},
    {999, "cudaErrorUnknown", "unknown error"},
};

const ErrorText* find_error(cudaError_t e) {
  for (const ErrorText& t : kErrors)
    if (t.code == e) return &t;
  return nullptr;
}

}  // namespace

FAKECUDART_API const char* cudaGetErrorName(cudaError_t e) {
  const ErrorText* t = find_error(e);
  return t ? t->name : "cudaErrorUnknown";
}
FAKECUDART_API const char* cudaGetErrorString(cudaError_t e) {
  const ErrorText* t = find_error(e);
  return t ? t->text : "unrecognized error code";
}
FAKECUDART_API cudaError_t cudaGetLastError() { return last_error(true); }
FAKECUDART_API cudaError_t cudaPeekAtLastError() { return last_error(false); }

FAKECUDART_API cudaError_t cudaGetDeviceCount(int* count) {
  if (cudaError_t e = load_driver()) return fail(e);
  if (!count) return fail(cudaErrorInvalidValue);
  cudaError_t e = from(driver(false).cuDeviceGetCount(count));
  if (e == cudaSuccess && *count == 0) return fail(cudaErrorNoDevice);
  return e;
}
FAKECUDART_API cudaError_t cudaSetDevice(int device) { return fail(set_device(device)); }
FAKECUDART_API cudaError_t cudaGetDevice(int* device) {
  if (cudaError_t e = load_driver()) return fail(e);
  if (!device) return fail(cudaErrorInvalidValue);
  *device = current_device();
  return cudaSuccess;
}
FAKECUDART_API cudaError_t cudaDeviceSynchronize() {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuCtxSynchronize);
}
// Destroys the current device's primary context with everything allocated in it.
FAKECUDART_API cudaError_t cudaDeviceReset() {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuDevicePrimaryCtxReset, current_device());
}
FAKECUDART_API cudaError_t cudaDeviceGetAttribute(int* value, int attr, int device) {
  if (cudaError_t e = load_driver()) return fail(e);
  return from(driver(false).cuDeviceGetAttribute(value, attr, device));
}
FAKECUDART_API cudaError_t cudaDriverGetVersion(int* version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = 0;
  if (load_driver() != cudaSuccess) return cudaSuccess;  // no driver: version 0
  return from(driver(false).cuDriverGetVersion(version));
}
FAKECUDART_API cudaError_t cudaRuntimeGetVersion(int* version) {
  if (!version) return fail(cudaErrorInvalidValue);
  *version = 13000;
  return cudaSuccess;
}
