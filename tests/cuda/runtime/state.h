// Per-thread runtime state (current device, last error, launch configurations) and the
// primary contexts the runtime makes current, as the real runtime does on first use.
#pragma once

#include "driver.h"

#define FAKECUDART_API extern "C" __attribute__((visibility("default")))

namespace fakecudart {

constexpr int kMaxDevices = 16;

/// Loads the driver and makes a context current on this thread (the primary context of the
/// thread's device unless the program made one current itself); `d` is the table to call.
cudaError_t enter(bool ptsz, const Driver*& d);

/// Makes `device`'s primary context current and the thread's device.
cudaError_t set_device(int device);

/// The thread's device (the device of the current context, if there is one).
int current_device();

/// Records a failed call's error as the thread's last error; returns `e`.
cudaError_t fail(cudaError_t e);

/// Runtime error of a driver result (the codes the fake uses have the same values).
inline cudaError_t from(CUresult r) { return r == CUDA_SUCCESS ? cudaSuccess : fail(r); }

/// The thread's last error; cleared when `reset`.
cudaError_t last_error(bool reset);

}  // namespace fakecudart

// Calls a driver entry point that may be absent from the driver: cudaErrorNotSupported then.
#define FAKECUDART_CALL(d, name, ...) \
  ((d)->name ? ::fakecudart::from((d)->name(__VA_ARGS__)) : ::fakecudart::fail(cudaErrorNotSupported))

// Declares `d` and returns the error when the driver or a context is not available.
#define FAKECUDART_ENTER(ptsz)                                       \
  const ::fakecudart::Driver* d = nullptr;                           \
  if (cudaError_t e_ = ::fakecudart::enter((ptsz), d); e_ != cudaSuccess) \
  return ::fakecudart::fail(e_)
