// A small JSON reader for the leak reports (Debian's Boost 1.74 has no Boost.JSON).
#pragma once
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace leaktest {

/// One JSON value. Numbers keep their text so 64-bit integers stay exact.
struct Json {
  enum class Type { Null, Bool, Number, String, Array, Object } type = Type::Null;
  bool boolean = false;
  std::string text;  ///< string contents, or the number as written
  std::vector<Json> items;
  std::map<std::string, Json> members;

  bool is_null() const { return type == Type::Null; }
  /// Member `key` of an object; throws std::runtime_error naming the key when missing.
  const Json& operator[](const std::string& key) const;
  bool has(const std::string& key) const { return members.count(key) != 0; }
  /// The number as an unsigned integer; throws when it is not one.
  uint64_t u64() const;
  /// The string; throws when the value is not a string.
  const std::string& str() const;
};

/// Parses a whole document; throws std::runtime_error with the offset on bad input.
Json parse_json(const std::string& doc);

}  // namespace leaktest
