#include "entry/program_heap.h"

#include <atomic>
#include <dlfcn.h>

#include "entry/cuda_real.h"
#include "prim/os.h"

namespace mpshim::entry {
namespace {

using FreeFn = void (*)(void*);
// Indexed by track::Dealloc: free, operator delete, operator delete[].
std::atomic<FreeFn> g_program[3];
constexpr const char* kNames[3] = {"free", "_ZdlPv", "_ZdaPv"};

// The definition the process binds `name` to, when it is not the shim's own. A program
// that takes the address of an imported free makes its PLT entry the function's canonical
// address, which leads back to the shim: only a module's own definition counts.
FreeFn program_symbol(const char* name) {
  void* p = cuda::real_dlsym(RTLD_DEFAULT, name);
  return p != nullptr && !cuda::is_own(p) && prim::defines_symbol(p, name) ? reinterpret_cast<FreeFn>(p) : nullptr;
}

}  // namespace

void find_program_heap() {
  FreeFn own_free = program_symbol(kNames[0]);
  if (own_free == nullptr) return;
  // libstdc++'s delete[] calls delete, and its delete calls free; the program's own
  // operators, where it has them, may not.
  FreeFn del = program_symbol(kNames[1]);
  if (del == nullptr) del = own_free;
  FreeFn del_array = program_symbol(kNames[2]);
  g_program[2].store(del_array != nullptr ? del_array : del, std::memory_order_release);
  g_program[1].store(del, std::memory_order_release);
  g_program[0].store(own_free, std::memory_order_release);
}

bool program_free(void* p, track::Dealloc how) {
  if (how == track::Dealloc::Realloc) return false;
  FreeFn f = g_program[int(how)].load(std::memory_order_acquire);
  if (f == nullptr) return false;
  f(p);
  return true;
}

}  // namespace mpshim::entry
