#include "track/roots.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace mpshim::track {
namespace {

bool hex_field(const char*& s, const char* end, uintptr_t* out) {
  uintptr_t v = 0;
  const char* start = s;
  for (; s < end; ++s) {
    char c = *s;
    unsigned d;
    if (c >= '0' && c <= '9')
      d = unsigned(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = unsigned(c - 'a' + 10);
    else
      break;
    v = v << 4 | d;
  }
  *out = v;
  return s != start;
}

bool starts_with(const char* s, const char* end, const char* prefix) {
  size_t n = strlen(prefix);
  return size_t(end - s) >= n && memcmp(s, prefix, n) == 0;
}

// Mappings that are not plain memory: reading them is pointless or has side effects.
bool special(const char* path, const char* end) {
  if (starts_with(path, end, "[vvar") || starts_with(path, end, "[vsyscall")) return true;
  if (starts_with(path, end, "/dev/"))
    return !starts_with(path, end, "/dev/zero") && !starts_with(path, end, "/dev/shm/");
  return false;
}

void sift_down(ScanRange* r, size_t root, size_t n) {
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= n) return;
    if (child + 1 < n && r[child + 1].lo > r[child].lo) ++child;
    if (r[root].lo >= r[child].lo) return;
    ScanRange t = r[root];
    r[root] = r[child];
    r[child] = t;
    root = child;
  }
}

}  // namespace

size_t parse_maps(const char* text, size_t len, ScanRange* out, size_t cap) {
  size_t count = 0;
  const char* end = text + len;
  for (const char* line = text; line < end;) {
    const char* eol = static_cast<const char*>(memchr(line, '\n', size_t(end - line)));
    if (eol == nullptr) eol = end;
    const char* s = line;
    line = eol + 1;
    uintptr_t lo, hi;
    if (!hex_field(s, eol, &lo) || s == eol || *s++ != '-' || !hex_field(s, eol, &hi)) continue;
    if (eol - s < 5 || s[1] != 'r' || s[2] != 'w') continue;
    // Skip perms, offset, device and inode to the path (may be empty).
    const char* path = s + 5;
    for (int field = 0; field < 3; ++field) {
      while (path < eol && *path == ' ') ++path;
      while (path < eol && *path != ' ') ++path;
    }
    while (path < eol && *path == ' ') ++path;
    if (special(path, eol) || hi <= lo) continue;
    if (count < cap) out[count] = {lo, hi};
    ++count;
  }
  return count;
}

void sort_ranges(ScanRange* r, size_t n) {
  if (n < 2) return;
  for (size_t i = n / 2; i-- > 0;) sift_down(r, i, n);
  for (size_t end = n - 1; end > 0; --end) {
    ScanRange t = r[0];
    r[0] = r[end];
    r[end] = t;
    sift_down(r, 0, end);
  }
}

size_t subtract_ranges(const ScanRange* ranges, size_t n, ScanRange* holes, size_t nholes,
                       ScanRange* out) {
  sort_ranges(holes, nholes);
  size_t count = 0, h = 0;
  for (size_t i = 0; i < n; ++i) {
    uintptr_t lo = ranges[i].lo, hi = ranges[i].hi;
    while (h < nholes && holes[h].hi <= lo) ++h;  // holes wholly before this range
    for (size_t k = h; k < nholes && holes[k].lo < hi && lo < hi; ++k) {
      if (holes[k].hi <= lo) continue;
      if (holes[k].lo > lo) out[count++] = {lo, holes[k].lo};
      if (holes[k].hi > lo) lo = holes[k].hi;
    }
    if (lo < hi) out[count++] = {lo, hi};
  }
  return count;
}

int64_t find_range(const ScanRange* r, size_t n, uintptr_t addr) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (r[mid].hi <= addr)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < n && r[lo].lo <= addr && addr < r[lo].hi ? int64_t(lo) : -1;
}

const char* read_maps(Scratch& scratch, size_t* len) {
  int saved = errno;
  int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  size_t cap = size_t(1) << 20, used = 0;
  char* buf = scratch.array<char>(cap);
  while (buf != nullptr) {
    if (used == cap) {  // a bigger buffer; the old one stays until the check ends
      char* bigger = scratch.array<char>(cap * 2);
      if (bigger != nullptr) memcpy(bigger, buf, used);
      buf = bigger;
      cap *= 2;
      continue;
    }
    ssize_t r = read(fd, buf + used, cap - used);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    used += size_t(r);
  }
  close(fd);
  errno = saved;
  *len = used;
  return buf;
}

}  // namespace mpshim::track
