// Tracking workload: 4 threads each make SCALE million allocations (16-512 B, a live window of
// 4,096 blocks, from 4 allocation functions at call depths 6-12) and leak a known set of
// blocks at 3 sites: 100 x 48 B malloc, 10 x 1000 B calloc, and a 10-node list (64 B nodes,
// operator new) whose head is a direct leak and the other 9 indirect.
// `leaky --expect` prints the expected totals instead of running:
//   expect: direct_bytes=D direct_blocks=N indirect_bytes=I indirect_blocks=M
// `leaky --work=R` also processes each new block as a program would: R passes reading
// and mixing all of its words, so allocation is a smaller part of the work.
#include "common.h"

#include <new>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;

struct Node {
  Node* next;
  char payload[56];
};
static_assert(sizeof(Node) == 64);

constexpr long kDirectBlocks = kThreads * (100 + 10 + 1);
constexpr long kDirectBytes = kThreads * (100 * 48 + 10 * 1000 + 64);
constexpr long kIndirectBlocks = kThreads * 9;
constexpr long kIndirectBytes = kThreads * 9 * 64;

__attribute__((noinline)) void leak_small() {
  for (int i = 0; i < 100; ++i) bench::escape(std::malloc(48));
}

__attribute__((noinline)) void leak_zeroed() {
  for (int i = 0; i < 10; ++i) bench::escape(std::calloc(1, 1000));
}

__attribute__((noinline)) void leak_list() {
  Node* head = nullptr;
  for (int i = 0; i < 10; ++i) head = new Node{head, {}};
  bench::escape(head);
}

struct Slot {
  void* p = nullptr;
  size_t size = 0;
  bool from_new = false;  // freed with operator delete, so memcheck sees matched pairs
};

// Four distinct allocation functions, so the program has several distinct stacks.
__attribute__((noinline)) void* alloc_a(size_t n) { return std::malloc(n); }
__attribute__((noinline)) void* alloc_b(size_t n) { return std::calloc(1, n); }
__attribute__((noinline)) void* alloc_c(size_t n) { return ::operator new(n); }
__attribute__((noinline)) void* alloc_d(size_t n) { return std::realloc(nullptr, n); }

void release(Slot& s) {
  if (!s.p) return;
  bench::check(s.p, s.size, s.size);
  if (s.from_new) ::operator delete(s.p);
  else std::free(s.p);
  s.p = nullptr;
}

int g_work_passes = 0;

// R passes over the block's words: the program's own use of what it allocated.
__attribute__((noinline)) void process(void* p, size_t size) {
  auto* w = static_cast<uint64_t*>(p);
  uint64_t acc = size;
  for (int pass = 0; pass < g_work_passes; ++pass)
    for (size_t i = 0; i < size / 8; ++i) acc = (acc ^ w[i]) * 0x100000001b3ull + pass;
  bench::escape(reinterpret_cast<void*>(acc));
}

// The work of one burst at the bottom of a call chain.
__attribute__((noinline)) void burst(bench::Rng& rng, std::vector<Slot>& window, long ops) {
  for (long i = 0; i < ops; ++i) {
    Slot& s = window[rng.below(window.size())];
    release(s);
    s.size = rng.log_uniform(16, 512);
    switch (i & 3) {
      case 0: s.p = alloc_a(s.size); break;
      case 1: s.p = alloc_b(s.size); break;
      case 2: s.p = alloc_c(s.size); break;
      default: s.p = alloc_d(s.size); break;
    }
    if (!s.p) bench::fail("allocation returned NULL", s.size);
    s.from_new = (i & 3) == 2;
    bench::tag(s.p, s.size, s.size);
    if (g_work_passes != 0) process(s.p, s.size);
  }
}

__attribute__((noinline)) void descend(int depth, bench::Rng& rng, std::vector<Slot>& w, long ops) {
  if (depth == 0) return burst(rng, w, ops);
  descend(depth - 1, rng, w, ops);
  bench::escape(&w);  // not a tail call: every level stays on the stack
}

void worker(unsigned seed, long allocations) {
  bench::Rng rng(seed);
  std::vector<Slot> window(4096);
  for (long done = 0; done < allocations; done += 1000)
    descend((int)rng.range(6, 12), rng, window, 1000);
  for (Slot& s : window) release(s);
  leak_small();
  leak_zeroed();
  leak_list();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "--expect") == 0) {
    std::printf("expect: direct_bytes=%ld direct_blocks=%ld indirect_bytes=%ld indirect_blocks=%ld\n",
                kDirectBytes, kDirectBlocks, kIndirectBytes, kIndirectBlocks);
    return 0;
  }
  if (argc > 1 && std::strncmp(argv[1], "--work=", 7) == 0) {
    g_work_passes = std::atoi(argv[1] + 7);
    --argc;
    ++argv;
  }
  bench::Args args = bench::parse_args(argc, argv, 1, 1);
  long per_thread = args.smoke ? 50000 : args.scale * 1000000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, t + 1, per_thread);
  for (std::thread& t : threads) t.join();
  return 0;
}
