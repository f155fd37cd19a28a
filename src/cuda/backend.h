// What the caching core needs from a CUDA driver, as a concept: the core is a template on
// its backend, so the unit tests run it on an in-process fake and the entry layer on the
// real driver table. A backend makes every call with the given context current without
// changing the calling thread's current context.
#pragma once
#include <concepts>
#include <cstddef>

#include "cuda/types.h"

namespace mpshim::cuda {

template <class B>
concept Backend = requires(B& b, Context ctx, DevPtr* out, DevPtr p, size_t bytes, Event e,
                           Event* eo, size_t* free, size_t* total, bool on) {
  /// cuMemAlloc_v2.
  { b.mem_alloc(ctx, out, bytes) } -> std::same_as<Result>;
  /// cuMemFree_v2 (synchronises the device).
  { b.mem_free(ctx, p) } -> std::same_as<Result>;
  /// cuEventCreate with timing disabled.
  { b.event_create(ctx, eo) } -> std::same_as<Result>;
  { b.event_destroy(ctx, e) } -> std::same_as<Result>;
  /// cuCtxRecordEvent: the event completes when all work of the context issued before it
  /// has; kErrorNotSupported where the driver lacks it.
  { b.record_fence(ctx, e) } -> std::same_as<Result>;
  /// cuEventQuery: kSuccess or kErrorNotReady.
  { b.event_query(e) } -> std::same_as<Result>;
  { b.event_synchronize(e) } -> std::same_as<Result>;
  { b.ctx_synchronize(ctx) } -> std::same_as<Result>;
  { b.mem_get_info(ctx, free, total) } -> std::same_as<Result>;
  /// While a stream capture is active: switches the calling thread's capture mode to
  /// relaxed (on) and back (off) around the core's own cuMemAlloc.
  { b.relax_capture(on) } -> std::same_as<void>;
};

}  // namespace mpshim::cuda
