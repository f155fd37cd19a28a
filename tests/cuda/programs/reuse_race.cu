// Reuse of a freed device block across streams. For a pair of stream kinds, owner 1 launches a
// kernel writing pattern A into block X on stream <prev> and frees X with cudaFree (no sync of
// its own); owner 2 allocates the same size until it gets X's address (reused=1), writes pattern
// B with a kernel on stream <next>, synchronises that stream and then the device, and counts
// the elements that are not B (corrupted=N: A's kernel ran after B's on the reused block). Kinds: legacy, blocking,
// nonblocking, ptds (per-thread default stream), destroyed (a stream destroyed right after
// the launch, work pending), unseen (fakecuda_stream_create_unseen; a blocking stream on a
// real driver).
//   reuse_race <prev> <next>
#include <string.h>

#include <vector>

#include "common.cuh"

namespace {

const unsigned kPatternA = 0xAAAAAAAAu;
const unsigned kPatternB = 0xBBBBBBBBu;

struct Stream {
  cudaStream_t s = nullptr;
  bool destroy_after_launch = false;
  bool owned = false;
};

Stream make_stream(const char* kind) {
  Stream st;
  if (!strcmp(kind, "legacy")) {
    st.s = cudaStreamLegacy;
  } else if (!strcmp(kind, "ptds")) {
    st.s = cudaStreamPerThread;
  } else if (!strcmp(kind, "blocking")) {
    CHECK(cudaStreamCreate(&st.s));
    st.owned = true;
  } else if (!strcmp(kind, "nonblocking")) {
    CHECK(cudaStreamCreateWithFlags(&st.s, cudaStreamNonBlocking));
    st.owned = true;
  } else if (!strcmp(kind, "destroyed")) {
    CHECK(cudaStreamCreate(&st.s));
    st.destroy_after_launch = true;
  } else if (!strcmp(kind, "unseen")) {
    CHECK(cudaFree(nullptr));  // the stream is made in the current context: make it current
    typedef int (*CreateFn)(CUstream*, unsigned);
    CreateFn create = (CreateFn)dlsym(RTLD_DEFAULT, "fakecuda_stream_create_unseen");
    if (create) {
      if (create(&st.s, 0) != 0) {
        fprintf(stderr, "fakecuda_stream_create_unseen failed\n");
        exit(2);
      }
    } else {
      CHECK(cudaStreamCreate(&st.s));
    }
    st.owned = true;
  } else {
    fprintf(stderr, "unknown stream kind %s\n", kind);
    exit(2);
  }
  return st;
}

void launched(Stream& st) {
  if (st.destroy_after_launch) CHECK(cudaStreamDestroy(st.s));
}

void release(Stream& st) {
  if (st.owned) CHECK(cudaStreamDestroy(st.s));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: reuse_race <prev> <next>\n");
    return 2;
  }
  // Small blocks and large ones (an allocator's small and large pools).
  const size_t sizes[] = {1024, 64 * 1024, 1024 * 1024, 24u * 1024 * 1024};
  for (size_t size : sizes) {
    size_t n = size / sizeof(unsigned);
    Stream prev = make_stream(argv[1]);
    Stream next = make_stream(argv[2]);

    // Owner 1.
    unsigned* x = nullptr;
    CHECK(cudaMalloc((void**)&x, size));
    fill_u32<<<blocks_for(n), 256, 0, prev.s>>>(x, kPatternA, n);
    CHECK(cudaGetLastError());
    launched(prev);
    CHECK(cudaFree(x));

    // Owner 2 allocates blocks of the same size until it gets X's address back (a cache
    // may first hand out the rest of its segment), at most 4096 of them or 256 MiB.
    unsigned* y = nullptr;
    std::vector<unsigned*> fillers;
    for (size_t k = 0; k < 4096 && k * size < (256u << 20); ++k) {
      CHECK(cudaMalloc((void**)&y, size));
      if (y == x) break;
      fillers.push_back(y);
    }
    fill_u32<<<blocks_for(n), 256, 0, next.s>>>(y, kPatternB, n);
    CHECK(cudaGetLastError());
    // Owner 2 waits for its own stream first, then for the device: a kernel of owner 1 that
    // was not ordered before owner 2's runs last and leaves pattern A.
    if (!next.destroy_after_launch) CHECK(cudaStreamSynchronize(next.s));
    launched(next);
    CHECK(cudaDeviceSynchronize());
    std::vector<unsigned> host(n);
    CHECK(cudaMemcpy(host.data(), y, size, cudaMemcpyDeviceToHost));
    size_t corrupted = 0;
    for (unsigned v : host) corrupted += v != kPatternB;
    printf("%s->%s size=%zu reused=%d corrupted=%zu\n", argv[1], argv[2], size, y == x ? 1 : 0,
           corrupted);
    CHECK(cudaFree(y));
    for (unsigned* f : fillers)
      if (f != y) CHECK(cudaFree(f));
    release(prev);
    release(next);
  }
  return 0;
}
