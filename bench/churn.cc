// Single-thread churn of small objects (8-256 B): random replacement in a live window,
// LIFO bursts (temporaries) and a FIFO queue (messages), the patterns of ordinary programs.
// SCALE = millions of allocations.
#include "common.h"

#include <vector>

namespace {

struct Slot {
  void* p = nullptr;
  size_t size = 0;
  uint64_t key = 0;
};

void* make(bench::Rng& rng, Slot& s, uint64_t key) {
  s.size = rng.log_uniform(8, 256);
  s.key = key;
  s.p = std::malloc(s.size);
  if (!s.p) bench::fail("malloc returned NULL", s.size);
  bench::tag(s.p, s.size, key);
  return s.p;
}

void drop(Slot& s) {
  if (!s.p) return;
  bench::check(s.p, s.size, s.key);
  std::free(s.p);
  s.p = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 8, 1);
  bench::Rng rng(1);
  uint64_t key = 0;
  std::vector<Slot> window(8192), burst(256), queue(1024);
  size_t head = 0;
  for (long round = 0; round < args.scale; ++round) {
    // 1. Random replacement in a live window: 500k allocations.
    for (int i = 0; i < 500000; ++i) {
      Slot& s = window[rng.below(window.size())];
      drop(s);
      make(rng, s, ++key);
    }
    // 2. LIFO bursts of 1-256 temporaries: about 250k allocations.
    for (int n = 0; n < 2000; ++n) {
      size_t count = rng.range(1, 256);
      for (size_t i = 0; i < count; ++i) make(rng, burst[i], ++key);
      for (size_t i = count; i-- > 0;) drop(burst[i]);
    }
    // 3. FIFO queue: 250k allocations, each freed 1024 allocations later.
    for (int i = 0; i < 250000; ++i) {
      Slot& s = queue[head++ % queue.size()];
      drop(s);
      make(rng, s, ++key);
    }
  }
  for (Slot& s : window) drop(s);
  for (Slot& s : queue) drop(s);
  return 0;
}
