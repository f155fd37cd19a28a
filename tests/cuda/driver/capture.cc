// Stream capture and graphs. Work submitted to a capturing stream becomes a graph node
// instead of running; a potentially unsafe call (a sync, a query, a real allocation or free)
// made during a capture is refused and invalidates the captures it conflicts with, following
// the capture interaction modes (global, thread-local, relaxed).
#include "driver.h"

namespace fakecuda {

void invalidate(Capture* c) {
  if (c->invalidated) return;
  c->invalidated = true;
  ++drv().counters.captures_invalidated;
}

CUresult capture_guard() {
  Driver& d = drv();
  int mode = thread_capture_mode();
  if (d.captures.empty() || mode == CAPTURE_RELAXED) return CUDA_SUCCESS;
  pid_t me = thread_id();
  bool refused = false;
  for (Capture* c : d.captures) {
    bool own = c->owner == me && c->mode != CAPTURE_RELAXED;
    bool other = mode == CAPTURE_GLOBAL && c->owner != me && c->mode == CAPTURE_GLOBAL;
    if (own || other) {
      invalidate(c);
      refused = true;
    }
  }
  if (!refused) return CUDA_SUCCESS;
  ++d.counters.unsafe_calls_refused;
  return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
}

}  // namespace fakecuda

using namespace fakecuda;

static CUresult begin_capture(CUstream h, int mode, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (mode < CAPTURE_GLOBAL || mode > CAPTURE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  if (s->kind == StreamKind::Legacy) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  if (s->capture) return CUDA_ERROR_ILLEGAL_STATE;
  auto* c = new Capture();
  c->mode = mode;
  c->owner = thread_id();
  c->origin = s;
  c->streams.push_back(shared(s));
  c->graph = std::make_unique<Graph>();
  s->capture = c;
  drv().captures.push_back(c);
  ++drv().counters.captures_begun;
  return CUDA_SUCCESS;
}

FC_EXPORT CUresult cuStreamBeginCapture(CUstream h) { return begin_capture(h, CAPTURE_GLOBAL, false); }
FC_EXPORT CUresult cuStreamBeginCapture_ptsz(CUstream h) {
  return begin_capture(h, CAPTURE_GLOBAL, true);
}
FC_EXPORT CUresult cuStreamBeginCapture_v2(CUstream h, int mode) {
  return begin_capture(h, mode, false);
}
FC_EXPORT CUresult cuStreamBeginCapture_v2_ptsz(CUstream h, int mode) {
  return begin_capture(h, mode, true);
}

static CUresult end_capture(CUstream h, CUgraph* out, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!out) return CUDA_ERROR_INVALID_VALUE;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  Capture* c = s->capture;
  if (!c) return CUDA_ERROR_ILLEGAL_STATE;
  if (c->origin != s) return CUDA_ERROR_STREAM_CAPTURE_UNMATCHED;
  if (c->mode != CAPTURE_RELAXED && c->owner != thread_id())
    return CUDA_ERROR_STREAM_CAPTURE_WRONG_THREAD;
  Driver& d = drv();
  for (auto& st : c->streams) st->capture = nullptr;
  for (auto& [p, e] : d.events)
    if (e->capture == c) e->capture = nullptr;
  for (auto it = d.captures.begin(); it != d.captures.end(); ++it)
    if (*it == c) {
      d.captures.erase(it);
      break;
    }
  std::unique_ptr<Capture> owned(c);
  *out = nullptr;
  if (c->invalidated) return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
  Graph* g = c->graph.get();
  d.graphs[g] = std::move(c->graph);
  *out = reinterpret_cast<CUgraph>(g);
  ++d.counters.captures_ended;
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamEndCapture(CUstream h, CUgraph* g) { return end_capture(h, g, false); }
FC_EXPORT CUresult cuStreamEndCapture_ptsz(CUstream h, CUgraph* g) {
  return end_capture(h, g, true);
}

static CUresult is_capturing(CUstream h, int* status, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  if (!status) return CUDA_ERROR_INVALID_VALUE;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  *status = !s->capture ? 0 : s->capture->invalidated ? 2 : 1;
  return CUDA_SUCCESS;
}
FC_EXPORT CUresult cuStreamIsCapturing(CUstream h, int* st) { return is_capturing(h, st, false); }
FC_EXPORT CUresult cuStreamIsCapturing_ptsz(CUstream h, int* st) {
  return is_capturing(h, st, true);
}

FC_EXPORT CUresult cuThreadExchangeStreamCaptureMode(int* mode) {
  if (!mode || *mode < CAPTURE_GLOBAL || *mode > CAPTURE_RELAXED) return CUDA_ERROR_INVALID_VALUE;
  int old = thread_capture_mode();
  thread_capture_mode() = *mode;
  *mode = old;
  return CUDA_SUCCESS;
}

// ---- graphs
FC_EXPORT CUresult cuGraphInstantiateWithFlags(CUgraphExec* out, CUgraph graph,
                                               unsigned long long) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  auto it = drv().graphs.find(reinterpret_cast<Graph*>(graph));
  if (!out || it == drv().graphs.end()) return CUDA_ERROR_INVALID_VALUE;
  auto exec = std::make_unique<Graph>(*it->second);
  *out = reinterpret_cast<CUgraphExec>(exec.get());
  drv().execs[exec.get()] = std::move(exec);
  return CUDA_SUCCESS;
}

static CUresult graph_launch(CUgraphExec exec, CUstream h, bool per_thread) {
  auto lk = lock();
  if (CUresult r = check_init()) return r;
  auto it = drv().execs.find(reinterpret_cast<Graph*>(exec));
  if (it == drv().execs.end()) return CUDA_ERROR_INVALID_VALUE;
  Stream* s;
  if (CUresult r = resolve_stream(h, per_thread, &s)) return r;
  ++drv().counters.graph_launches;
  auto ops = it->second->ops;  // the launch keeps its own copy: the exec may be destroyed
  return submit(s, [ops] {
    for (auto& op : ops) op();
  });
}
FC_EXPORT CUresult cuGraphLaunch(CUgraphExec g, CUstream h) { return graph_launch(g, h, false); }
FC_EXPORT CUresult cuGraphLaunch_ptsz(CUgraphExec g, CUstream h) {
  return graph_launch(g, h, true);
}

FC_EXPORT CUresult cuGraphDestroy(CUgraph g) {
  auto lk = lock();
  return drv().graphs.erase(reinterpret_cast<Graph*>(g)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

FC_EXPORT CUresult cuGraphExecDestroy(CUgraphExec g) {
  auto lk = lock();
  return drv().execs.erase(reinterpret_cast<Graph*>(g)) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}
