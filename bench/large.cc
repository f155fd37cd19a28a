// Large blocks: allocate a block of 5-25 MiB, write every page, check, free; in a loop, as
// image and tensor buffers are. An allocator that returns every block to the OS at once
// pays page faults on each iteration. SCALE = hundreds of blocks.
#include "common.h"

int main(int argc, char** argv) {
  bench::Args args = bench::parse_args(argc, argv, 4, 1);
  bench::Rng rng(5);
  long count = args.scale * (args.smoke ? 10 : 100);
  for (long i = 0; i < count; ++i) {
    size_t size = rng.range(5 << 20, 25 << 20);
    void* p = std::malloc(size);
    if (!p) bench::fail("malloc returned NULL", size);
    unsigned char v = (unsigned char)(i | 1);
    bench::touch_pages(p, size, v);
    bench::check_pages(p, size, v);
    std::free(p);
  }
  return 0;
}
