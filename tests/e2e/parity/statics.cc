// Static objects whose destructors free only their own storage: a global registry
// vector<Widget*> and a map<string, Plugin*> are destroyed at exit, leaving what they
// pointed at. A thread-local pointer of a thread that has exited is gone with its thread.
// What stays referenced from a static pointer (a function-local cache made with new, never
// destroyed) or from main's thread-local is reachable (libstdc++, x86-64).
//   3 Widgets                       direct   3 x 40 B  (operator new, add_widgets)
//   Plugin {string, long}           direct   40 B      (operator new, add_plugin)
//     its 30-char path              indirect 31 B      (operator new, add_plugin)
//   thread-local scratch of the     direct   300 B     (malloc, thread_scratch)
//   exited thread
// Expected: direct 460 B in 5 blocks, indirect 31 B in 1 block; reachable: the cache
// (24 + 400 B) and main's scratch (200 B).
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "leakprog.h"

struct Widget {
  char name[40];
};

struct Plugin {
  std::string path;
  long id;
};

struct Cache {
  std::vector<int> slots;
};

std::vector<Widget*> g_widgets;
std::map<std::string, Plugin*> g_plugins;
thread_local char* t_scratch;

LEAK_FN void add_widgets(int n) {
  for (int i = 0; i < n; i++) g_widgets.push_back(new Widget{});  // @widget
}

LEAK_FN void add_plugin(const std::string& name) {
  auto* p = new Plugin;      // @plugin
  p->path.assign(30, 'p');  // @plugin_path
  g_plugins[name] = p;
}

LEAK_FN Cache& cache() {
  static Cache* c = new Cache{std::vector<int>(100)};  // @cache
  return *c;
}

LEAK_FN void thread_scratch(size_t n) {
  t_scratch = static_cast<char*>(malloc(n));  // @scratch
  t_scratch[0] = 1;
}

int main() {
  add_widgets(3);
  add_plugin("an-alpha-plugin-with-a-long-name");
  cache().slots[3] = 1;
  std::thread t([] { thread_scratch(300); });
  t.join();
  thread_scratch(200);
  scrub_stack();
  return 0;
}
