// The caching allocator's backend on the real driver (cuda/backend.h): every call is made
// with the pool's context current and leaves the calling thread's context as it was.
#pragma once
#include <cstddef>

#include "cuda/types.h"

namespace mpshim::entry::cuda {

using namespace mpshim::cuda;

class DriverBackend {
 public:
  constexpr DriverBackend() = default;
  Result mem_alloc(Context ctx, DevPtr* out, size_t bytes);
  Result mem_free(Context ctx, DevPtr p);
  Result event_create(Context ctx, Event* out);
  Result event_destroy(Context ctx, Event e);
  /// cuCtxRecordEvent; kErrorNotSupported where the driver predates it (before 12.5).
  Result record_fence(Context ctx, Event e);
  Result event_query(Event e);
  Result event_synchronize(Event e);
  Result ctx_synchronize(Context ctx);
  Result mem_get_info(Context ctx, size_t* free, size_t* total);
  /// Switches the calling thread to relaxed capture mode (on) and back (off), so that the
  /// cache's own driver allocations do not break another thread's global-mode capture.
  void relax_capture(bool on);
};

}  // namespace mpshim::entry::cuda
