// Streams, events, stream capture and graphs: forwards to the driver. The stream handles
// cudaStreamLegacy (0x1) and cudaStreamPerThread (0x2) are the driver's own.
#include "state.h"

using namespace fakecudart;

namespace {

cudaError_t stream_sync(bool pt, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamSynchronize, s);
}
cudaError_t stream_query(bool pt, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamQuery, s);
}
cudaError_t stream_wait_event(bool pt, cudaStream_t s, cudaEvent_t e, unsigned flags) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamWaitEvent, s, e, flags);
}
cudaError_t begin_capture(bool pt, cudaStream_t s, int mode) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamBeginCapture, s, mode);
}
cudaError_t end_capture(bool pt, cudaStream_t s, cudaGraph_t* g) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamEndCapture, s, g);
}
cudaError_t is_capturing(bool pt, cudaStream_t s, int* status) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuStreamIsCapturing, s, status);
}
cudaError_t event_record(bool pt, cudaEvent_t e, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuEventRecord, e, s);
}
cudaError_t graph_launch(bool pt, cudaGraphExec_t g, cudaStream_t s) {
  FAKECUDART_ENTER(pt);
  return FAKECUDART_CALL(d, cuGraphLaunch, g, s);
}

}  // namespace

// --- Streams ---------------------------------------------------------------------------
FAKECUDART_API cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuStreamCreate, s, flags);
}
FAKECUDART_API cudaError_t cudaStreamCreate(cudaStream_t* s) {
  return cudaStreamCreateWithFlags(s, 0);
}
FAKECUDART_API cudaError_t cudaStreamCreateWithPriority(cudaStream_t* s, unsigned flags,
                                                        int priority) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuStreamCreateWithPriority, s, flags, priority);
}
FAKECUDART_API cudaError_t cudaStreamDestroy(cudaStream_t s) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuStreamDestroy, s);
}
FAKECUDART_API cudaError_t cudaStreamSynchronize(cudaStream_t s) { return stream_sync(false, s); }
FAKECUDART_API cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t s) {
  return stream_sync(true, s);
}
FAKECUDART_API cudaError_t cudaStreamQuery(cudaStream_t s) { return stream_query(false, s); }
FAKECUDART_API cudaError_t cudaStreamQuery_ptsz(cudaStream_t s) { return stream_query(true, s); }
FAKECUDART_API cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned flags) {
  return stream_wait_event(false, s, e, flags);
}
FAKECUDART_API cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t s, cudaEvent_t e,
                                                    unsigned flags) {
  return stream_wait_event(true, s, e, flags);
}

// --- Stream capture --------------------------------------------------------------------
FAKECUDART_API cudaError_t cudaStreamBeginCapture(cudaStream_t s, int mode) {
  return begin_capture(false, s, mode);
}
FAKECUDART_API cudaError_t cudaStreamBeginCapture_ptsz(cudaStream_t s, int mode) {
  return begin_capture(true, s, mode);
}
FAKECUDART_API cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
  return end_capture(false, s, g);
}
FAKECUDART_API cudaError_t cudaStreamEndCapture_ptsz(cudaStream_t s, cudaGraph_t* g) {
  return end_capture(true, s, g);
}
FAKECUDART_API cudaError_t cudaStreamIsCapturing(cudaStream_t s, int* status) {
  return is_capturing(false, s, status);
}
FAKECUDART_API cudaError_t cudaStreamIsCapturing_ptsz(cudaStream_t s, int* status) {
  return is_capturing(true, s, status);
}
FAKECUDART_API cudaError_t cudaThreadExchangeStreamCaptureMode(int* mode) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuThreadExchangeStreamCaptureMode, mode);
}

// --- Events ----------------------------------------------------------------------------
FAKECUDART_API cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuEventCreate, e, flags);
}
FAKECUDART_API cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, 0); }
FAKECUDART_API cudaError_t cudaEventDestroy(cudaEvent_t e) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuEventDestroy, e);
}
FAKECUDART_API cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  return event_record(false, e, s);
}
FAKECUDART_API cudaError_t cudaEventRecord_ptsz(cudaEvent_t e, cudaStream_t s) {
  return event_record(true, e, s);
}
FAKECUDART_API cudaError_t cudaEventQuery(cudaEvent_t e) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuEventQuery, e);
}
FAKECUDART_API cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuEventSynchronize, e);
}
FAKECUDART_API cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuEventElapsedTime, ms, start, end);
}

// --- Graphs ----------------------------------------------------------------------------
FAKECUDART_API cudaError_t cudaGraphInstantiateWithFlags(cudaGraphExec_t* exec, cudaGraph_t g,
                                                         unsigned long long flags) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuGraphInstantiateWithFlags, exec, g, flags);
}
FAKECUDART_API cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g,
                                                unsigned long long flags) {
  return cudaGraphInstantiateWithFlags(exec, g, flags);
}
FAKECUDART_API cudaError_t cudaGraphLaunch(cudaGraphExec_t g, cudaStream_t s) {
  return graph_launch(false, g, s);
}
FAKECUDART_API cudaError_t cudaGraphLaunch_ptsz(cudaGraphExec_t g, cudaStream_t s) {
  return graph_launch(true, g, s);
}
FAKECUDART_API cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuGraphDestroy, g);
}
FAKECUDART_API cudaError_t cudaGraphExecDestroy(cudaGraphExec_t g) {
  FAKECUDART_ENTER(false);
  return FAKECUDART_CALL(d, cuGraphExecDestroy, g);
}
