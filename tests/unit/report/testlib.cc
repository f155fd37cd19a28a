// A module for the dlclose tests: built without debug info, so its static function is
// named from the symbol table only.
#include <cstdint>

extern "C" __attribute__((noinline, visibility("default"))) uintptr_t report_testlib_ret() {
  return reinterpret_cast<uintptr_t>(__builtin_return_address(0));
}

static __attribute__((noinline)) uintptr_t hidden_site(int x) {
  uintptr_t pc = report_testlib_ret();
  asm volatile("" : : "r"(x) : "memory");  // keeps the call from being a tail call
  return pc;
}

/// A return address inside the static function hidden_site(int).
extern "C" __attribute__((visibility("default"))) uintptr_t report_testlib_site() {
  return hidden_site(1);
}
