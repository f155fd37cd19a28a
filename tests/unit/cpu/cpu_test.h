// Helpers shared by the host allocator's unit tests: byte patterns that tell blocks apart,
// and statistics snapshots.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "cpu/heap.h"
#include "cpu/stats.h"

namespace cputest {

constexpr size_t kKiB = size_t(1) << 10;
constexpr size_t kMiB = size_t(1) << 20;

// The word at word index i of a block filled with `seed`; differs between seeds.
inline uint64_t pattern_word(uint64_t seed, size_t i) {
  return (seed + 1) * 0x9E3779B97F4A7C15ull ^ (i + 1) * 0xBF58476D1CE4E5B9ull;
}

// Fills n bytes (any alignment, any length) with the pattern of `seed`.
inline void fill(void* p, size_t n, uint64_t seed) {
  uint8_t* b = static_cast<uint8_t*>(p);
  size_t words = n / 8;
  for (size_t i = 0; i < words; ++i) {
    uint64_t v = pattern_word(seed, i);
    memcpy(b + 8 * i, &v, 8);
  }
  uint64_t last = pattern_word(seed, words);
  memcpy(b + 8 * words, &last, n % 8);
}

// True when the first n bytes still hold the pattern of `seed`.
inline bool check(const void* p, size_t n, uint64_t seed) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  size_t words = n / 8;
  for (size_t i = 0; i < words; ++i) {
    uint64_t v;
    memcpy(&v, b + 8 * i, 8);
    if (v != pattern_word(seed, i)) return false;
  }
  uint64_t last = pattern_word(seed, words);
  return memcmp(b + 8 * words, &last, n % 8) == 0;
}

// Large blocks: pattern only the first and last 64 KiB and one word per 4 KiB page, so
// multi-MiB blocks stay cheap to fill and verify.
inline void fill_sparse(void* p, size_t n, uint64_t seed) {
  uint8_t* b = static_cast<uint8_t*>(p);
  size_t edge = n < 128 * kKiB ? n : 64 * kKiB;
  fill(b, edge, seed);
  fill(b + n - edge, edge, seed ^ 0x55);
  for (size_t off = 0; off + 8 <= n; off += 4096) {
    uint64_t v = seed * 1000003u + off;
    if (off >= edge && off + 8 <= n - edge) memcpy(b + off, &v, 8);
  }
}

inline bool check_sparse(const void* p, size_t n, uint64_t seed) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  size_t edge = n < 128 * kKiB ? n : 64 * kKiB;
  if (!check(b, edge, seed) || !check(b + n - edge, edge, seed ^ 0x55)) return false;
  for (size_t off = 0; off + 8 <= n; off += 4096) {
    uint64_t v = seed * 1000003u + off, got;
    if (off >= edge && off + 8 <= n - edge) {
      memcpy(&got, b + off, 8);
      if (got != v) return false;
    }
  }
  return true;
}

inline bool all_zero(const void* p, size_t n) {
  const uint8_t* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i)
    if (b[i] != 0) return false;
  return true;
}

inline mpshim::cpu::Stats stats() {
  mpshim::cpu::Stats s;
  mpshim::cpu::snapshot(&s);
  return s;
}

}  // namespace cputest
