#include "entry/cuda_backend.h"

#include "entry/cuda_real.h"
#include "prim/defines.h"

namespace mpshim::entry::cuda {
namespace {

constexpr unsigned kEventDisableTiming = 2;  // CU_EVENT_DISABLE_TIMING
constexpr int kCaptureRelaxed = 2;           // CU_STREAM_CAPTURE_MODE_RELAXED

MPSHIM_TLS int t_saved_mode;

// Makes `ctx` current for the scope when it is not already, and restores the previous one.
class CtxScope {
 public:
  CtxScope(const Driver* d, Context ctx) : d_(d) {
    Context cur = nullptr;
    if (d_ == nullptr || ctx == nullptr) return;
    if (d_->ctx_get_current(&cur) == kSuccess && cur == ctx) return;
    pushed_ = d_->ctx_push(ctx) == kSuccess;
  }
  ~CtxScope() {
    Context popped;
    if (pushed_) d_->ctx_pop(&popped);
  }
  CtxScope(const CtxScope&) = delete;
  CtxScope& operator=(const CtxScope&) = delete;

 private:
  const Driver* d_;
  bool pushed_ = false;
};

template <typename F>
F real_fn(Hook h) {
  return reinterpret_cast<F>(real(h));
}

}  // namespace

Result DriverBackend::mem_alloc(Context ctx, DevPtr* out, size_t bytes) {
  auto f = real_fn<Result (*)(DevPtr*, size_t)>(Hook::MemAlloc);
  if (f == nullptr) return kErrorNotInitialized;
  CtxScope scope(driver(), ctx);
  return f(out, bytes);
}

Result DriverBackend::mem_free(Context ctx, DevPtr p) {
  auto f = real_fn<Result (*)(DevPtr)>(Hook::MemFree);
  if (f == nullptr) return kErrorNotInitialized;
  CtxScope scope(driver(), ctx);
  return f(p);
}

Result DriverBackend::event_create(Context ctx, Event* out) {
  const Driver* d = driver();
  if (d == nullptr) return kErrorNotInitialized;
  CtxScope scope(d, ctx);
  return d->event_create(out, kEventDisableTiming);
}

Result DriverBackend::event_destroy(Context ctx, Event e) {
  const Driver* d = driver();
  if (d == nullptr) return kErrorNotInitialized;
  CtxScope scope(d, ctx);
  return d->event_destroy(e);
}

Result DriverBackend::record_fence(Context ctx, Event e) {
  const Driver* d = driver();
  if (d == nullptr) return kErrorNotInitialized;
  if (d->ctx_record_event == nullptr) return kErrorNotSupported;
  return d->ctx_record_event(ctx, e);
}

Result DriverBackend::event_query(Event e) {
  const Driver* d = driver();
  return d != nullptr ? d->event_query(e) : kErrorNotInitialized;
}

Result DriverBackend::event_synchronize(Event e) {
  const Driver* d = driver();
  return d != nullptr ? d->event_synchronize(e) : kErrorNotInitialized;
}

Result DriverBackend::ctx_synchronize(Context ctx) {
  const Driver* d = driver();
  if (d == nullptr) return kErrorNotInitialized;
  CtxScope scope(d, ctx);
  return d->ctx_synchronize();
}

Result DriverBackend::mem_get_info(Context ctx, size_t* free, size_t* total) {
  auto f = real_fn<Result (*)(size_t*, size_t*)>(Hook::MemGetInfo);
  if (f == nullptr) return kErrorNotInitialized;
  CtxScope scope(driver(), ctx);
  return f(free, total);
}

void DriverBackend::relax_capture(bool on) {
  const Driver* d = driver();
  if (d == nullptr || d->exchange_capture_mode == nullptr) return;
  if (on) {
    t_saved_mode = kCaptureRelaxed;
    d->exchange_capture_mode(&t_saved_mode);
  } else {
    d->exchange_capture_mode(&t_saved_mode);
  }
}

}  // namespace mpshim::entry::cuda
