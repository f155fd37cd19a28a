// One leak per C++ allocation operator. Expected: direct 732 B in 5 blocks, 5 groups:
//   operator new 24, operator new[] 100 (int[25]), operator new[] 32 (3 x 8 + an 8-byte
//   array cookie, because Counted has a destructor), aligned operator new 192,
//   aligned operator new[] 384 (2 x 192, no cookie: trivial destructor).
#include "leakprog.h"

struct Plain {
  long a, b, c;
};
struct Counted {
  long v = 0;
  ~Counted() { keep_alloc(this); }
};
struct alignas(64) Wide {
  char bytes[192];
};

LEAK_FN void leak_new() { keep_alloc(new Plain{}); }
LEAK_FN void leak_new_array() { keep_alloc(new int[25]); }
LEAK_FN void leak_new_array_cookie() { keep_alloc(new Counted[3]); }
LEAK_FN void leak_aligned_new() { keep_alloc(new Wide); }
LEAK_FN void leak_aligned_new_array() { keep_alloc(new Wide[2]); }

int main() {
  leak_new();
  leak_new_array();
  leak_new_array_cookie();
  leak_aligned_new();
  leak_aligned_new_array();
  scrub_stack();
  return 0;
}
