// Library opened and closed by `stress dlopen`: allocates in its constructor and destructor,
// hands blocks to the program and frees the program's blocks.
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

namespace {

// A global with a constructor and destructor that allocate and free.
std::vector<std::string> g_names = [] {
  std::vector<std::string> v;
  for (int i = 0; i < 200; ++i) v.push_back("library-global-string-number-" + std::to_string(i));
  return v;
}();

char* g_table = nullptr;

__attribute__((constructor)) void on_load() {
  g_table = static_cast<char*>(malloc(64 << 10));
  memset(g_table, 't', 64 << 10);
}

__attribute__((destructor)) void on_unload() {
  for (int i = 0; i < (64 << 10); ++i)
    if (g_table[i] != 't') abort();
  free(g_table);
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) char* e2e_dl_make(size_t n) {
  char* p = static_cast<char*>(malloc(n));
  memset(p, 'd', n - 1);
  p[n - 1] = 0;
  return p;
}

__attribute__((visibility("default"))) int e2e_dl_take(char* p, size_t n) {
  for (size_t i = 0; i < n; ++i)
    if (p[i] != 'm') return 0;
  free(p);
  return 1;
}

// Allocation-heavy work, also on a thread that has a thread_local with a destructor.
__attribute__((visibility("default"))) long e2e_dl_work(int round) {
  thread_local std::string tls(300, 'x');
  long result = 0;
  std::thread t([&] {
    thread_local std::vector<int> per_thread(1000, 1);
    std::map<int, std::string> m;
    for (int i = 0; i < round % 7 + 100; ++i) m[i] = std::string(i, 'a');
    result = static_cast<long>(m.size()) + per_thread[0] * 0;
  });
  t.join();
  return result * 3 + static_cast<long>(tls.size() - 300) + static_cast<long>(g_names.size() - 200);
}

}
