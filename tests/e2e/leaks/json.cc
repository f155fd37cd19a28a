#include "json.h"

#include <cstdlib>
#include <stdexcept>

namespace leaktest {

const Json& Json::operator[](const std::string& key) const {
  auto it = members.find(key);
  if (type != Type::Object || it == members.end())
    throw std::runtime_error("JSON: no member \"" + key + "\"");
  return it->second;
}

uint64_t Json::u64() const {
  if (type != Type::Number || text.empty() || text[0] == '-' ||
      text.find_first_of(".eE") != std::string::npos)
    throw std::runtime_error("JSON: not an unsigned integer: " + text);
  return std::strtoull(text.c_str(), nullptr, 10);
}

const std::string& Json::str() const {
  if (type != Type::String) throw std::runtime_error("JSON: not a string");
  return text;
}

namespace {

struct Parser {
  const std::string& s;
  size_t i = 0;

  [[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("JSON: ") + what + " at offset " + std::to_string(i));
  }
  void ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\n' || s[i] == '\r' || s[i] == '\t')) i++;
  }
  bool take(char c) {
    ws();
    if (i < s.size() && s[i] == c) return i++, true;
    return false;
  }
  void expect(char c) {
    if (!take(c)) fail("unexpected character");
  }
  void word(const char* w) {
    for (; *w; w++, i++)
      if (i >= s.size() || s[i] != *w) fail("bad literal");
  }
  static void put_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += char(cp);
    } else if (cp < 0x800) {
      out += char(0xC0 | (cp >> 6));
      out += char(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += char(0xE0 | (cp >> 12));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    } else {
      out += char(0xF0 | (cp >> 18));
      out += char(0x80 | ((cp >> 12) & 0x3F));
      out += char(0x80 | ((cp >> 6) & 0x3F));
      out += char(0x80 | (cp & 0x3F));
    }
  }
  unsigned hex4() {
    if (i + 4 > s.size()) fail("short \\u escape");
    unsigned v = std::stoul(s.substr(i, 4), nullptr, 16);
    i += 4;
    return v;
  }
  std::string string() {
    std::string out;
    expect('"');
    while (true) {
      if (i >= s.size()) fail("unterminated string");
      char c = s[i++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i >= s.size()) fail("unterminated escape");
      switch (char e = s[i++]) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xD800 && cp < 0xDC00 && s.compare(i, 2, "\\u") == 0) {
            i += 2;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4() - 0xDC00);
          }
          put_utf8(out, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }
  Json value() {
    Json v;
    ws();
    if (i >= s.size()) fail("unexpected end");
    char c = s[i];
    if (c == '{') {
      v.type = Json::Type::Object;
      i++;
      if (take('}')) return v;
      do {
        ws();
        std::string key = string();
        expect(':');
        if (!v.members.emplace(key, value()).second) fail("duplicate key");
      } while (take(','));
      expect('}');
    } else if (c == '[') {
      v.type = Json::Type::Array;
      i++;
      if (take(']')) return v;
      do v.items.push_back(value());
      while (take(','));
      expect(']');
    } else if (c == '"') {
      v.type = Json::Type::String;
      v.text = string();
    } else if (c == 't' || c == 'f') {
      v.type = Json::Type::Bool;
      v.boolean = c == 't';
      word(v.boolean ? "true" : "false");
    } else if (c == 'n') {
      word("null");
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      v.type = Json::Type::Number;
      size_t start = i++;
      while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.' ||
                              s[i] == 'e' || s[i] == 'E' || s[i] == '+' || s[i] == '-'))
        i++;
      v.text = s.substr(start, i - start);
    } else {
      fail("unexpected character");
    }
    return v;
  }
};

}  // namespace

Json parse_json(const std::string& doc) {
  Parser p{doc};
  Json v = p.value();
  p.ws();
  if (p.i != doc.size()) p.fail("trailing characters");
  return v;
}

}  // namespace leaktest
