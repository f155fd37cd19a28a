// Conformance of every allocation entry point to glibc's contract, one case per run:
//   api_check CASE      exit status 0 when every check of CASE holds, failures on stderr.
// Run under LD_PRELOAD by e2e_api; run without it, it checks libc itself.
#include <dirent.h>
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/single_threaded.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <atomic>
#include <algorithm>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <new>
#include <string>
#include <vector>

#include "check.h"

using check::aligned;
using check::all_zero;
using check::fill;
using check::holds;
using check::keep;
using check::opaque;

namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// Sizes that cross every small class, the page size, the large-block threshold and beyond.
std::vector<size_t> sizes(size_t max) {
  std::vector<size_t> v;
  for (size_t s = 0; s <= 1100; ++s) v.push_back(s);
  for (size_t s = 1100; s <= max; s = s * 5 / 4 + 3) v.push_back(s);
  for (size_t k = 11; (size_t{1} << k) <= max; ++k)
    for (long d : {-17, -1, 0, 1, 16}) v.push_back((size_t{1} << k) + d);
  return v;
}

// Sizes no allocator can serve: above PTRDIFF_MAX, or beyond the 47-bit address space.
const size_t kImpossible[] = {SIZE_MAX, SIZE_MAX - 4096, size_t{PTRDIFF_MAX} + 1,
                              SIZE_MAX / 2, size_t{1} << 48, (size_t{1} << 47) + 4096};

void case_malloc_sizes() {
  // Keep a window of live blocks and check them, so overlapping blocks are noticed.
  const int kWindow = 64;
  void* live[kWindow] = {};
  size_t live_n[kWindow] = {};
  int slot = 0;
  for (size_t s : sizes(16 << 20)) {
    void* p = malloc(opaque(s));
    CHECKF(p != nullptr, "malloc(%zu) failed", s);
    if (!p) continue;
    CHECKF(aligned(p, 16), "malloc(%zu) = %p not 16-byte aligned", s, p);
    size_t u = malloc_usable_size(p);
    CHECKF(u >= s, "usable %zu < %zu", u, s);
    fill(p, s, s);
    if (live[slot]) {
      CHECKF(holds(live[slot], live_n[slot], live_n[slot]), "block of %zu overwritten",
             live_n[slot]);
      free(live[slot]);
    }
    live[slot] = p;
    live_n[slot] = s;
    slot = (slot + 1) % kWindow;
  }
  for (int i = 0; i < kWindow; ++i) {
    if (live[i]) CHECK(holds(live[i], live_n[i], live_n[i]));
    free(live[i]);
  }
}

void case_malloc_zero() {
  std::vector<void*> v;
  for (int i = 0; i < 1000; ++i) {
    void* p = malloc(opaque(size_t{0}));
    CHECK(p != nullptr);
    CHECK(aligned(p, 16));
    v.push_back(p);
  }
  std::vector<void*> sorted = v;
  std::sort(sorted.begin(), sorted.end());
  CHECKF(std::adjacent_find(sorted.begin(), sorted.end()) == sorted.end(),
         "malloc(0) returned the same pointer twice");
  for (void* p : v) free(p);
}

void case_malloc_huge() {
  for (size_t s : kImpossible) {
    errno = 0;
    void* p = keep(malloc(opaque(s)));
    CHECKF(p == nullptr && errno == ENOMEM, "malloc(%zu) = %p errno %d", s, p, errno);
  }
  void* p = malloc(100);  // still works
  CHECK(p != nullptr);
  free(p);
}

void case_free_null() {
  errno = 1234;
  free(opaque<void*>(nullptr));
  CHECKF(errno == 1234, "free(NULL) changed errno to %d", errno);
  for (size_t s : {size_t{16}, size_t{5000}, size_t{3} << 20}) {
    void* p = malloc(s);
    errno = 4321;
    free(p);
    CHECKF(errno == 4321, "free of %zu bytes changed errno to %d", s, errno);
  }
}

// Dirty blocks, free them, then calloc the same sizes: reused memory must come back zeroed.
void case_calloc_reuse() {
  std::vector<size_t> ss;
  for (size_t s = 1; s <= 1024; s += 7) ss.push_back(s);
  for (size_t s : {2048, 4096, 4097, 12000, 65536, 100000, 262144, 1048575, 1048577,
                   3 << 20, 9 << 20, 24 << 20})
    ss.push_back(s);
  for (size_t s : ss) {
    int count = s > (1 << 20) ? 3 : s > 65536 ? 20 : 200;
    for (int round = 0; round < 3; ++round) {
      std::vector<void*> v;
      for (int i = 0; i < count; ++i) {
        void* p = malloc(s);
        CHECK(p != nullptr);
        memset(p, 0xA5, malloc_usable_size(p));
        v.push_back(p);
      }
      for (void* p : v) free(p);
      v.clear();
      for (int i = 0; i < count; ++i) {
        void* p = round == 1 && s % 8 == 0 ? calloc(s / 8, 8) : calloc(1, s);
        CHECKF(p != nullptr && aligned(p, 16), "calloc(%zu)", s);
        if (!p) continue;
        CHECKF(all_zero(p, s), "calloc(%zu) returned dirty memory (round %d)", s, round);
        memset(p, 0x5A, s);
        v.push_back(p);
      }
      for (void* p : v) free(p);
    }
  }
}

void case_calloc_overflow() {
  const size_t pairs[][2] = {{SIZE_MAX / 2 + 1, 2},
                             {size_t{1} << 32, size_t{1} << 32},
                             {SIZE_MAX, SIZE_MAX},
                             {3, SIZE_MAX / 3 + 1},
                             {1, SIZE_MAX},
                             {size_t{1} << 24, size_t{1} << 24}};
  for (auto& pr : pairs) {
    errno = 0;
    void* p = keep(calloc(opaque(pr[0]), opaque(pr[1])));
    CHECKF(p == nullptr && errno == ENOMEM, "calloc(%zu, %zu) = %p errno %d", pr[0], pr[1], p,
           errno);
  }
  void* a = calloc(opaque(size_t{0}), 10);
  void* b = calloc(10, opaque(size_t{0}));
  CHECK(a != nullptr && b != nullptr && a != b);
  free(a);
  free(b);
}

// Grows a block step by step through the classes into large sizes, then shrinks it back.
void case_realloc_contents() {
  std::vector<size_t> path;
  for (size_t s = 1; s < 700; ++s) path.push_back(s);
  for (size_t s = 700; s < (40u << 20); s = s * 13 / 10 + 1) path.push_back(s);
  std::vector<size_t> back(path.rbegin(), path.rend());
  path.insert(path.end(), back.begin(), back.end());
  void* p = nullptr;
  size_t have = 0;
  uint64_t seed = 1;
  for (size_t s : path) {
    void* q = realloc(p, s);
    CHECKF(q != nullptr, "realloc(%p, %zu) failed", p, s);
    if (!q) break;
    CHECKF(aligned(q, 16), "realloc to %zu not aligned", s);
    CHECKF(holds(q, std::min(have, s), seed), "realloc %zu -> %zu lost contents", have, s);
    CHECKF(malloc_usable_size(q) >= s, "usable < %zu", s);
    seed = s * 7 + 3;
    fill(q, s, seed);
    p = q;
    have = s;
  }
  free(p);
}

void case_realloc_null_and_zero() {
  void* p = realloc(nullptr, 100);
  CHECK(p != nullptr && aligned(p, 16));
  fill(p, 100, 9);
  void* q = realloc(p, 0);  // glibc frees and returns NULL; a minimal block is also valid
  if (q) free(q);
  p = realloc(nullptr, 3 << 20);
  CHECK(p != nullptr && aligned(p, 16));
  free(p);
}

void case_realloc_huge() {
  for (size_t start : {size_t{100}, size_t{70000}, size_t{5} << 20}) {
    void* p = malloc(start);
    fill(p, start, 77);
    for (size_t s : kImpossible) {
      errno = 0;
      void* q = keep(realloc(p, opaque(s)));
      CHECKF(q == nullptr && errno == ENOMEM, "realloc(%zu -> %zu) = %p errno %d", start, s,
             q, errno);
      if (q) p = q;
    }
    CHECKF(holds(p, start, 77), "failed realloc damaged the block of %zu", start);
    free(p);
  }
}

void case_reallocarray() {
  auto* p = static_cast<int*>(reallocarray(nullptr, 10, sizeof(int)));
  CHECK(p != nullptr);
  for (int i = 0; i < 10; ++i) p[i] = i * i;
  auto* q = static_cast<int*>(reallocarray(p, 100000, sizeof(int)));
  CHECK(q != nullptr);
  for (int i = 0; i < 10; ++i) CHECK(q[i] == i * i);
  errno = 0;
  void* r = keep(reallocarray(q, opaque(SIZE_MAX / 2 + 1), 2));
  CHECKF(r == nullptr && errno == ENOMEM, "overflowing reallocarray = %p errno %d", r, errno);
  errno = 0;
  r = keep(reallocarray(q, opaque(size_t{1} << 33), size_t{1} << 31));
  CHECKF(r == nullptr && errno == ENOMEM, "overflowing reallocarray = %p errno %d", r, errno);
  for (int i = 0; i < 10; ++i) CHECK(q[i] == i * i);
  free(q);
}

void case_posix_memalign() {
  for (size_t a = sizeof(void*); a <= (size_t{4} << 20); a *= 2) {
    for (size_t s : {0, 1, 8, 100, 4096, 100000, 3 << 20}) {
      void* p = nullptr;
      int rc = posix_memalign(&p, a, s);
      CHECKF(rc == 0 && p && aligned(p, a), "posix_memalign(%zu, %zu) = %d, %p", a, s, rc, p);
      if (rc != 0) continue;
      CHECK(malloc_usable_size(p) >= s);
      fill(p, s, a + s);
      CHECK(holds(p, s, a + s));
      free(p);
    }
  }
  for (size_t a : {size_t{0}, size_t{1}, size_t{2}, size_t{4}, size_t{3}, size_t{24},
                   size_t{48}, size_t{100}, SIZE_MAX, SIZE_MAX / 2 + 9}) {
    void* p = reinterpret_cast<void*>(0x1234);
    errno = 777;
    int rc = posix_memalign(&p, opaque(a), 64);
    CHECKF(rc == EINVAL, "posix_memalign alignment %zu returned %d", a, rc);
    CHECKF(errno == 777, "posix_memalign alignment %zu set errno to %d", a, errno);
  }
  void* p = nullptr;
  int rc = posix_memalign(&p, 64, opaque(SIZE_MAX - 100));
  CHECKF(rc == ENOMEM, "posix_memalign of a huge size returned %d", rc);
}

void case_aligned_alloc() {
  for (size_t a = 1; a <= (size_t{4} << 20); a *= 2) {
    for (size_t s : {a, 3 * a, a + 1, size_t{100}, size_t{5000}}) {
      void* p = aligned_alloc(opaque(a), s);
      CHECKF(p && aligned(p, a) && aligned(p, std::min<size_t>(a, 16)),
             "aligned_alloc(%zu, %zu) = %p", a, s, p);
      if (!p) continue;
      CHECK(malloc_usable_size(p) >= s);
      fill(p, s, s);
      free(p);
    }
  }
  // C11 (DR 460) and glibc since 2.38: an alignment that is not a power of two is refused.
  for (size_t a : {size_t{3}, size_t{24}, size_t{100}, SIZE_MAX / 2 + 2, SIZE_MAX}) {
    errno = 0;
    void* p = keep(aligned_alloc(opaque(a), 64));
    CHECKF(p == nullptr && errno == EINVAL, "aligned_alloc(%zu) = %p errno %d", a, p, errno);
  }
  errno = 0;
  void* p = keep(aligned_alloc(64, opaque(SIZE_MAX - 63)));
  CHECKF(p == nullptr && errno == ENOMEM, "aligned_alloc of a huge size = %p errno %d", p,
         errno);
}

void case_memalign_valloc() {
  for (size_t a = 1; a <= (size_t{4} << 20); a *= 2) {
    void* p = memalign(opaque(a), 1000);
    CHECKF(p && aligned(p, a) && aligned(p, 16), "memalign(%zu) = %p", a, p);
    fill(p, 1000, a);
    free(p);
  }
  // glibc rounds an alignment that is not a power of two up to the next one.
  errno = 0;
  void* p = keep(memalign(opaque(size_t{24}), 100));
  CHECKF(p ? aligned(p, 32) : errno == EINVAL, "memalign(24) = %p errno %d", p, errno);
  free(p);
  errno = 0;
  p = keep(memalign(opaque(SIZE_MAX / 2 + 2), 100));
  CHECKF(p == nullptr && errno == EINVAL, "memalign(too big) = %p errno %d", p, errno);
  errno = 0;
  p = keep(memalign(64, opaque(SIZE_MAX - 63)));
  CHECKF(p == nullptr && errno == ENOMEM, "memalign of a huge size = %p errno %d", p, errno);
  // A power of two it cannot serve is ENOMEM, as in glibc, however large (glibc's
  // tst-malloc-too-large).
  for (size_t a : {size_t{1} << 41, size_t{1} << 52, SIZE_MAX / 2 + 1}) {
    errno = 0;
    p = keep(memalign(opaque(a), opaque(size_t{1} << 51)));
    CHECKF(p == nullptr && errno == ENOMEM, "memalign(%zx, 2^51) = %p errno %d", a, p, errno);
  }

  for (size_t s : {1, 100, 4095, 4096, 4097, 100000, 5 << 20}) {
    void* v = valloc(s);
    CHECKF(v && aligned(v, kPage) && malloc_usable_size(v) >= s, "valloc(%zu) = %p", s, v);
    fill(v, s, s);
    free(v);
    void* pv = pvalloc(s);
    size_t rounded = (s + kPage - 1) / kPage * kPage;
    CHECKF(pv && aligned(pv, kPage) && malloc_usable_size(pv) >= rounded, "pvalloc(%zu) = %p",
           s, pv);
    if (pv) fill(pv, rounded, s);  // pvalloc promises whole pages
    free(pv);
  }
  void* pv = pvalloc(0);
  CHECK(pv && aligned(pv, kPage));
  free(pv);
  errno = 0;
  pv = keep(pvalloc(opaque(SIZE_MAX - 10)));
  CHECKF(pv == nullptr && errno == ENOMEM, "pvalloc(huge) = %p errno %d", pv, errno);
}

// The whole usable size is writable without touching the neighbours.
void case_usable_size() {
  CHECK(malloc_usable_size(nullptr) == 0);
  for (size_t s : sizes(3 << 20)) {
    if (s % 3) continue;  // a third of the sizes is plenty
    void* b[3];
    size_t u[3];
    for (int i = 0; i < 3; ++i) {
      b[i] = malloc(s);
      u[i] = malloc_usable_size(b[i]);
      CHECKF(u[i] >= s, "usable %zu < %zu", u[i], s);
      fill(b[i], u[i], s + i);
    }
    for (int i = 0; i < 3; ++i) {
      CHECKF(holds(b[i], u[i], s + i), "block %d of %zu (usable %zu) overwritten", i, s, u[i]);
      free(b[i]);
    }
  }
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
void case_malloc_extras() {
  std::vector<void*> v;
  for (int i = 0; i < 20000; ++i) v.push_back(malloc(i % 700 + 1));
  struct mallinfo mi = mallinfo();
  struct mallinfo2 mi2 = mallinfo2();
  keep(&mi);
  keep(&mi2);
  for (void* p : v) free(p);
  int trimmed = malloc_trim(0);
  CHECKF(trimmed == 0 || trimmed == 1, "malloc_trim returned %d", trimmed);
  int rc = mallopt(M_MMAP_THRESHOLD, 1 << 20);
  CHECKF(rc == 0 || rc == 1, "mallopt returned %d", rc);
  rc = mallopt(M_ARENA_MAX, 4);
  CHECKF(rc == 0 || rc == 1, "mallopt returned %d", rc);
  malloc_stats();
  mi2 = mallinfo2();
  keep(&mi2);
  void* p = malloc(12345);
  CHECK(p != nullptr);
  fill(p, 12345, 1);
  free(p);
}
#pragma GCC diagnostic pop

// The __libc_* names, mixed with the standard ones as programs do.
void case_libc_aliases() {
  using Malloc = void* (*)(size_t);
  using Free = void (*)(void*);
  using Calloc = void* (*)(size_t, size_t);
  using Realloc = void* (*)(void*, size_t);
  using Memalign = void* (*)(size_t, size_t);
  auto lm = reinterpret_cast<Malloc>(dlsym(RTLD_DEFAULT, "__libc_malloc"));
  auto lf = reinterpret_cast<Free>(dlsym(RTLD_DEFAULT, "__libc_free"));
  auto lc = reinterpret_cast<Calloc>(dlsym(RTLD_DEFAULT, "__libc_calloc"));
  auto lr = reinterpret_cast<Realloc>(dlsym(RTLD_DEFAULT, "__libc_realloc"));
  auto la = reinterpret_cast<Memalign>(dlsym(RTLD_DEFAULT, "__libc_memalign"));
  CHECK(lm && lf && lc && lr && la);
  if (!(lm && lf && lc && lr && la)) return;
  for (size_t s : {1, 24, 1000, 70000, 3 << 20}) {
    void* p = lm(s);
    CHECKF(p && aligned(p, 16), "__libc_malloc(%zu)", s);
    fill(p, s, s);
    p = lr(p, s * 2);
    CHECKF(p && holds(p, s, s), "__libc_realloc(%zu) lost contents", s * 2);
    free(p);  // mixed: __libc_* block, standard free
    p = malloc(s);
    memset(p, 0xFF, s);
    lf(p);  // mixed the other way
    p = lc(1, s);
    CHECKF(p && all_zero(p, s), "__libc_calloc(%zu) not zeroed", s);
    lf(p);
    p = la(256, s);
    CHECKF(p && aligned(p, 256), "__libc_memalign(256, %zu)", s);
    p = realloc(p, s + 5);
    lf(p);
  }
  errno = 0;
  void* p = keep(lm(opaque(SIZE_MAX)));
  CHECK(p == nullptr && errno == ENOMEM);
}

// Memory that libc allocates for the caller is released with free().
void case_libc_internal() {
  for (int i = 0; i < 2000; ++i) {
    char* d = strdup("a string to duplicate, long enough for a real block");
    CHECK(d && strlen(d) > 10);
    free(d);
    char* s = nullptr;
    CHECK(asprintf(&s, "%d-%s-%0100d", i, "x", i) > 100);
    free(s);
  }
  char* rp = realpath("/proc/self/exe", nullptr);
  CHECK(rp != nullptr);
  free(rp);
  char* buf = nullptr;
  size_t cap = 0;
  FILE* f = fopen("/proc/self/maps", "r");
  CHECK(f != nullptr);
  int lines = 0;
  while (f && getline(&buf, &cap, f) > 0) ++lines;
  CHECK(lines > 5);
  free(buf);
  if (f) fclose(f);
  char* mem = nullptr;
  size_t len = 0;
  FILE* ms = open_memstream(&mem, &len);
  for (int i = 0; i < 10000; ++i) fprintf(ms, "%d ", i);
  fclose(ms);
  CHECK(len > 40000 && mem && strncmp(mem, "0 1 2", 5) == 0);
  free(mem);
}

// dlerror keeps a per-thread message allocated with malloc and freed at thread exit.
void case_dlerror_threads() {
  for (int round = 0; round < 20; ++round) {
    pthread_t t[8];
    for (auto& th : t)
      pthread_create(
          &th, nullptr,
          [](void*) -> void* {
            for (int i = 0; i < 20; ++i) {
              CHECK(dlsym(RTLD_DEFAULT, "no_such_symbol_for_the_test") == nullptr);
              CHECK(dlerror() != nullptr);
              CHECK(dlopen("libno-such-library-for-the-test.so", RTLD_NOW) == nullptr);
              CHECK(dlerror() != nullptr);
            }
            return nullptr;
          },
          nullptr);
    for (auto& th : t) pthread_join(th, nullptr);
  }
}

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(4096) PageSized {
  char bytes[100];
};

void case_operator_new() {
  for (size_t s : sizes(4 << 20)) {
    if (s % 5) continue;
    void* p = ::operator new(s);
    CHECK(aligned(p, 16));
    fill(p, s, s);
    CHECK(holds(p, s, s));
    if (s % 2)
      ::operator delete(p, s);
    else
      ::operator delete(p);
    p = ::operator new[](s);
    fill(p, s, s);
    if (s % 2)
      ::operator delete[](p, s);
    else
      ::operator delete[](p);
  }
  for (size_t a = 16; a <= (size_t{1} << 20); a *= 2) {
    auto al = std::align_val_t(a);
    for (size_t s : {size_t{1}, a / 2, a, 3 * a + 5}) {
      void* p = ::operator new(s, al);
      CHECKF(aligned(p, a), "aligned new(%zu, %zu) = %p", s, a, p);
      fill(p, s, a);
      ::operator delete(p, s, al);
      p = ::operator new[](s, al);
      CHECKF(aligned(p, a), "aligned new[](%zu, %zu) = %p", s, a, p);
      ::operator delete[](p, al);
      p = ::operator new(s, al, std::nothrow);
      CHECK(p && aligned(p, a));
      ::operator delete(p, al, std::nothrow);
      p = ::operator new[](s, al, std::nothrow);
      CHECK(p && aligned(p, a));
      ::operator delete[](p, al, std::nothrow);
      p = ::operator new(s, al);
      ::operator delete(p, al);
      p = ::operator new[](s, al);
      ::operator delete[](p, s, al);
    }
  }
  void* p = ::operator new(100, std::nothrow);
  CHECK(p != nullptr);
  ::operator delete(p, std::nothrow);
  p = ::operator new[](100, std::nothrow);
  CHECK(p != nullptr);
  ::operator delete[](p, std::nothrow);
  auto* lines = new Line[opaque(33)];
  CHECK(aligned(lines, 64));
  delete[] lines;
  auto* page = new PageSized;
  CHECK(aligned(page, 4096));
  delete page;
  std::vector<std::string> strings;
  for (int i = 0; i < 10000; ++i) strings.push_back(std::string(i % 300, 'x') + std::to_string(i));
  CHECK(strings[9999].size() == 99 + 4);
}

int handler_calls = 0;

void case_new_failure() {
  const size_t huge = opaque(SIZE_MAX / 2);
  auto throws = [](auto&& f) {
    try {
      keep(f());
    } catch (const std::bad_alloc&) {
      return true;
    }
    return false;
  };
  CHECK(throws([&] { return ::operator new(huge); }));
  CHECK(throws([&] { return ::operator new[](huge); }));
  CHECK(throws([&] { return ::operator new(huge, std::align_val_t(64)); }));
  CHECK(throws([&] { return ::operator new[](huge, std::align_val_t(4096)); }));
  CHECK(throws([&] { return ::operator new(opaque(size_t{1} << 48)); }));
  CHECK(::operator new(huge, std::nothrow) == nullptr);
  CHECK(::operator new[](huge, std::nothrow) == nullptr);
  CHECK(::operator new(huge, std::align_val_t(64), std::nothrow) == nullptr);
  CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
  // operator new calls the new-handler before it gives up.
  std::set_new_handler([] {
    ++handler_calls;
    std::set_new_handler(nullptr);
  });
  CHECK(throws([&] { return ::operator new(huge); }));
  CHECKF(handler_calls == 1, "new-handler called %d times", handler_calls);
  // The nothrow forms call it too (they are operator new in a try block), and a handler
  // that throws std::bad_alloc makes them return nullptr.
  void* (*nothrow_forms[])(size_t) = {
      [](size_t n) { return ::operator new(n, std::nothrow); },
      [](size_t n) { return ::operator new[](n, std::nothrow); },
      [](size_t n) { return ::operator new(n, std::align_val_t(64), std::nothrow); },
      [](size_t n) { return ::operator new[](n, std::align_val_t(4096), std::nothrow); }};
  for (auto* form : nothrow_forms) {
    handler_calls = 0;
    std::set_new_handler([] {
      ++handler_calls;
      std::set_new_handler(nullptr);
    });
    CHECK(form(huge) == nullptr);
    CHECKF(handler_calls == 1, "nothrow new: new-handler called %d times", handler_calls);
    handler_calls = 0;
    std::set_new_handler([] {
      ++handler_calls;
      throw std::bad_alloc();
    });
    CHECK(form(huge) == nullptr);
    CHECKF(handler_calls == 1, "nothrow new, throwing handler: called %d times", handler_calls);
    std::set_new_handler(nullptr);
  }
  void* p = ::operator new(64);  // still works
  ::operator delete(p);
}

int signal_forks = 0;

void fork_from_handler(int) {
  int saved = errno;
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  if (pid > 0 && waitpid(pid, nullptr, 0) == pid) ++signal_forks;
  errno = saved;
}

// glibc makes fork async-signal-safe in a single-threaded process: a signal handler may
// fork while the interrupted code is inside malloc, free or fork (glibc's
// tst-mallocfork2). A deadlock ends the case with SIGALRM.
void case_fork_in_signal_handler() {
  struct sigaction sa = {};
  sa.sa_handler = fork_from_handler;
  CHECK(sigaction(SIGUSR1, &sa, nullptr) == 0);
  pid_t parent = getpid();
  pid_t sender = fork();
  if (sender == 0) {
    while (kill(parent, SIGUSR1) == 0) usleep(500);
    _exit(0);
  }
  CHECK(sender > 0);
  alarm(30);
  void* slots[1009] = {};
  unsigned seed = 1;
  time_t end = time(nullptr) + 3;
  for (int i = 0; i < 30000 && time(nullptr) < end; ++i) {
    int slot = rand_r(&seed) % 1009;
    free(slots[slot]);
    slots[slot] = malloc(rand_r(&seed) % 70000);
    if (rand_r(&seed) % 64 == 0) {
      pid_t pid = fork();
      if (pid == 0) _exit(0);
      if (pid > 0) while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {}
    }
  }
  alarm(0);
  kill(sender, SIGKILL);
  while (waitpid(sender, nullptr, 0) < 0 && errno == EINTR) {}
  signal(SIGUSR1, SIG_DFL);
  for (void* p : slots) free(p);
  CHECKF(signal_forks > 0, "%d forks from the handler", signal_forks);
}

int task_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d)) n += e->d_name[0] != '.';
    closedir(d);
  }
  return n;
}

// The allocator gives memory back on its own slow paths, not from a thread of its own:
// a program stays single-threaded (unshare(2) of a user or mount namespace refuses a
// multi-threaded caller, Python warns at fork) after its memory waited to go back, also
// when it then goes on freeing into its caches only.
void case_single_threaded() {
  for (int round = 0; round < 4; ++round) {
    std::vector<void*> blocks;
    for (size_t i = 0; i < 20000; ++i) blocks.push_back(malloc(16 + i % 4000));
    blocks.push_back(malloc(8 << 20));
    for (void* p : blocks) {
      CHECK(p != nullptr);
      memset(p, 1, 16);
    }
    for (void* p : blocks) free(p);
  }
  for (int i = 0; i < 40; ++i) {  // 0.8 s: past the default purge delay, a few blocks each time
    void* few[64];
    for (void*& p : few) p = malloc(48);
    for (void* p : few) free(p);
    usleep(20000);
  }
  CHECKF(task_count() == 1, "%d threads", task_count());
  CHECK(__libc_single_threaded);
}

std::atomic<bool> stdio_fork_stop{false};
char stdio_fork_path[] = "/tmp/api_check_stdio_XXXXXX";

// glibc's tst-malloc-fork-deadlock (bug 19431): threads fork while others read a long line
// with getline (which reallocates holding the stream's lock) and one calls fflush(NULL)
// (which holds the stream list lock and waits for each stream's). A deadlock ends the
// case with SIGALRM.
void case_fork_stdio_threads() {
  int fd = mkstemp(stdio_fork_path);
  CHECK(fd >= 0);
  std::string line(1 << 20, 'x');
  line += '\n';
  CHECK(write(fd, line.data(), line.size()) == ssize_t(line.size()));
  close(fd);
  alarm(30);
  std::vector<pthread_t> threads;
  auto start = [&](void* (*fn)(void*)) {
    pthread_t t;
    CHECK(pthread_create(&t, nullptr, fn, nullptr) == 0);
    threads.push_back(t);
  };
  for (int i = 0; i < 4; ++i)
    start([](void*) -> void* {
      while (!stdio_fork_stop.load()) {
        pid_t pid = fork();
        if (pid == 0) _exit(0);
        if (pid > 0) waitpid(pid, nullptr, 0);
      }
      return nullptr;
    });
  for (int i = 0; i < 8; ++i)
    start([](void*) -> void* {
      while (!stdio_fork_stop.load()) {
        FILE* f = fopen(stdio_fork_path, "r");
        if (f == nullptr) continue;
        char* buf = nullptr;
        size_t n = 0;
        keep(reinterpret_cast<void*>(getline(&buf, &n, f)));
        free(buf);
        fclose(f);
      }
      return nullptr;
    });
  start([](void*) -> void* {
    while (!stdio_fork_stop.load()) fflush(nullptr);
    return nullptr;
  });
  sleep(3);
  stdio_fork_stop.store(true);
  for (pthread_t t : threads) pthread_join(t, nullptr);
  alarm(0);
  unlink(stdio_fork_path);
}

// Every C entry point resolves to the preloaded library.
void case_interposed() {
  const char* lib = getenv("LD_PRELOAD");
  if (!lib || !*lib) {
    fprintf(stderr, "FAIL: LD_PRELOAD is not set\n");
    ++check::failures;
    return;
  }
  char want[PATH_MAX];
  CHECK(realpath(lib, want) != nullptr);
  const char* names[] = {"malloc", "free", "calloc", "realloc", "reallocarray",
                         "posix_memalign", "aligned_alloc", "memalign", "valloc", "pvalloc",
                         "malloc_usable_size", "malloc_trim", "mallopt", "mallinfo",
                         "mallinfo2", "malloc_stats", "__libc_malloc", "__libc_free",
                         "__libc_calloc", "__libc_realloc", "__libc_memalign"};
  for (const char* name : names) {
    void* sym = dlsym(RTLD_DEFAULT, name);
    Dl_info info{};
    char got[PATH_MAX] = "?";
    if (sym && dladdr(sym, &info) && info.dli_fname) {
      if (!realpath(info.dli_fname, got)) snprintf(got, sizeof got, "%s", info.dli_fname);
    }
    CHECKF(strcmp(got, want) == 0, "%s resolves to %s", name, got);
  }
}

struct Case {
  const char* name;
  void (*run)();
};

const Case kCases[] = {
    {"malloc_sizes", case_malloc_sizes},
    {"malloc_zero", case_malloc_zero},
    {"malloc_huge", case_malloc_huge},
    {"free_null", case_free_null},
    {"calloc_reuse", case_calloc_reuse},
    {"calloc_overflow", case_calloc_overflow},
    {"realloc_contents", case_realloc_contents},
    {"realloc_null_and_zero", case_realloc_null_and_zero},
    {"realloc_huge", case_realloc_huge},
    {"reallocarray", case_reallocarray},
    {"posix_memalign", case_posix_memalign},
    {"aligned_alloc", case_aligned_alloc},
    {"memalign_valloc", case_memalign_valloc},
    {"usable_size", case_usable_size},
    {"malloc_extras", case_malloc_extras},
    {"libc_aliases", case_libc_aliases},
    {"libc_internal", case_libc_internal},
    {"dlerror_threads", case_dlerror_threads},
    {"operator_new", case_operator_new},
    {"new_failure", case_new_failure},
    {"fork_in_signal_handler", case_fork_in_signal_handler},
    {"fork_stdio_threads", case_fork_stdio_threads},
    {"single_threaded", case_single_threaded},
    {"interposed", case_interposed},
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: api_check CASE\n");
    return 2;
  }
  for (const Case& c : kCases) {
    if (strcmp(argv[1], c.name) == 0) {
      c.run();
      printf("%s: %d failure(s)\n", c.name, check::failures.load());
      return check::failures ? 1 : 0;
    }
  }
  fprintf(stderr, "unknown case %s\n", argv[1]);
  return 2;
}
