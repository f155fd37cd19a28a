// Compiled by g++ running under the shim; the program it produces must print the same.
#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <string>
#include <vector>

template <class T>
T sum_of(const std::vector<T>& v) {
  return std::accumulate(v.begin(), v.end(), T{});
}

int main() {
  std::map<std::string, std::vector<long>> m;
  for (long i = 0; i < 5000; ++i) m["key" + std::to_string(i % 97)].push_back(i * i % 1009);
  long total = 0;
  for (auto& [k, v] : m) {
    std::sort(v.begin(), v.end());
    total += sum_of(v) + v.front();
  }
  std::printf("groups %zu total %ld\n", m.size(), total);
  return 0;
}
