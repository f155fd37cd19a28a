// Helpers shared by the benchmark workloads: argument parsing, a fast deterministic random
// generator, block tagging so every workload can verify contents cheaply, and failure exit.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace bench {

/// Parsed command line: `prog [--smoke] [SCALE]`.
struct Args {
  long scale;  ///< iterations or size factor; meaning is per workload
  bool smoke;  ///< very short run for the test suite
};

/// Parses `[--smoke] [SCALE]`; `--smoke` picks `smoke_scale` unless SCALE is given.
inline Args parse_args(int argc, char** argv, long default_scale, long smoke_scale) {
  Args a{default_scale, false};
  bool explicit_scale = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--smoke") == 0) {
      a.smoke = true;
    } else {
      char* end = nullptr;
      long v = std::strtol(argv[i], &end, 10);
      if (*end != '\0' || v <= 0) {
        std::fprintf(stderr, "usage: %s [--smoke] [SCALE>0]\n", argv[0]);
        std::exit(2);
      }
      a.scale = v;
      explicit_scale = true;
    }
  }
  if (a.smoke && !explicit_scale) a.scale = smoke_scale;
  return a;
}

/// Reports a detected error and exits with status 1.
[[noreturn]] inline void fail(const char* what, unsigned long detail = 0) {
  std::fprintf(stderr, "bench: %s (%lu)\n", what, detail);
  std::exit(1);
}

/// xorshift64*: fast and good enough to pick sizes and slots.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s >> 12;
    s ^= s << 25;
    s ^= s >> 27;
    return s * 0x2545F4914F6CDD1Dull;
  }
  /// Uniform in [0, n).
  uint64_t below(uint64_t n) { return (uint64_t)(((unsigned __int128)next() * n) >> 64); }
  /// Uniform in [lo, hi].
  size_t range(size_t lo, size_t hi) { return lo + below(hi - lo + 1); }
  /// Log-uniform in [lo, hi]: as many blocks between 16 and 32 B as between 1 and 2 MiB.
  size_t log_uniform(size_t lo, size_t hi) {
    int lb = 63 - __builtin_clzll(lo), hb = 63 - __builtin_clzll(hi);
    int b = lb + (int)below((uint64_t)(hb - lb + 1));
    size_t base = (size_t)1 << b;
    size_t v = base + below(base);
    return v < lo ? lo : (v > hi ? hi : v);
  }
};

/// Keeps the compiler from proving a block unused and removing the malloc/free pair.
inline void escape(void* p) { asm volatile("" : : "g"(p) : "memory"); }

/// Writes a tag derived from `key` at both ends of a block of `size` >= 1 bytes (the ends
/// must not overlap, hence whole words only from 16 bytes).
inline void tag(void* p, size_t size, uint64_t key) {
  unsigned char* b = static_cast<unsigned char*>(p);
  if (size >= 16) {
    std::memcpy(b, &key, 8);
    std::memcpy(b + size - 8, &key, 8);
  } else {
    b[0] = (unsigned char)key;
    b[size - 1] = (unsigned char)(key >> 8);
  }
  escape(p);
}

/// Checks a tag written by tag(); exits with an error when it changed.
inline void check(const void* p, size_t size, uint64_t key) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  bool ok;
  if (size >= 16) {
    uint64_t x, y;
    std::memcpy(&x, b, 8);
    std::memcpy(&y, b + size - 8, 8);
    ok = x == key && y == key;
  } else {
    ok = b[0] == (unsigned char)key && b[size - 1] == (unsigned char)(key >> 8);
  }
  if (!ok) fail("block contents changed", (unsigned long)key);
}

/// Writes one byte in every page of a block so it is really backed by memory.
inline void touch_pages(void* p, size_t size, unsigned char v) {
  unsigned char* b = static_cast<unsigned char*>(p);
  for (size_t i = 0; i < size; i += 4096) b[i] = v;
  b[size - 1] = v;
  escape(p);
}

/// Checks the bytes written by touch_pages().
inline void check_pages(const void* p, size_t size, unsigned char v) {
  const unsigned char* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < size; i += 4096)
    if (b[i] != v) fail("page contents changed", i);
  if (b[size - 1] != v) fail("last byte changed", size);
}

}  // namespace bench
