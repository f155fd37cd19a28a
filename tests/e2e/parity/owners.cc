// Owning raw pointers in standard containers, dropped without delete, and a unique_ptr
// whose release() result is ignored (libstdc++, x86-64).
//   vector<string*>, 4 strings of 40 chars       direct   4 x 32 B   (operator new, make_names)
//                                                indirect 4 x 41 B   (their buffers)
//   map<int, Widget*>, 3 widgets, map cleared     direct   3 x 56 B   (operator new, register_widgets)
//                                                indirect 3 x 31 B   (30-char names)
//                                                indirect 3 x 40 B   (vector<int>(10))
//   unique_ptr<Buffer>::release()                 direct   16 B       (operator new, take_buffer)
//                                                indirect 256 B      (operator new[], Buffer::Buffer)
// Expected: direct 312 B in 8 blocks, indirect 633 B in 11 blocks.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "leakprog.h"

struct Widget {
  std::string name;
  std::vector<int> data;
};
static_assert(sizeof(Widget) == 56, "figures above assume libstdc++ on x86-64");

struct Buffer {
  explicit Buffer(size_t n) : size(n), bytes(new char[n]) {}  // @buffer_bytes
  ~Buffer() { delete[] bytes; }
  size_t size;
  char* bytes;
};

LEAK_FN size_t make_names(int n) {
  std::vector<std::string*> names;
  for (int i = 0; i < n; i++) names.push_back(new std::string(40, char('a' + i)));  // @names
  return names.size();  // the vector goes, the strings stay
}

LEAK_FN size_t register_widgets(int n) {
  std::map<int, Widget*> registry;
  for (int i = 0; i < n; i++) {
    auto* w = new Widget;     // @widgets
    w->name.assign(30, 'w');  // @widget_name
    w->data.assign(10, i);    // @widget_data
    registry[i] = w;
  }
  size_t count = registry.size();
  registry.clear();
  return count;
}

LEAK_FN void take_buffer() {
  std::unique_ptr<Buffer> b(new Buffer(256));  // @take_buffer
  b->bytes[0] = 1;
  keep_alloc(b.release());  // the result is dropped
}

int main() {
  size_t k = make_names(4) + register_widgets(3);
  take_buffer();
  scrub_stack();
  return k == 7 ? 0 : 1;
}
