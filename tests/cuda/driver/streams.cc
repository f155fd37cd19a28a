// Streams, their work queues and events. Work is queued per stream with the points of other
// streams it waits for (CUDA's ordering rules: the legacy stream waits for every blocking
// stream and they for it; cuStreamWaitEvent adds an edge). Without FAKECUDA_ASYNC each item
// runs as soon as it is queued; with it, items run only when something waits for them.
#include "driver.h"

namespace fakecuda {

std::shared_ptr<Stream> shared(Stream* s) { return s->shared_from_this(); }

std::shared_ptr<Stream> new_stream(Context* c, StreamKind kind, unsigned flags) {
  auto s = std::make_shared<Stream>();
  s->ctx = c;
  s->kind = kind;
  s->flags = flags;
  c->streams.push_back(s);
  return s;
}

Stream* per_thread_stream(Context* c) {
  auto& s = c->per_thread[thread_id()];
  if (!s) s = new_stream(c, StreamKind::PerThread, 0);  // a blocking stream
  return s.get();
}

CUresult resolve_stream(CUstream h, bool per_thread, Stream** out) {
  if (h == nullptr || h == CU_STREAM_LEGACY_HANDLE || h == CU_STREAM_PER_THREAD_HANDLE) {
    Context* c = current_ctx();
    if (!c) return CUDA_ERROR_INVALID_CONTEXT;
    bool pt = h == CU_STREAM_PER_THREAD_HANDLE || (h == nullptr && per_thread);
    *out = pt ? per_thread_stream(c) : c->legacy.get();
    return CUDA_SUCCESS;
  }
  auto it = drv().streams.find(reinterpret_cast<Stream*>(h));
  if (it == drv().streams.end()) return CUDA_ERROR_INVALID_HANDLE;
  *out = it->second.get();
  return CUDA_SUCCESS;
}

CUresult submit(Stream* s, std::function<void()> fn, std::vector<Dep> deps) {
  if (Capture* cap = s->capture) {
    if (cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    if (fn) cap->graph->ops.push_back(std::move(fn));
    return CUDA_SUCCESS;
  }
  Context* c = s->ctx;
  if (s->kind == StreamKind::Legacy) {
    for (auto& o : c->streams) {
      if (o.get() == s || !o->blocking()) continue;
      if (o->capture) {  // the legacy stream would have to wait for a capturing stream
        invalidate(o->capture);
        return CUDA_ERROR_STREAM_CAPTURE_IMPLICIT;
      }
      if (o->completed < o->submitted) deps.push_back(Dep{o, o->submitted});
    }
  } else if (s->blocking()) {
    Stream* l = c->legacy.get();
    if (l->completed < l->submitted) deps.push_back(Dep{c->legacy, l->submitted});
  }
  s->queue.push_back(Work{++s->submitted, std::move(deps), std::move(fn)});
  if (!drv().knobs.async) run_until(s, s->submitted);
  return CUDA_SUCCESS;
}

// Runs the front item of s once what it waits for has run.
static void run_front(Stream* s) {
  for (size_t i = 0; i < s->queue.front().deps.size(); ++i) {
    Dep d = s->queue.front().deps[i];
    run_until(d.stream.get(), d.seq);
  }
  Work w = std::move(s->queue.front());
  s->queue.pop_front();
  if (w.fn) w.fn();
  s->completed = w.seq;
}

void run_until(Stream* s, uint64_t seq) {
  while (s->completed < seq && !s->queue.empty()) run_front(s);
}

// Runs one item on the way to (s, seq): the first whose own waits are met.
bool step_toward(Stream* s, uint64_t seq) {
  if (s->completed >= seq || s->queue.empty()) return false;
  for (const Dep& d : s->queue.front().deps)
    if (d.stream->completed < d.seq) return step_toward(d.stream.get(), d.seq);
  run_front(s);
  return true;
}

void sync_context(Context* c) {
  for (auto& s : std::vector<std::shared_ptr<Stream>>(c->streams)) run_until(s.get(), s->submitted);
}

void sync_device(int device) {
  Driver& d = drv();
  sync_context(&d.devices[device]->primary);
  for (auto& c : d.contexts)
    if (!c->destroyed && c->device == device) sync_context(c.get());
}

// The real driver lets a destroyed stream's work finish later; running it now is one of the
// orders it may choose.
void destroy_stream_locked(Stream* s) {
  run_until(s, s->submitted);
  auto& v = s->ctx->streams;
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it->get() == s) {
      v.erase(it);
      break;
    }
  drv().streams.erase(s);
}

static Event* find_event(CUevent h) {
  auto it = drv().events.find(reinterpret_cast<Event*>(h));
  return it == drv().events.end() ? nullptr : it->second.get();
}

static bool event_done(const Event* e) { return !e->stream || e->stream->completed >= e->seq; }

}  // namespace fakecuda

using namespace fakecuda;

// ---- streams
static CUresult stream_create(CUstream* out, unsigned flags, int priority, bool counted) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Context* c = current_ctx();
  if (!c) return CUDA_ERROR_INVALID_CONTEXT;
  if (!out || (flags & ~1u)) return CUDA_ERROR_INVALID_VALUE;
  if (counted) ++drv().counters.stream_creates;
  auto s = new_stream(c, StreamKind::User, flags);
  s->priority = priority;
  drv().streams[s.get()] = s;
  *out = reinterpret_cast<CUstream>(s.get());
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamCreate(CUstream* out, unsigned flags) {
  return stream_create(out, flags, 0, true);
}
FC_EXPORT CUresult cuStreamCreateWithPriority(CUstream* out, unsigned flags, int priority) {
  return stream_create(out, flags, priority, true);
}
FC_EXPORT int fakecuda_stream_create_unseen(CUstream* out, unsigned flags) {
  return stream_create(out, flags, 0, false);
}

FC_EXPORT CUresult cuStreamDestroy_v2(CUstream h) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  auto it = drv().streams.find(reinterpret_cast<Stream*>(h));
  if (it == drv().streams.end()) return CUDA_ERROR_INVALID_HANDLE;
  destroy_stream_locked(it->first);
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamDestroy(CUstream h) { return cuStreamDestroy_v2(h); }

// Synchronising with a capturing stream is refused and invalidates the capture.
static CUresult stream_wait_guard(Stream* s) {
  if (s->capture) {
    invalidate(s->capture);
    ++drv().counters.unsafe_calls_refused;
    return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  }
  return capture_guard();
}

static CUresult stream_synchronize(CUstream h, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  ++drv().counters.stream_synchronize;
  if (CUresult r = stream_wait_guard(s)) return r;
  run_until(s, s->submitted);
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamSynchronize(CUstream h) { return stream_synchronize(h, false); }
FC_EXPORT CUresult cuStreamSynchronize_ptsz(CUstream h) { return stream_synchronize(h, true); }

// A query of unfinished work runs one item, so that polling makes progress.
static CUresult stream_query(CUstream h, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  ++drv().counters.stream_queries;
  if (CUresult r = stream_wait_guard(s)) return r;
  if (s->completed >= s->submitted) return CUDA_SUCCESS;
  step_toward(s, s->submitted);
  return CUDA_ERROR_NOT_READY;
}
FC_EXPORT CUresult cuStreamQuery(CUstream h) { return stream_query(h, false); }
FC_EXPORT CUresult cuStreamQuery_ptsz(CUstream h) { return stream_query(h, true); }

static CUresult stream_wait_event(CUstream h, CUevent ev, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->capture) {  // waiting for a captured event joins the capture
    if (!s->capture) {
      s->capture = e->capture;
      e->capture->streams.push_back(shared(s));
    }
    return CUDA_SUCCESS;
  }
  if (s->capture || event_done(e)) return CUDA_SUCCESS;
  return submit(s, {}, {Dep{e->stream, e->seq}});
}
FC_EXPORT CUresult cuStreamWaitEvent(CUstream h, CUevent ev, unsigned) {
  return stream_wait_event(h, ev, false);
}
FC_EXPORT CUresult cuStreamWaitEvent_ptsz(CUstream h, CUevent ev, unsigned) {
  return stream_wait_event(h, ev, true);
}

static CUresult stream_get_flags(CUstream h, unsigned* flags, bool per_thread) {
  auto lk = lock();
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  if (!flags) return CUDA_ERROR_INVALID_VALUE;
  *flags = s->flags;
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamGetFlags(CUstream h, unsigned* f) { return stream_get_flags(h, f, false); }
FC_EXPORT CUresult cuStreamGetFlags_ptsz(CUstream h, unsigned* f) {
  return stream_get_flags(h, f, true);
}

static CUresult stream_get_ctx(CUstream h, CUcontext* pctx, bool per_thread) {
  auto lk = lock();
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  if (!pctx) return CUDA_ERROR_INVALID_VALUE;
  *pctx = reinterpret_cast<CUcontext>(s->ctx);
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamGetCtx(CUstream h, CUcontext* c) { return stream_get_ctx(h, c, false); }
FC_EXPORT CUresult cuStreamGetCtx_ptsz(CUstream h, CUcontext* c) {
  return stream_get_ctx(h, c, true);
}

// ---- events
FC_EXPORT CUresult cuEventCreate(CUevent* out, unsigned flags) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!current_ctx()) return CUDA_ERROR_INVALID_CONTEXT;
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  auto e = std::make_unique<Event>();
  e->flags = flags;
  *out = reinterpret_cast<CUevent>(e.get());
  drv().events[e.get()] = std::move(e);
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuEventDestroy_v2(CUevent ev) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  return drv().events.erase(reinterpret_cast<Event*>(ev)) ? CUDA_SUCCESS
                                                           : CUDA_ERROR_INVALID_HANDLE;
}
FC_EXPORT CUresult cuEventDestroy(CUevent ev) { return cuEventDestroy_v2(ev); }

static CUresult event_record(CUevent ev, CUstream h, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  ++drv().counters.event_records;
  if (Capture* cap = s->capture) {
    if (cap->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    e->capture = cap;
    e->stream.reset();
    return CUDA_SUCCESS;
  }
  if (CUresult r = submit(s, {})) return r;
  e->capture = nullptr;
  e->stream = shared(s);
  e->seq = s->submitted;
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuEventRecord(CUevent ev, CUstream h) { return event_record(ev, h, false); }
FC_EXPORT CUresult cuEventRecord_ptsz(CUevent ev, CUstream h) { return event_record(ev, h, true); }

FC_EXPORT CUresult cuEventQuery(CUevent ev) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.event_queries;
  if (CUresult r = capture_guard()) return r;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->capture) return CUDA_ERROR_CAPTURED_EVENT;
  if (event_done(e)) return CUDA_SUCCESS;
  step_toward(e->stream.get(), e->seq);
  return CUDA_ERROR_NOT_READY;
}

FC_EXPORT CUresult cuEventSynchronize(CUevent ev) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  ++drv().counters.event_synchronize;
  if (CUresult r = capture_guard()) return r;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->capture) return CUDA_ERROR_CAPTURED_EVENT;
  if (e->stream) run_until(e->stream.get(), e->seq);
  return CUDA_SUCCESS;
}

// Records all work queued so far in the context, on every stream (seen by anyone or not).
// Reached through cuCtxRecordEvent's resolver and cuGetProcAddress (proc.cc).
extern "C" CUresult fc_ctx_record_event(CUcontext ctx, CUevent ev) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Context* c = ctx ? reinterpret_cast<Context*>(ctx) : current_ctx();
  if (!valid_ctx(c)) return CUDA_ERROR_INVALID_CONTEXT;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  ++drv().counters.ctx_record_events;
  if (CUresult r = capture_guard()) return r;
  std::vector<Dep> deps;
  for (auto& s : c->streams)
    if (s->completed < s->submitted) deps.push_back(Dep{s, s->submitted});
  Stream* marker = c->internal.get();
  if (CUresult r = submit(marker, {}, std::move(deps))) return r;
  e->capture = nullptr;
  e->stream = c->internal;
  e->seq = marker->submitted;
  return CUDA_SUCCESS;
}

// FAKECUDA_NO_CTX_RECORD_EVENT=1 models a driver older than 12.5: the symbol resolves to
// nothing, so dlsym does not find it either.
extern "C" {
typedef CUresult (*CtxRecordEventFn)(CUcontext, CUevent);
static CtxRecordEventFn resolve_ctx_record_event() {
  const char* v = getenv("FAKECUDA_NO_CTX_RECORD_EVENT");
  return v && *v && *v != '0' ? nullptr : fc_ctx_record_event;
}
}
FC_EXPORT CUresult cuCtxRecordEvent(CUcontext, CUevent)
    __attribute__((ifunc("resolve_ctx_record_event")));

FC_EXPORT CUresult cuCtxWaitEvent(CUcontext ctx, CUevent ev) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  Context* c = ctx ? reinterpret_cast<Context*>(ctx) : current_ctx();
  if (!valid_ctx(c)) return CUDA_ERROR_INVALID_CONTEXT;
  Event* e = find_event(ev);
  if (!e) return CUDA_ERROR_INVALID_HANDLE;
  if (e->capture || event_done(e)) return CUDA_SUCCESS;
  for (auto& s : std::vector<std::shared_ptr<Stream>>(c->streams))
    if (s->kind != StreamKind::Internal && !s->capture)
      if (CUresult r = submit(s.get(), {}, {Dep{e->stream, e->seq}})) return r;
  return CUDA_SUCCESS;
}
