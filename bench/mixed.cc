// Mixed sizes from 16 B to 2 MiB, log-uniform (as many tiny as huge blocks), each page
// written; random frees keep a bounded live set of at most 512 blocks (about 90 MiB).
// SCALE = hundreds of thousands of allocations.
#include "common.h"

#include <vector>

namespace {

struct Slot {
  unsigned char* p = nullptr;
  size_t size = 0;
  unsigned char v = 0;
};

void drop(Slot& s) {
  if (!s.p) return;
  bench::check_pages(s.p, s.size, s.v);
  std::free(s.p);
  s.p = nullptr;
}

}  // namespace

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 3, 1);
  bench::Rng rng(2);
  std::vector<Slot> slots(512);
  long ops = args.scale * (args.smoke ? 20000 : 100000);
  for (long i = 0; i < ops; ++i) {
    Slot& s = slots[rng.below(slots.size())];
    drop(s);
    // One op in four only frees, so the live set shrinks and grows.
    if (rng.below(4) == 0) continue;
    s.size = rng.log_uniform(16, 2 << 20);
    s.v = (unsigned char)(i | 1);
    s.p = static_cast<unsigned char*>(std::malloc(s.size));
    if (!s.p) bench::fail("malloc returned NULL", s.size);
    bench::touch_pages(s.p, s.size, s.v);
  }
  for (Slot& s : slots) drop(s);
  return 0;
}
