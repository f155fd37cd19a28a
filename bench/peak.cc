// Peak then free: with a live working set of 32 MiB, allocate SCALE MiB (default 1 GiB) in
// blocks of 16 B - 64 KiB, write all of it, free everything in random order, then sample RSS
// every 100 ms for 2 s (0.5 s with --smoke) while the program goes on with light work.
// Prints one line:
//   peak: start_mib=S peak_mib=P after_mib=A back_ms=T
// start = RSS with the working set before the peak, after = RSS at the last sample, back_ms =
// first sample time at which RSS <= 1.2 x start (-1 if never within 2 s).
#include "common.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <vector>

namespace {

// Resident set size in MiB from /proc/self/statm (read(2) only: no allocation).
double rss_mib() {
  char buf[128] = {};
  int fd = open("/proc/self/statm", O_RDONLY);
  if (fd < 0) bench::fail("cannot open /proc/self/statm");
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) bench::fail("cannot read /proc/self/statm");
  unsigned long size = 0, resident = 0;
  if (std::sscanf(buf, "%lu %lu", &size, &resident) != 2) bench::fail("bad statm");
  return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

struct Block {
  void* p;
  size_t size;
};

// Appends blocks of 16 B - max_size, all bytes written, until they hold `total` bytes.
void allocate(bench::Rng& rng, size_t total, size_t max_size, unsigned char v,
              std::vector<Block>& blocks) {
  for (size_t sum = 0; sum < total;) {
    size_t size = rng.log_uniform(16, max_size);
    void* p = std::malloc(size);
    if (!p) bench::fail("malloc returned NULL", size);
    std::memset(p, v, size);
    blocks.push_back(Block{p, size});
    sum += size;
  }
}

void release(std::vector<Block>& blocks, unsigned char v) {
  for (Block& b : blocks) {
    const unsigned char* c = static_cast<const unsigned char*>(b.p);
    if (c[0] != v || c[b.size - 1] != v) bench::fail("block contents changed", b.size);
    std::free(b.p);
  }
  blocks.clear();
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 1024, 128);
  bench::Rng rng(6);
  std::vector<Block> working, peak, chatter;
  allocate(rng, 32u << 20, 4096, 0x11, working);
  // Room for the block list (only the part used is ever touched).
  peak.reserve(((size_t)args.scale << 20) / 1024);
  chatter.reserve(64);
  double start = rss_mib();

  allocate(rng, (size_t)args.scale << 20, 64 << 10, 0x22, peak);
  double top = rss_mib();
  for (size_t i = peak.size(); i > 1; --i) std::swap(peak[i - 1], peak[rng.below(i)]);
  release(peak, 0x22);

  long back_ms = -1, window_ms = args.smoke ? 500 : 2000;
  double after = rss_mib();
  for (long ms = 0;; ms += 100) {
    after = rss_mib();
    if (back_ms < 0 && after <= 1.2 * start) back_ms = ms;
    if (ms >= window_ms) break;
    // The program goes on with light work: every 10 ms, 64 small blocks come and go.
    for (int tick = 0; tick < 10; ++tick) {
      allocate(rng, 64 * 64, 128, 0x33, chatter);
      release(chatter, 0x33);
      timespec ts{0, 10 * 1000 * 1000};
      nanosleep(&ts, nullptr);
    }
  }
  release(working, 0x11);
  std::printf("peak: start_mib=%.1f peak_mib=%.1f after_mib=%.1f back_ms=%ld\n", start, top, after,
              back_ms);
  return 0;
}
