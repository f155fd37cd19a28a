// The CUDA driver's image (libcuda.so), found at check time. The driver keeps records of
// the device memory it handed out, in its own data and in heap blocks it allocated; those
// records are no evidence that the program still holds that memory, so the leak check
// reads neither for pointers to device blocks.
#pragma once
#include <cstddef>
#include <cstdint>

#include "track/classify.h"

namespace mpshim::track {

struct DriverImage {
  uintptr_t text_lo = 0, text_hi = 0;  ///< executable segments ([0, 0): no driver loaded)
  ScanRange data[4];                   ///< writable segments
  size_t ndata = 0;
  bool in_text(uintptr_t pc) const { return pc - text_lo < text_hi - text_lo; }
};

/// Fills `out` from the loaded objects (a file named libcuda.so*); false when there is
/// none. Takes the dynamic loader's lock: call it before the allocator's locks.
bool find_driver_image(DriverImage* out);

}  // namespace mpshim::track
