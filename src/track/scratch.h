// Bump memory for one leak check: a few large mappings (reserved without commitment, so
// only what is used costs memory), all given back at once. Nothing is unmapped before the
// end, so the check knows exactly which mappings are its own and can keep them out of
// the roots.
#pragma once
#include <cstddef>
#include <cstdint>

#include "prim/os.h"

namespace mpshim::track {

class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() {
    for (size_t i = 0; i < count_; ++i) prim::os_unmap(maps_[i].base, maps_[i].size);
  }

  /// `bytes` of zeroed memory aligned to 16, or nullptr.
  void* alloc(size_t bytes) {
    bytes = (bytes + 15) & ~size_t(15);
    if (count_ == 0 || used_ + bytes > maps_[count_ - 1].size) {
      if (count_ == kMaxMaps) return nullptr;
      size_t size = bytes > kMapSize ? bytes : kMapSize;
      void* base = prim::os_map(size);
      if (base == nullptr) return nullptr;
      maps_[count_++] = {static_cast<char*>(base), size};
      used_ = 0;
    }
    char* p = maps_[count_ - 1].base + used_;
    used_ += bytes;
    return p;
  }

  /// Typed array of n elements (zeroed).
  template <class T>
  T* array(size_t n) {
    return static_cast<T*>(alloc(n * sizeof(T)));
  }

  /// Grows an array of `len` used elements to hold at least `need`; the old copy is left
  /// in place (freed with the rest at the end). Returns false when out of memory.
  template <class T>
  bool grow(T** items, size_t len, size_t* cap, size_t need) {
    if (need <= *cap) return true;
    size_t fresh = *cap < 256 ? 256 : *cap * 2;
    while (fresh < need) fresh *= 2;
    T* p = array<T>(fresh);
    if (p == nullptr) return false;
    for (size_t i = 0; i < len; ++i) p[i] = (*items)[i];
    *items = p;
    *cap = fresh;
    return true;
  }

  /// Calls fn for every mapping in use.
  template <class Fn>
  void for_each_mapping(Fn fn) const {
    for (size_t i = 0; i < count_; ++i)
      fn(uintptr_t(maps_[i].base), uintptr_t(maps_[i].base) + maps_[i].size);
  }

  /// True when [lo, hi) overlaps one of its mappings (which may lie where the program's
  /// memory was unmapped since).
  bool overlaps(uintptr_t lo, uintptr_t hi) const {
    for (size_t i = 0; i < count_; ++i)
      if (lo < uintptr_t(maps_[i].base) + maps_[i].size && uintptr_t(maps_[i].base) < hi) return true;
    return false;
  }

 private:
  static constexpr size_t kMaxMaps = 48;
  static constexpr size_t kMapSize = size_t(64) << 20;
  struct Map {
    char* base;
    size_t size;
  };
  Map maps_[kMaxMaps] = {};
  size_t count_ = 0;
  size_t used_ = 0;
};

}  // namespace mpshim::track
