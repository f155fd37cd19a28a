// mallinfo, mallinfo2 and malloc_stats from mpshim's statistics (libc's when host is off).
#pragma once
#include <malloc.h>

namespace mpshim::entry {

struct mallinfo2 info2();
struct mallinfo info1();
void print_stats();

}  // namespace mpshim::entry
