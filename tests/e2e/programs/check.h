// Shared helpers of the e2e test programs: non-fatal checks, patterns, opaque values.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unistd.h>

namespace check {

inline std::atomic<int> failures{0};

#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);            \
      if (++check::failures > 50) {                                              \
        fprintf(stderr, "too many failures\n");                                  \
        _Exit(1);                                                                \
      }                                                                          \
    }                                                                            \
  } while (0)

// As CHECK, with a printf-style explanation.
#define CHECKF(cond, ...)                                                        \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);            \
      fprintf(stderr, __VA_ARGS__);                                              \
      fputc('\n', stderr);                                                       \
      if (++check::failures > 50) _Exit(1);                                      \
    }                                                                            \
  } while (0)

/// Hides a value from the optimiser, so calls with constant sizes are really made.
template <class T>
inline T opaque(T v) {
  asm volatile("" : "+r"(v));
  return v;
}

/// Makes a pointer escape, so allocations whose result is unused are not elided.
inline void* keep(void* p) {
  asm volatile("" : : "r"(p) : "memory");
  return p;
}

inline bool aligned(const void* p, size_t a) { return reinterpret_cast<uintptr_t>(p) % a == 0; }

// The pattern is a sequence of 64-bit words derived from the seed; byte i of a block is
// byte i % 8 of word i / 8, so any prefix of a filled block can be checked.
inline uint64_t pattern_word(uint64_t seed, size_t w) {
  uint64_t x = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (w * 0xD6E8FEB86659FD93ull);
  return x ^ (x >> 29);
}

/// Fills `n` bytes with a pattern that depends on `seed` and the offset.
inline void fill(void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<unsigned char*>(p);
  size_t words = n / 8;
  for (size_t w = 0; w < words; ++w) {
    uint64_t v = pattern_word(seed, w);
    memcpy(b + w * 8, &v, 8);
  }
  uint64_t last = pattern_word(seed, words);
  memcpy(b + words * 8, &last, n % 8);
}

/// True when the first `n` bytes still hold the pattern of `seed`.
inline bool holds(const void* p, size_t n, uint64_t seed) {
  auto* b = static_cast<const unsigned char*>(p);
  size_t words = n / 8;
  for (size_t w = 0; w < words; ++w) {
    uint64_t v;
    memcpy(&v, b + w * 8, 8);
    if (v != pattern_word(seed, w)) return false;
  }
  uint64_t last = pattern_word(seed, words);
  return memcmp(b + words * 8, &last, n % 8) == 0;
}

inline bool all_zero(const void* p, size_t n) {
  auto* b = static_cast<const unsigned char*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i]) return false;
  return true;
}

/// Resident set size of this process in bytes, from /proc/self/statm.
inline size_t rss_bytes() {
  FILE* f = fopen("/proc/self/statm", "r");
  unsigned long size = 0, resident = 0;
  if (f) {
    if (fscanf(f, "%lu %lu", &size, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * static_cast<size_t>(sysconf(_SC_PAGESIZE));
}

/// Small deterministic generator (xorshift), one per thread.
struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed * 0x9E3779B97F4A7C15ull + 1) {}
  uint64_t next() {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  }
  size_t below(size_t n) { return next() % n; }
};

}  // namespace check
