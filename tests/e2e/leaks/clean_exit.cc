// Memory released only at exit: by a static destructor, an atexit handler and a
// thread_local destructor of the main thread. The pointers are kept disguised (xor), so a
// report written before those handlers ran would show them as direct leaks.
// Expected: no direct or indirect leak.
#include <cstdint>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "leakprog.h"

namespace {

constexpr uintptr_t kMask = 0x5a5a5a5a5a5a5a5aull;
uintptr_t hide(void* p) { return reinterpret_cast<uintptr_t>(p) ^ kMask; }
void* unhide(uintptr_t h) { return reinterpret_cast<void*>(h ^ kMask); }

struct Holder {
  uintptr_t hidden = 0;
  Holder() {
    hidden = hide(malloc(1111));
    keep_alloc(unhide(hidden));
  }
  ~Holder() { free(unhide(hidden)); }
};

Holder static_holder;                               // freed by a static destructor
std::map<int, std::string> static_map;              // freed by libstdc++ destructors
std::vector<std::string> static_list(8, std::string(50, 'v'));
uintptr_t atexit_hidden;

void free_at_exit() { free(unhide(atexit_hidden)); }

LEAK_FN void use_thread_local() {
  static thread_local Holder tls_holder;  // freed by the main thread's TLS destructors
  keep_alloc(&tls_holder);
}

}  // namespace

int main() {
  for (int i = 0; i < 20; i++) static_map[i] = std::string(30 + i, 'm');
  atexit_hidden = hide(malloc(2222));
  keep_alloc(unhide(atexit_hidden));
  std::atexit(free_at_exit);
  use_thread_local();
  scrub_stack();
  return 0;
}
