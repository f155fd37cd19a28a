// Device-memory workloads on the CUDA driver API, reached as a static-cudart program reaches
// it: dlopen("libcuda.so.1"), dlsym(handle, "cuGetProcAddress_v2"), then every entry point
// through cuGetProcAddress_v2. No CUDA toolkit needed. bench/cuda.py runs it on the fake
// driver (tests/cuda/driver) with and without the shim.
//
//   bench-cuda MODE [--smoke] [--rounds R] [--pairs N] [--size B] [--threads T] [--steps S]
//
// MODE: fixed (one size in a loop), mixed (512 B - 64 MiB log-uniform, a window of live
// blocks), threads (T threads each looping on one size), trace (a training-like trace),
// hostpair (malloc+free of one size, to compare with the device pair). One warm-up round,
// then R timed rounds. Prints one line of key=value pairs: ns per alloc+free pair (median of
// the rounds), the driver's call counters (fakecuda_counters, when the driver has them:
// driver_mem_calls counts cuMemAlloc and cuMemFree, driver_calls adds fence records, event
// queries and synchronisations),
// peak allocated (requested bytes live, counted here), peak reserved (the driver's peak bytes
// in use on device 0) and the shim's counters (mpshim_cuda_get_stats, when preloaded).
// Exits 1 when a driver call fails or live blocks overlap.
#include <dlfcn.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "common.h"
#include "fakecuda.h"
#include "mpshim.h"

namespace {

using DevPtr = unsigned long long;
using GetProc = int (*)(const char*, void**, int, uint64_t, int*);

struct Driver {
  int (*init)(unsigned);
  int (*retain)(void**, int);
  int (*set_current)(void*);
  int (*mem_alloc)(DevPtr*, size_t);
  int (*mem_free)(DevPtr);
};
Driver drv;
void* g_ctx;

void* entry(GetProc get, const char* name) {
  void* p = nullptr;
  int status = 0;
  if (get(name, &p, 12000, 0, &status) != 0 || p == nullptr) bench::fail(name);
  return p;
}

void load_driver() {
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_GLOBAL);
  if (lib == nullptr) {
    std::fprintf(stderr, "bench-cuda: %s\n", dlerror());
    std::exit(1);
  }
  auto get = reinterpret_cast<GetProc>(dlsym(lib, "cuGetProcAddress_v2"));
  if (get == nullptr) bench::fail("no cuGetProcAddress_v2");
  drv.init = reinterpret_cast<int (*)(unsigned)>(entry(get, "cuInit"));
  drv.retain = reinterpret_cast<int (*)(void**, int)>(entry(get, "cuDevicePrimaryCtxRetain"));
  drv.set_current = reinterpret_cast<int (*)(void*)>(entry(get, "cuCtxSetCurrent"));
  drv.mem_alloc = reinterpret_cast<int (*)(DevPtr*, size_t)>(entry(get, "cuMemAlloc"));
  drv.mem_free = reinterpret_cast<int (*)(DevPtr)>(entry(get, "cuMemFree"));
  if (drv.init(0) != 0) bench::fail("cuInit");
  if (drv.retain(&g_ctx, 0) != 0) bench::fail("cuDevicePrimaryCtxRetain");
  if (drv.set_current(g_ctx) != 0) bench::fail("cuCtxSetCurrent");
}

// Requested bytes live and their peak (the program's own view of its memory).
std::atomic<uint64_t> g_live{0}, g_peak{0};

void account(int64_t delta) {
  uint64_t now = g_live.fetch_add(uint64_t(delta)) + uint64_t(delta);
  uint64_t peak = g_peak.load(std::memory_order_relaxed);
  while (now > peak && !g_peak.compare_exchange_weak(peak, now)) {
  }
}

// Every workload allocates and frees through these two, so that the stacks the shim records
// have the same depth for device and host pairs.
__attribute__((noinline)) DevPtr dev_alloc(size_t size) {
  DevPtr p = 0;
  int r = drv.mem_alloc(&p, size);
  if (r != 0 || p == 0) {
    std::fprintf(stderr, "bench-cuda: cuMemAlloc(%zu) failed: %d\n", size, r);
    std::exit(1);
  }
  return p;
}

__attribute__((noinline)) void dev_free(DevPtr p) {
  if (int r = drv.mem_free(p); r != 0) bench::fail("cuMemFree failed", unsigned(r));
}

__attribute__((noinline)) void* host_alloc(size_t size) {
  void* p = std::malloc(size);
  if (p == nullptr) bench::fail("malloc failed", size);
  bench::escape(p);
  return p;
}

__attribute__((noinline)) void host_free(void* p) { std::free(p); }

// Tracked blocks: accounting plus the ranges a trace checks for overlap.
struct Live {
  DevPtr p = 0;
  size_t size = 0;
};

Live take(size_t size) {
  account(int64_t(size));
  return Live{dev_alloc(size), size};
}

void give(Live& b) {
  if (b.p == 0) return;
  dev_free(b.p);
  account(-int64_t(b.size));
  b = Live{};
}

double now_ns() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return double(t.tv_sec) * 1e9 + double(t.tv_nsec);
}

struct Options {
  std::string mode;
  bool smoke = false;
  long rounds = 5, pairs = 0, size = 4096, threads = 8, steps = 0;
};

// ---- workloads: each runs one round and returns the alloc+free pairs it made.

uint64_t fixed_round(const Options& o) {
  for (long i = 0; i < o.pairs; ++i) {
    Live b = take(size_t(o.size));
    give(b);
  }
  return uint64_t(o.pairs);
}

uint64_t host_round(const Options& o) {
  for (long i = 0; i < o.pairs; ++i) host_free(host_alloc(size_t(o.size)));
  return uint64_t(o.pairs);
}

uint64_t threads_round(const Options& o) {
  std::vector<std::thread> ts;
  std::atomic<int> ready{0};
  for (long t = 0; t < o.threads; ++t) {
    ts.emplace_back([&] {
      if (drv.set_current(g_ctx) != 0) bench::fail("cuCtxSetCurrent in a thread");
      ready.fetch_add(1);
      while (ready.load() < o.threads) std::this_thread::yield();
      fixed_round(o);
    });
  }
  for (auto& t : ts) t.join();
  return uint64_t(o.pairs * o.threads);
}

// A window of 16 live blocks of 512 B - 64 MiB (8 MiB with --smoke), log-uniform; each pair
// frees a random slot and fills it again. The window and the generator persist across rounds.
constexpr size_t kMixedWindow = 16;
Live g_window[kMixedWindow];
bench::Rng g_mixed_rng(7);
size_t g_mixed_max = size_t(64) << 20;

uint64_t mixed_round(const Options& o) {
  for (long i = 0; i < o.pairs; ++i) {
    Live& s = g_window[g_mixed_rng.below(kMixedWindow)];
    give(s);
    s = take(g_mixed_rng.log_uniform(512, g_mixed_max));
  }
  return uint64_t(o.pairs);
}

// A training-like trace. Per step a sequence length S (64..1024 in steps of 64); T = 2 * S
// tokens, hidden size 512 (128 with --smoke). Forward, per layer: activations kept until backward (qkv, the
// attention output, the MLP input and its activation, layer-norm statistics) and workspaces
// freed at once (attention scores for the step's S, a GEMM workspace). Backward, in reverse:
// gradients of the MLP and attention (workspaces again), the layer's activations freed, and
// the gradient flowing to the layer below replaces the one from above. Weights and their
// gradients stay live from start to end.
constexpr int kLayers = 12;
constexpr size_t kBatch = 4, kHeads = 8, kHalf = 2;
size_t g_hidden = 512;
bench::Rng g_trace_rng(11);
std::vector<Live> g_weights;
std::vector<Live> g_live_blocks;  // every live block of the current step, for the overlap check

void check_overlap(std::vector<Live> blocks) {
  for (const Live& w : g_weights) blocks.push_back(w);
  std::sort(blocks.begin(), blocks.end(), [](const Live& a, const Live& b) { return a.p < b.p; });
  for (size_t i = 1; i < blocks.size(); ++i)
    if (blocks[i - 1].p + blocks[i - 1].size > blocks[i].p) bench::fail("live blocks overlap", i);
}

uint64_t trace_step() {
  uint64_t pairs = 0;
  size_t seq = 64 * (1 + g_trace_rng.below(16));
  size_t tokens = kBatch * seq, act = tokens * g_hidden * kHalf;
  struct Layer {
    Live qkv, attn, mlp_in, mlp_act, stats;
  } layers[kLayers];
  auto workspace = [&](size_t bytes) {
    Live w = take(bytes);
    give(w);
    ++pairs;
  };
  size_t scores = kBatch * kHeads * seq * seq * kHalf;
  for (Layer& l : layers) {
    l.qkv = take(3 * act);
    workspace(scores);
    l.attn = take(act);
    workspace(size_t(4) << 20);
    l.mlp_in = take(4 * act);
    l.mlp_act = take(4 * act);
    l.stats = take(tokens * 8);
  }
  Live loss = take(tokens * 4);
  {
    std::vector<Live> all{loss};
    for (Layer& l : layers) all.insert(all.end(), {l.qkv, l.attn, l.mlp_in, l.mlp_act, l.stats});
    check_overlap(all);
  }
  Live grad = take(act);
  give(loss);
  pairs += 1;
  for (int i = kLayers - 1; i >= 0; --i) {
    Layer& l = layers[i];
    Live d_mlp = take(4 * act);
    workspace(size_t(4) << 20);
    give(l.mlp_act);
    give(l.mlp_in);
    Live d_attn = take(act);
    workspace(scores);
    give(d_mlp);
    Live d_in = take(act);
    give(d_attn);
    give(l.attn);
    give(l.qkv);
    give(l.stats);
    give(grad);
    grad = d_in;
    pairs += 8;
  }
  give(grad);
  return pairs + 1;
}

uint64_t trace_round(const Options& o) {
  if (g_weights.empty()) {
    for (int i = 0; i < kLayers; ++i) {
      for (size_t n : {3 * g_hidden * g_hidden, g_hidden * g_hidden, 8 * g_hidden * g_hidden}) {
        g_weights.push_back(take(n * kHalf));  // the weight
        g_weights.push_back(take(n * kHalf));  // its gradient
      }
    }
  }
  uint64_t pairs = 0;
  for (long s = 0; s < o.steps; ++s) pairs += trace_step();
  return pairs;
}

// ---- results

struct Counters {
  fakecuda_counters_t c{};
  bool ok = false;
};

Counters driver_counters() {
  Counters r;
  auto fn = reinterpret_cast<void (*)(fakecuda_counters_t*)>(dlsym(RTLD_DEFAULT, "fakecuda_counters"));
  if (fn != nullptr) {
    fn(&r.c);
    r.ok = true;
  }
  return r;
}

void print_results(const Options& o, const std::vector<double>& ns, uint64_t pairs) {
  std::vector<double> sorted = ns;
  std::sort(sorted.begin(), sorted.end());
  std::printf("cuda mode=%s rounds=%zu pairs=%llu ns_pair=%.1f ns_pair_min=%.1f", o.mode.c_str(),
              ns.size(), (unsigned long long)pairs, sorted[sorted.size() / 2], sorted[0]);
  std::printf(" peak_allocated=%llu", (unsigned long long)g_peak.load());
  if (Counters k = driver_counters(); k.ok) {
    const fakecuda_counters_t& c = k.c;
    unsigned long long syncs = c.ctx_synchronize + c.event_synchronize + c.stream_synchronize;
    std::printf(" driver_allocs=%llu driver_frees=%llu driver_fences=%llu driver_queries=%llu"
                " driver_syncs=%llu driver_mem_calls=%llu driver_calls=%llu peak_reserved=%llu",
                (unsigned long long)c.mem_alloc, (unsigned long long)c.mem_free,
                (unsigned long long)c.ctx_record_events, (unsigned long long)c.event_queries, syncs,
                (unsigned long long)(c.mem_alloc + c.mem_free),
                (unsigned long long)(c.mem_alloc + c.mem_free + c.ctx_record_events +
                                     c.event_queries + syncs),
                (unsigned long long)c.peak_bytes_in_use[0]);
  }
  using GetStats = int (*)(mpshim_cuda_stats*, size_t, size_t);
  auto get = reinterpret_cast<GetStats>(dlsym(RTLD_DEFAULT, "mpshim_cuda_get_stats"));
  mpshim_cuda_stats s[1];
  if (get != nullptr && get(s, 1, sizeof s[0]) >= 1)
    std::printf(" shim_peak_allocated=%llu shim_peak_reserved=%llu shim_hits=%llu shim_misses=%llu",
                (unsigned long long)s[0].peak_allocated, (unsigned long long)s[0].peak_reserved,
                (unsigned long long)s[0].hits, (unsigned long long)s[0].misses);
  std::printf("\n");
}

[[noreturn]] void usage() {
  std::fprintf(stderr,
               "usage: bench-cuda fixed|mixed|threads|trace|hostpair [--smoke] [--rounds R] "
               "[--pairs N] [--size B] [--threads T] [--steps S]\n");
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  if (argc < 2) usage();
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      o.smoke = true;
      continue;
    }
    if (i + 1 >= argc) usage();
    long* field = nullptr;
    if (std::strcmp(argv[i], "--rounds") == 0) field = &o.rounds;
    if (std::strcmp(argv[i], "--pairs") == 0) field = &o.pairs;
    if (std::strcmp(argv[i], "--size") == 0) field = &o.size;
    if (std::strcmp(argv[i], "--threads") == 0) field = &o.threads;
    if (std::strcmp(argv[i], "--steps") == 0) field = &o.steps;
    char* end = nullptr;
    if (field == nullptr || (*field = std::strtol(argv[++i], &end, 10)) <= 0 || *end != '\0')
      usage();
  }
  // Defaults: a round takes about 0.1-1 s without the shim on a 20 us driver.
  long pairs = o.mode == "mixed" ? 2000 : o.mode == "hostpair" ? 1000000 : 10000;
  if (o.mode == "threads") pairs = 2000;
  if (o.smoke) pairs = o.mode == "hostpair" ? 10000 : 200;
  if (o.pairs == 0) o.pairs = pairs;
  if (o.steps == 0) o.steps = o.smoke ? 1 : 4;
  if (o.smoke) o.rounds = std::min(o.rounds, 2L);
  if (o.smoke) g_hidden = 128;
  if (o.smoke) g_mixed_max = size_t(8) << 20;
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  uint64_t (*round)(const Options&) = nullptr;
  if (o.mode == "fixed") round = fixed_round;
  if (o.mode == "mixed") round = mixed_round;
  if (o.mode == "threads") round = threads_round;
  if (o.mode == "trace") round = trace_round;
  if (o.mode == "hostpair") round = host_round;
  if (round == nullptr) usage();
  if (o.mode != "hostpair") load_driver();
  uint64_t pairs = round(o);  // warm-up: not timed
  std::vector<double> ns;
  for (long r = 0; r < o.rounds; ++r) {
    double t0 = now_ns();
    uint64_t n = round(o);
    ns.push_back((now_ns() - t0) / double(n));
    pairs += n;
  }
  for (Live& s : g_window) give(s);
  for (Live& w : g_weights) give(w);
  if (g_live.load() != 0) bench::fail("bytes still live", g_live.load());
  print_results(o, ns, pairs);
  return 0;
}
