// C++ containers whose buffers leak through a leaked owner: the owners are direct leaks,
// every buffer they own is indirect (libstdc++, x86-64).
//   Owner (104 B: vector 24 + string 32 + map 48)          direct   104 B x 1
//     vector<int>(25)                  25 * 4           =  indirect 100 B x 1
//     string of 60 chars               60 + 1           =  indirect  61 B x 1
//     map<int, int>, 3 nodes           3 * (32 + 8)     =  indirect 120 B x 3
//   vector<string> object (24 B)                           direct    24 B x 1
//     buffer, reserve(4)               4 * 32           =  indirect 128 B x 1
//     4 strings of 40 chars            4 * 41           =  indirect 164 B x 4
// Expected: direct 128 B in 2 blocks, indirect 573 B in 10 blocks.
// The short string (under 16 chars) lives inside its object and allocates nothing.
#include <map>
#include <string>
#include <vector>

#include "leakprog.h"

struct Owner {
  std::vector<int> v;
  std::string s;
  std::map<int, int> m;
};
static_assert(sizeof(Owner) == 104, "figures above assume libstdc++ on x86-64");

LEAK_FN void leak_owner() {
  auto* o = new Owner{std::vector<int>(25, 7), std::string(60, 's'), {}};
  for (int k = 0; k < 3; k++) o->m[k] = k;
  std::string small("short");
  keep_alloc(small.data());
  keep_alloc(o);
}

LEAK_FN void leak_string_list() {
  auto* l = new std::vector<std::string>;
  l->reserve(4);
  for (int i = 0; i < 4; i++) l->emplace_back(40, char('a' + i));
  keep_alloc(l);
}

int main() {
  leak_owner();
  leak_string_list();
  scrub_stack();
  return 0;
}
