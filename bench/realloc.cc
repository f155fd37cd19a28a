// Realloc growth: 64 buffers grow by appends of 1-64 bytes, half like naive string builders
// (realloc to the exact new length on every append, up to 64 B - 64 KiB), half like vectors
// (capacity doubling, up to 1 KiB - 4 MiB); then the whole content is verified and freed.
// SCALE = units of 16 MiB appended.
#include "common.h"

#include <vector>

namespace {

struct Buf {
  unsigned char* p = nullptr;
  size_t len = 0, cap = 0, target = 0;
  bool exact = false;
  unsigned char seed = 0;
};

// Content byte i of a buffer is kPattern[(i + seed) % 256]; the table repeats its first 64
// bytes so any append of up to 64 bytes is one memcpy.
unsigned char kPattern[256 + 64];

const unsigned char* pattern_at(const Buf& b, size_t i) { return kPattern + ((i + b.seed) & 255); }

void start(bench::Rng& rng, Buf& b, unsigned id) {
  b = Buf{};
  b.exact = (id & 1) != 0;
  b.target = b.exact ? rng.log_uniform(64, 64 << 10) : rng.log_uniform(1 << 10, 4 << 20);
  b.seed = (unsigned char)rng.next();
}

void finish(Buf& b) {
  for (size_t i = 0; i < b.len; i += 64) {
    size_t n = b.len - i < 64 ? b.len - i : 64;
    if (std::memcmp(b.p + i, pattern_at(b, i), n) != 0) bench::fail("realloc lost contents", i);
  }
  std::free(b.p);
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 12, 1);
  bench::Rng rng(3);
  for (size_t i = 0; i < sizeof kPattern; ++i) kPattern[i] = (unsigned char)((i % 256) * 167 + 13);
  std::vector<Buf> bufs(64);
  for (unsigned i = 0; i < bufs.size(); ++i) start(rng, bufs[i], i);
  size_t budget = (size_t)args.scale * (16u << 20);
  for (size_t appended = 0; appended < budget;) {
    unsigned id = (unsigned)rng.below(bufs.size());
    Buf& b = bufs[id];
    size_t k = rng.range(1, 64);
    if (b.len + k > b.cap) {
      b.cap = b.exact ? b.len + k : (b.cap ? b.cap * 2 : 16);
      if (b.cap < b.len + k) b.cap = b.len + k;
      void* q = std::realloc(b.p, b.cap);
      if (!q) bench::fail("realloc returned NULL", b.cap);
      b.p = static_cast<unsigned char*>(q);
    }
    std::memcpy(b.p + b.len, pattern_at(b, b.len), k);
    b.len += k;
    appended += k;
    if (b.len >= b.target) {
      finish(b);
      start(rng, b, id);
    }
  }
  for (Buf& b : bufs) finish(b);
  return 0;
}
