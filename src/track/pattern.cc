#include "track/pattern.h"

namespace mpshim::track {

const unsigned char* locate_changed(const unsigned char* p, size_t n, unsigned char byte,
                                    const unsigned char** last) {
  uint64_t word = 0x0101010101010101ull * byte;
  size_t i = 0;
  const unsigned char* first = nullptr;
  while (i < n && (uintptr_t(p + i) & 7) != 0) {
    if (p[i] != byte) break;
    ++i;
  }
  // 32 bytes a step with no branch between their words, then the word that differs.
  for (; i + 32 <= n; i += 32) {
    const uint64_t* w = reinterpret_cast<const uint64_t*>(p + i);
    if (((w[0] ^ word) | (w[1] ^ word) | (w[2] ^ word) | (w[3] ^ word)) != 0) break;
  }
  while (i + 8 <= n && *reinterpret_cast<const uint64_t*>(p + i) == word) i += 8;
  for (; i < n; ++i)
    if (p[i] != byte) {
      first = p + i;
      break;
    }
  if (first == nullptr) return nullptr;
  *last = first;
  for (size_t k = n; k > size_t(first - p); --k)
    if (p[k - 1] != byte) {
      *last = p + k - 1;
      break;
    }
  return first;
}

}  // namespace mpshim::track
