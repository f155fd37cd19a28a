#include "cpu/tags.h"

#include <cstring>

#include "cpu/size_class.h"
#include "prim/os.h"

namespace mpshim::cpu {
namespace {

// Each class has its own array size (its blocks per span, rounded up to 64 bytes) and a
// free list of arrays that wait, zeroed, for the class's next span. Arrays are carved from
// 256 KiB slabs, which are never unmapped (they are a small share of the heap).
constexpr size_t kSlabSize = 256u << 10;

struct Slab {
  Slab* next;
  size_t size;
};

// The first slab is in .bss: no system call at start-up, and no memory until touched (a
// process that tracks nothing never touches it).
alignas(64) char g_first_slab[kSlabSize];
Slab* g_slabs = nullptr;
char* g_bump = nullptr;  // free tail of the newest slab
char* g_end = nullptr;
void* g_free[kNumClasses] = {};  // linked through their first word

size_t array_bytes(unsigned cls) {
  return (size_t(kClasses.info[cls].objects) * sizeof(uint64_t) + 63) & ~size_t(63);
}

}  // namespace

uint64_t* tags_take(unsigned cls) {
  size_t bytes = array_bytes(cls);
  if (void* p = g_free[cls]) {
    g_free[cls] = *static_cast<void**>(p);
    *static_cast<void**>(p) = nullptr;
    return static_cast<uint64_t*>(p);
  }
  if (g_bump == nullptr || size_t(g_end - g_bump) < bytes) {
    // The old slab's tail is left unused: at most one array's worth.
    void* mem = g_slabs == nullptr ? g_first_slab : prim::os_map(kSlabSize);
    auto* slab = static_cast<Slab*>(mem);
    if (slab == nullptr) return nullptr;
    slab->size = kSlabSize;
    slab->next = g_slabs;
    g_slabs = slab;
    g_bump = reinterpret_cast<char*>(slab) + 64;  // arrays keep 64-byte alignment
    g_end = reinterpret_cast<char*>(slab) + kSlabSize;
  }
  void* p = g_bump;
  g_bump += bytes;
  return static_cast<uint64_t*>(p);  // fresh mapping: already zero
}

void tags_give(uint64_t* tags, unsigned cls) {
  if (tags == nullptr) return;
  memset(tags, 0, array_bytes(cls));
  *reinterpret_cast<void**>(tags) = g_free[cls];
  g_free[cls] = tags;
}

void tags_for_each_mapping(void (*fn)(uintptr_t, uintptr_t, void*), void* ctx) {
  for (Slab* s = g_slabs; s != nullptr; s = s->next)
    fn(reinterpret_cast<uintptr_t>(s), reinterpret_cast<uintptr_t>(s) + s->size, ctx);
}

}  // namespace mpshim::cpu
