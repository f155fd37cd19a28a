// Many threads (8, on any number of cores) with short-lived objects: each thread builds and
// drops batches of C++ strings, map nodes and malloc'ed scratch buffers. Threads are started
// in 4 waves, so thread caches are also created and given back. SCALE = millions of objects.
#include "common.h"

#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 8;
constexpr int kWaves = 4;

void worker(unsigned seed, long objects) {
  bench::Rng rng(seed);
  std::vector<std::string> strings;
  std::map<uint32_t, uint64_t> index;
  long made = 0;
  while (made < objects) {
    size_t n = rng.range(1, 64);
    for (size_t i = 0; i < n; ++i) {
      // Longer than the small-string buffer, so every string allocates.
      strings.emplace_back(rng.range(16, 256), (char)('a' + i % 26));
      index.emplace((uint32_t)rng.next(), i);
      size_t sz = rng.log_uniform(16, 1024);
      void* scratch = std::malloc(sz);
      if (!scratch) bench::fail("malloc returned NULL", sz);
      bench::tag(scratch, sz, made + i);
      bench::check(scratch, sz, made + i);
      std::free(scratch);
    }
    for (size_t i = 0; i < n; ++i) {
      const std::string& s = strings[i];
      if (s.front() != (char)('a' + i % 26) || s.back() != s.front())
        bench::fail("string contents changed", i);
    }
    made += (long)(3 * n);
    strings.clear();
    strings.shrink_to_fit();
    index.clear();
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 12, 1);
  long per_thread = args.scale * 1000000 / (kThreads * kWaves);
  if (args.smoke) per_thread /= 4;
  for (int wave = 0; wave < kWaves; ++wave) {
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) threads.emplace_back(worker, wave * kThreads + t + 1, per_thread);
    for (std::thread& t : threads) t.join();
  }
  return 0;
}
