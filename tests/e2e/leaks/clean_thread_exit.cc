// exit() called from a thread other than main, while main waits in pthread_join. The
// exiting thread's thread_local destructor and an atexit handler free disguised memory.
// Expected: no direct or indirect leak.
#include <pthread.h>

#include <cstdint>
#include <cstdlib>

#include "leakprog.h"

namespace {

constexpr uintptr_t kMask = 0x3c3c3c3c3c3c3c3cull;
uintptr_t hide(void* p) { return reinterpret_cast<uintptr_t>(p) ^ kMask; }
void* unhide(uintptr_t h) { return reinterpret_cast<void*>(h ^ kMask); }

struct Holder {
  uintptr_t hidden = hide(malloc(3333));
  ~Holder() { free(unhide(hidden)); }
};

uintptr_t atexit_hidden;
void free_at_exit() { free(unhide(atexit_hidden)); }

void* exiting_thread(void*) {
  static thread_local Holder tls_holder;
  keep_alloc(&tls_holder);
  atexit_hidden = hide(malloc(4444));
  std::atexit(free_at_exit);
  scrub_stack();
  std::exit(0);
}

}  // namespace

int main() {
  pthread_t t;
  if (pthread_create(&t, nullptr, exiting_thread, nullptr) != 0) return 2;
  pthread_join(t, nullptr);  // never returns: the thread exits the process
  return 1;
}
