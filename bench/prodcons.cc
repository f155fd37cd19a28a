// Producer/consumer cross-thread frees: 2 pairs of threads; each producer allocates blocks of
// 16 B - 4 KiB, writes a sequence number in them and passes them through a lock-free ring to
// its consumer, which checks and frees them. Every free is a free of another thread's block.
// SCALE = millions of blocks.
#include "common.h"

#include <atomic>
#include <thread>
#include <vector>

namespace {

constexpr int kPairs = 2;
constexpr size_t kRing = 4096;  // power of two

struct Msg {
  void* p;
  size_t size;
};

// Single-producer single-consumer ring; each side spins briefly, then yields the core.
struct Ring {
  alignas(64) std::atomic<size_t> head{0};  // next slot to write
  alignas(64) std::atomic<size_t> tail{0};  // next slot to read
  alignas(64) Msg slots[kRing];
};

void producer(Ring& ring, unsigned seed, long count) {
  bench::Rng rng(seed);
  for (long i = 0; i < count; ++i) {
    size_t size = rng.log_uniform(16, 4096);
    void* p = std::malloc(size);
    if (!p) bench::fail("malloc returned NULL", size);
    bench::tag(p, size, (uint64_t)i);
    size_t h = ring.head.load(std::memory_order_relaxed);
    while (h - ring.tail.load(std::memory_order_acquire) == kRing) std::this_thread::yield();
    ring.slots[h % kRing] = Msg{p, size};
    ring.head.store(h + 1, std::memory_order_release);
  }
}

void consumer(Ring& ring, long count) {
  for (long i = 0; i < count; ++i) {
    size_t t = ring.tail.load(std::memory_order_relaxed);
    while (ring.head.load(std::memory_order_acquire) == t) std::this_thread::yield();
    Msg m = ring.slots[t % kRing];
    ring.tail.store(t + 1, std::memory_order_release);
    bench::check(m.p, m.size, (uint64_t)i);
    std::free(m.p);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 4, 1);
  long per_pair = args.scale * 1000000 / kPairs;
  if (args.smoke) per_pair /= 4;
  std::vector<Ring> rings(kPairs);
  std::vector<std::thread> threads;
  for (int i = 0; i < kPairs; ++i) {
    threads.emplace_back(producer, std::ref(rings[i]), i + 1, per_pair);
    threads.emplace_back(consumer, std::ref(rings[i]), per_pair);
  }
  for (std::thread& t : threads) t.join();
  return 0;
}
