// A library with an operator new and delete of its own on malloc and free, bound to its own
// calls (-Bsymbolic), as libLLVM has them: the program's new and delete are the shim's.
#include <cstdlib>
#include <new>

void* operator new(std::size_t n) {
  if (void* p = malloc(n != 0 ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return operator new(n); }
void operator delete(void* p) noexcept { free(p); }
void operator delete[](void* p) noexcept { free(p); }
void operator delete(void* p, std::size_t) noexcept { free(p); }
void operator delete[](void* p, std::size_t) noexcept { free(p); }

extern "C" {
__attribute__((visibility("default"))) int* own_new_make(int v) { return new int(v); }
__attribute__((visibility("default"))) char* own_new_make_array(int n) { return new char[n]; }
__attribute__((visibility("default"))) void own_new_take(int* p) { delete p; }
__attribute__((visibility("default"))) void own_new_take_array(char* p) { delete[] p; }
}
