// Allocation-free sorting for the report: a bottom-up merge sort over an mmap'd scratch
// array (stable, O(n log n), sequential memory access), with an in-place heap sort when
// the scratch memory cannot be mapped.
#pragma once
#include <cstddef>
#include <cstdint>

#include "report/arena.h"

namespace mpshim::report {

namespace detail {

/// After ping-pong passes between `a` and `tmp`: copies the result back into `a` when the
/// last pass wrote `tmp`, then releases `tmp`.
template <class T>
void finish_passes(T* a, const T* result, T* tmp, size_t n) {
  if (result != a)
    for (size_t i = 0; i < n; ++i) a[i] = result[i];
  unmap_array(tmp, n);
}

template <class T, class Less>
void insertion_sort(T* a, size_t n, Less& less) {
  for (size_t i = 1; i < n; ++i) {
    T v = a[i];
    size_t j = i;
    for (; j > 0 && less(v, a[j - 1]); --j) a[j] = a[j - 1];
    a[j] = v;
  }
}

template <class T, class Less>
void sift_down(T* a, size_t root, size_t n, Less& less) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && less(a[child], a[child + 1])) ++child;
    if (!less(a[root], a[child])) return;
    T t = a[root];
    a[root] = a[child];
    a[child] = t;
    root = child;
  }
}

template <class T, class Less>
void heap_sort(T* a, size_t n, Less& less) {
  for (size_t i = n / 2; i-- > 0;) sift_down(a, i, n, less);
  for (size_t end = n; end-- > 1;) {
    T t = a[0];
    a[0] = a[end];
    a[end] = t;
    sift_down(a, 0, end, less);
  }
}

}  // namespace detail

/// Sorts a[0..n) by `less` (a strict weak order). Stable unless memory for the scratch
/// array could not be mapped.
template <class T, class Less>
void sort(T* a, size_t n, Less less) {
  constexpr size_t kRun = 24;
  if (n <= kRun) {
    detail::insertion_sort(a, n, less);
    return;
  }
  T* tmp = map_array<T>(n);
  if (tmp == nullptr) {
    detail::heap_sort(a, n, less);
    return;
  }
  for (size_t i = 0; i < n; i += kRun) detail::insertion_sort(a + i, n - i < kRun ? n - i : kRun, less);
  T* src = a;
  T* dst = tmp;
  for (size_t width = kRun; width < n; width *= 2) {
    for (size_t lo = 0; lo < n; lo += 2 * width) {
      size_t mid = lo + width < n ? lo + width : n;
      size_t hi = lo + 2 * width < n ? lo + 2 * width : n;
      size_t i = lo, j = mid, k = lo;
      while (i < mid && j < hi) dst[k++] = less(src[j], src[i]) ? src[j++] : src[i++];
      while (i < mid) dst[k++] = src[i++];
      while (j < hi) dst[k++] = src[j++];
    }
    T* t = src;
    src = dst;
    dst = t;
  }
  detail::finish_passes(a, src, tmp, n);
}

}  // namespace mpshim::report

namespace mpshim::report {

/// Sorts a[0..n) by the unsigned 64-bit `key(a[i])`: a stable LSD radix sort over bytes that
/// skips the bytes all keys share, so a million blocks take a few passes. Falls back to
/// sort() when the scratch array cannot be mapped.
template <class T, class Key>
void radix_sort(T* a, size_t n, Key key) {
  if (n <= 64) {
    sort(a, n, [&](const T& x, const T& y) { return key(x) < key(y); });
    return;
  }
  size_t* counts = map_array<size_t>(8 * 256);
  T* tmp = counts != nullptr ? map_array<T>(n) : nullptr;
  if (tmp == nullptr) {
    unmap_array(counts, 8 * 256);
    sort(a, n, [&](const T& x, const T& y) { return key(x) < key(y); });
    return;
  }
  for (size_t i = 0; i < n; ++i) {
    uint64_t k = key(a[i]);
    for (int d = 0; d < 8; ++d) ++counts[d * 256 + ((k >> (8 * d)) & 255)];
  }
  T* src = a;
  T* dst = tmp;
  for (int d = 0; d < 8; ++d) {
    size_t* c = counts + d * 256;
    if (c[(key(a[0]) >> (8 * d)) & 255] == n) continue;  // every key has this byte
    size_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      size_t t = c[b];
      c[b] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; ++i) dst[c[(key(src[i]) >> (8 * d)) & 255]++] = src[i];
    T* t = src;
    src = dst;
    dst = t;
  }
  detail::finish_passes(a, src, tmp, n);
  unmap_array(counts, 8 * 256);
}

}  // namespace mpshim::report
