// C++ frames are named as valgrind and LeakSanitizer name them, qualified and with their
// parameters, where debug info gives only a plain name (a member function's `fill`, a
// lambda's `<lambda>` or `operator()`). Expected: direct 96 B in 2 blocks, 2 groups:
// shop::Basket::fill(int) 40 B (new int[10]) and the lambda of make_counter 56 B
// (new char[56]).
#include "leakprog.h"

namespace shop {
struct Basket {
  void fill(int n);
};
LEAK_FN void Basket::fill(int n) { keep_alloc(new int[n]); }
}  // namespace shop

LEAK_FN void make_counter(int n) {
  auto count = [](int k) __attribute__((noinline, noipa)) { keep_alloc(new char[k]); };
  count(n);
}

int main() {
  shop::Basket basket;
  basket.fill(10);
  make_counter(56);
  scrub_stack();
  return 0;
}
