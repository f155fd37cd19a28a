// Input for the g++ workload: template-heavy code that makes the compiler allocate a lot
// (parsing the standard headers, instantiating containers and algorithms, optimising).
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <numeric>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <variant>
#include <vector>

namespace input {

template <typename K, typename V>
struct Table {
  std::map<K, std::vector<V>> rows;
  void add(const K& k, V v) { rows[k].push_back(std::move(v)); }
  template <typename F>
  auto fold(F f) const {
    std::invoke_result_t<F, V> acc{};
    for (const auto& [k, vs] : rows)
      for (const auto& v : vs) acc = acc + f(v);
    return acc;
  }
};

using Value = std::variant<int, double, std::string, std::vector<int>>;

std::string describe(const Value& v) {
  return std::visit(
      [](const auto& x) -> std::string {
        using T = std::decay_t<decltype(x)>;
        if constexpr (std::is_same_v<T, std::string>) return x;
        else if constexpr (std::is_same_v<T, std::vector<int>>) return std::to_string(x.size());
        else return std::to_string(x);
      },
      v);
}

template <int N>
struct Unroll {
  static long run(long x) { return Unroll<N - 1>::run(x * 31 + N) ^ (x >> 3); }
};
template <>
struct Unroll<0> {
  static long run(long x) { return x; }
};

}  // namespace input

int main(int argc, char** argv) {
  input::Table<std::string, input::Value> t;
  for (int i = 1; i < argc; ++i) {
    std::string s(argv[i]);
    if (std::all_of(s.begin(), s.end(), [](char c) { return c >= 'a' && c <= 'z'; })) t.add(s, s);
    t.add("n", i);
    t.add("d", i * 0.5);
    t.add("v", std::vector<int>(i, i));
  }
  std::unordered_map<std::string, std::set<std::string>> seen;
  for (const auto& [k, vs] : t.rows)
    for (const auto& v : vs) seen[k].insert(input::describe(v));
  std::ostringstream out;
  for (const auto& [k, s] : seen) out << k << '=' << s.size() << ';';
  std::vector<std::tuple<int, std::string, double>> rows;
  for (int i = 0; i < 100; ++i) rows.emplace_back(i % 7, std::to_string(i), i / 3.0);
  std::sort(rows.begin(), rows.end());
  auto total = std::accumulate(rows.begin(), rows.end(), 0.0,
                               [](double a, const auto& r) { return a + std::get<2>(r); });
  auto sizes = t.fold([](const input::Value& v) { return input::describe(v).size(); });
  auto shared = std::make_shared<std::string>(out.str());
  return (int)((input::Unroll<200>::run((long)total) + (long)sizes + (long)shared->size()) & 1);
}
