// Runs before main(), when nothing has called the allocator yet: clears MPSHIM_* variables
// so the tests see the documented defaults whatever the caller's environment holds, and
// switches tags on, since tags exist only in memory mapped after enable_tags().
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cpu/heap.h"

extern char** environ;

namespace {

bool set_up() {
  std::vector<std::string> names;
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "MPSHIM_", 7) == 0) names.emplace_back(*e, std::strcspn(*e, "="));
  for (const std::string& n : names) unsetenv(n.c_str());
  mpshim::cpu::enable_tags();
  return true;
}

const bool kSetUp = set_up();

}  // namespace
