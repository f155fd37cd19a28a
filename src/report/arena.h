// Bump allocation from mmap'd chunks for the report layer (symbol names, groups, tables).
// Nothing is freed one by one; the whole arena is unmapped at once.
#pragma once
#include <cstddef>
#include <cstdint>

namespace mpshim::report {

class Arena {
 public:
  // Trivially destructible on purpose: arenas live in globals that must survive the
  // program's own static destructors.
  constexpr Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  /// `size` zeroed bytes aligned to 16; nullptr when the OS refuses memory.
  void* alloc(size_t size);
  /// A NUL-terminated copy of the first `n` bytes of `s`; nullptr on failure.
  char* dup(const char* s, size_t n);
  char* dup(const char* s);
  /// Unmaps every chunk.
  void release();

 private:
  struct Chunk;
  Chunk* head_ = nullptr;
  char* cur_ = nullptr;
  char* end_ = nullptr;
};

/// An array of `n` T in fresh zeroed mmap'd memory (nullptr on failure); give back with
/// unmap_array.
template <class T>
T* map_array(size_t n);
template <class T>
void unmap_array(T* p, size_t n);

}  // namespace mpshim::report

#include "prim/os.h"

namespace mpshim::report {

template <class T>
T* map_array(size_t n) {
  if (n == 0) n = 1;
  if (n > SIZE_MAX / sizeof(T)) return nullptr;
  return static_cast<T*>(prim::os_map(n * sizeof(T)));
}

template <class T>
void unmap_array(T* p, size_t n) {
  if (p != nullptr) prim::os_unmap(p, (n == 0 ? 1 : n) * sizeof(T));
}

}  // namespace mpshim::report
