// cudaMalloc and cudaFree inside a stream capture (global mode unless told) on one thread while another
// thread allocates and frees, then graph instantiation and launch. On a real GPU (and on the
// fake driver without a caching allocator in front) an allocation during a global-mode
// capture fails with cudaErrorStreamCaptureUnsupported and invalidates the capture.
// Prints each step's status and the data the graph computed.
//   capture [global|threadlocal|relaxed]   the capture's mode, default global
#include <pthread.h>
#include <string.h>

#include <vector>

#include "common.cuh"

namespace {

const size_t kElems = 4096;
const int kOtherRounds = 16;

pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;
int g_phase = 0;  // 1: capture begun; 2: other thread done
int g_other_failures = 0;
cudaError_t g_other_first_error = cudaSuccess;

void wait_phase(int phase) {
  pthread_mutex_lock(&g_lock);
  while (g_phase < phase) pthread_cond_wait(&g_cond, &g_lock);
  pthread_mutex_unlock(&g_lock);
}

void set_phase(int phase) {
  pthread_mutex_lock(&g_lock);
  g_phase = phase;
  pthread_cond_broadcast(&g_cond);
  pthread_mutex_unlock(&g_lock);
}

// The other thread: allocates and frees while the capture is open.
void* other(void*) {
  wait_phase(1);
  for (int i = 0; i < kOtherRounds; ++i) {
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, 4096 + 512 * i);
    if (e == cudaSuccess) e = cudaFree(p);
    if (e != cudaSuccess) {
      if (g_other_failures++ == 0) g_other_first_error = e;
      (void)cudaGetLastError();
    }
  }
  set_phase(2);
  return nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  const char* mode_name = argc > 1 ? argv[1] : "global";
  cudaStreamCaptureMode mode = !strcmp(mode_name, "relaxed")       ? cudaStreamCaptureModeRelaxed
                               : !strcmp(mode_name, "threadlocal") ? cudaStreamCaptureModeThreadLocal
                                                                   : cudaStreamCaptureModeGlobal;
  unsigned* data = nullptr;
  CHECK(cudaMalloc((void**)&data, kElems * sizeof(unsigned)));
  CHECK(cudaMemset(data, 0, kElems * sizeof(unsigned)));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));

  pthread_t t;
  pthread_create(&t, nullptr, other, nullptr);

  printf("begin_capture=%s\n", cudaGetErrorName(cudaStreamBeginCapture(s, mode)));
  fill_u32<<<blocks_for(kElems), 256, 0, s>>>(data, 7, kElems);
  printf("launch1=%s\n", cudaGetErrorName(cudaGetLastError()));
  set_phase(1);
  wait_phase(2);

  void* scratch = nullptr;
  cudaError_t e = cudaMalloc(&scratch, 8192);
  printf("capture_malloc=%s\n", cudaGetErrorName(e));
  if (e == cudaSuccess) printf("capture_free=%s\n", cudaGetErrorName(cudaFree(scratch)));
  (void)cudaGetLastError();
  add_u32<<<blocks_for(kElems), 256, 0, s>>>(data, 5, kElems);
  printf("launch2=%s\n", cudaGetErrorName(cudaGetLastError()));

  cudaGraph_t graph = nullptr;
  e = cudaStreamEndCapture(s, &graph);
  printf("end_capture=%s\n", cudaGetErrorName(e));
  printf("other_failures=%d other_error=%s\n", g_other_failures,
         cudaGetErrorName(g_other_first_error));
  pthread_join(t, nullptr);

  if (e == cudaSuccess && graph) {
    printf("capture_status=captured\n");
    cudaGraphExec_t exec;
    CHECK(cudaGraphInstantiate(&exec, graph, 0));
    CHECK(cudaGraphLaunch(exec, s));
    CHECK(cudaStreamSynchronize(s));
    std::vector<unsigned> host(kElems);
    CHECK(cudaMemcpy(host.data(), data, kElems * sizeof(unsigned), cudaMemcpyDeviceToHost));
    size_t wrong = 0;
    for (unsigned v : host) wrong += v != 12;
    printf("data=%s wrong=%zu\n", wrong ? "bad" : "ok", wrong);
    CHECK(cudaGraphExecDestroy(exec));
    CHECK(cudaGraphDestroy(graph));
  } else {
    printf("capture_status=invalidated\n");
  }
  (void)cudaGetLastError();
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFree(data));
  return 0;
}
