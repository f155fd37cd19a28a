// A small JSON reader for checking the report's JSON output in tests.
#pragma once
#include <cctype>
#include <cstdlib>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace json {

struct Value {
  enum Type { Null, Bool, Number, String, Array, Object } type = Null;
  bool b = false;
  double num = 0;
  std::string str;
  std::vector<Value> arr;
  std::map<std::string, Value> obj;

  const Value& operator[](const std::string& k) const {
    static const Value missing;
    auto it = obj.find(k);
    return it == obj.end() ? missing : it->second;
  }
  const Value& operator[](size_t i) const { return arr.at(i); }
  bool has(const std::string& k) const { return obj.count(k) != 0; }
  long long as_int() const { return static_cast<long long>(num); }
};

class Parser {
 public:
  explicit Parser(const std::string& s) : s_(s) {}
  /// Parses the whole text; false on any syntax error or trailing garbage.
  bool parse(Value* out) {
    if (!value(out)) return false;
    ws();
    return i_ == s_.size();
  }

 private:
  void ws() {
    while (i_ < s_.size() && isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }
  bool lit(const char* w) {
    size_t n = std::char_traits<char>::length(w);
    if (s_.compare(i_, n, w) != 0) return false;
    i_ += n;
    return true;
  }
  bool string(std::string* out) {
    if (s_[i_] != '"') return false;
    ++i_;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c == '\\') {
        if (i_ >= s_.size()) return false;
        char e = s_[i_++];
        switch (e) {
          case '"': case '\\': case '/': out->push_back(e); break;
          case 'n': out->push_back('\n'); break;
          case 't': out->push_back('\t'); break;
          case 'r': out->push_back('\r'); break;
          case 'b': out->push_back('\b'); break;
          case 'f': out->push_back('\f'); break;
          case 'u': {
            if (i_ + 4 > s_.size()) return false;
            out->push_back(static_cast<char>(std::strtol(s_.substr(i_, 4).c_str(), nullptr, 16)));
            i_ += 4;
            break;
          }
          default: return false;
        }
      } else {
        out->push_back(c);
      }
    }
    if (i_ >= s_.size()) return false;
    ++i_;
    return true;
  }
  bool value(Value* v) {
    ws();
    if (i_ >= s_.size()) return false;
    char c = s_[i_];
    if (c == '{') {
      v->type = Value::Object;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, true;
      for (;;) {
        ws();
        std::string k;
        if (i_ >= s_.size() || !string(&k)) return false;
        ws();
        if (i_ >= s_.size() || s_[i_++] != ':') return false;
        if (!value(&v->obj[k])) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') { ++i_; continue; }
        if (s_[i_] == '}') return ++i_, true;
        return false;
      }
    }
    if (c == '[') {
      v->type = Value::Array;
      ++i_;
      ws();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, true;
      for (;;) {
        v->arr.emplace_back();
        if (!value(&v->arr.back())) return false;
        ws();
        if (i_ >= s_.size()) return false;
        if (s_[i_] == ',') { ++i_; continue; }
        if (s_[i_] == ']') return ++i_, true;
        return false;
      }
    }
    if (c == '"') {
      v->type = Value::String;
      return string(&v->str);
    }
    if (lit("null")) return v->type = Value::Null, true;
    if (lit("true")) return v->type = Value::Bool, v->b = true, true;
    if (lit("false")) return v->type = Value::Bool, v->b = false, true;
    if (c == '-' || isdigit(static_cast<unsigned char>(c))) {
      char* end = nullptr;
      v->type = Value::Number;
      v->num = std::strtod(s_.c_str() + i_, &end);
      i_ = static_cast<size_t>(end - s_.c_str());
      return true;
    }
    return false;
  }
  const std::string& s_;
  size_t i_ = 0;
};

}  // namespace json
