// Larson-style server simulation: 4 threads replace random slots of one shared array of
// 16,384 blocks of 16-1024 B, so most blocks are freed by a thread other than the one that
// allocated them; two generations of threads, each a fixed number of replacements.
// SCALE = millions of replacements.
#include "common.h"

#include <atomic>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 4;
constexpr int kGenerations = 2;
constexpr size_t kSlots = 16384;

// A block holds its own size at both ends (bench::tag with key = size).
void* make(bench::Rng& rng) {
  size_t size = rng.range(16, 1024);
  void* p = std::malloc(size);
  if (!p) bench::fail("malloc returned NULL", size);
  bench::tag(p, size, size);
  return p;
}

void drop(void* p) {
  if (!p) return;
  uint64_t size;
  std::memcpy(&size, p, 8);
  if (size < 16 || size > 1024) bench::fail("block header changed", size);
  bench::check(p, size, size);
  std::free(p);
}

void worker(std::atomic<void*>* slots, unsigned seed, long ops) {
  bench::Rng rng(seed);
  for (long i = 0; i < ops; ++i) {
    void* fresh = make(rng);
    drop(slots[rng.below(kSlots)].exchange(fresh, std::memory_order_acq_rel));
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 6, 1);
  long per_thread = args.scale * 1000000 / (kThreads * kGenerations);
  if (args.smoke) per_thread /= 4;
  std::vector<std::atomic<void*>> slots(kSlots);
  bench::Rng rng(99);
  for (auto& s : slots) s.store(make(rng));
  for (int g = 0; g < kGenerations; ++g) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back(worker, slots.data(), g * kThreads + t + 1, per_thread);
    for (std::thread& t : threads) t.join();
  }
  for (auto& s : slots) drop(s.load());
  return 0;
}
