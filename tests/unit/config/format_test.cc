// Text forms of values and the verbose dump.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "config/format.h"
#include "config/options.h"

using namespace mpshim::config;

namespace {

std::string size_text(uint64_t v) {
  char buf[64];
  size_t n = format_size(v, buf, sizeof buf);
  EXPECT_EQ(n, std::string(buf).size());
  return buf;
}

size_t index_of(const char* name) {
  size_t count = 0;
  const OptionInfo* t = options(&count);
  for (size_t i = 0; i < count; ++i)
    if (std::string(t[i].name) == name) return i;
  ADD_FAILURE() << "no option " << name;
  return 0;
}

std::string value_text(const Config& c, const char* name) {
  char buf[256];
  format_value(c, index_of(name), buf, sizeof buf);
  return buf;
}

std::string range_text(const char* name) {
  char buf[256];
  format_range(index_of(name), buf, sizeof buf);
  return buf;
}

// Runs dump_to() into a temporary file and returns its lines.
std::vector<std::string> dump_lines(const Config& c) {
  FILE* f = std::tmpfile();
  EXPECT_NE(f, nullptr);
  dump_to(c, fileno(f));
  std::rewind(f);
  std::vector<std::string> lines;
  char buf[1024];
  while (std::fgets(buf, sizeof buf, f) != nullptr) {
    std::string s(buf);
    EXPECT_EQ(s.back(), '\n');
    s.pop_back();
    lines.push_back(s);
  }
  std::fclose(f);
  return lines;
}

}  // namespace

TEST(ConfigFormat, SizeInLargestExactUnit) {
  EXPECT_EQ(size_text(0), "0");
  EXPECT_EQ(size_text(1), "1 B");
  EXPECT_EQ(size_text(1000), "1000 B");
  EXPECT_EQ(size_text(1024), "1 KiB");
  EXPECT_EQ(size_text(1536), "1536 B");
  EXPECT_EQ(size_text(3 << 19), "1536 KiB");
  EXPECT_EQ(size_text(256ull << 20), "256 MiB");
  EXPECT_EQ(size_text(5ull << 30), "5 GiB");
  EXPECT_EQ(size_text(1ull << 40), "1 TiB");
  EXPECT_EQ(size_text(1ull << 50), "1024 TiB");
  EXPECT_EQ(size_text(UINT64_MAX), "18446744073709551615 B");
}

TEST(ConfigFormat, SizeTruncatesToBuffer) {
  char buf[4];
  EXPECT_EQ(format_size(256ull << 20, buf, sizeof buf), 3u);
  EXPECT_STREQ(buf, "256");
}

TEST(ConfigFormat, SizeRoundTrips) {
  const uint64_t values[] = {0, 1, 7, 1023, 1024, 1025, 4096, 1 << 20, (1 << 20) + 1, 3ull << 30,
                             (1ull << 40) - 1, 1ull << 40, 7ull << 40, 1ull << 63, UINT64_MAX};
  for (uint64_t v : values) {
    uint64_t back = 0;
    std::string text = size_text(v);
    EXPECT_TRUE(parse_size(text.c_str(), &back)) << text;
    EXPECT_EQ(back, v) << text;
  }
}

TEST(ConfigFormat, ValuesAndRanges) {
  Config c = defaults();
  EXPECT_EQ(value_text(c, "HOST"), "on");
  EXPECT_EQ(value_text(c, "STATS"), "off");
  EXPECT_EQ(value_text(c, "PURGE_DELAY"), "500");
  EXPECT_EQ(value_text(c, "LARGE_CACHE"), "64 MiB");
  EXPECT_EQ(value_text(c, "REPORT"), "stderr");
  EXPECT_EQ(value_text(c, "REPORT_FORMAT"), "text");
  EXPECT_EQ(value_text(c, "SUPPRESSIONS"), "(none)");
  c.report_format = 1;
  c.folded = "/tmp/f.%p";
  c.thread_cache = 48 << 10;
  EXPECT_EQ(value_text(c, "REPORT_FORMAT"), "json");
  EXPECT_EQ(value_text(c, "FOLDED"), "/tmp/f.%p");
  EXPECT_EQ(value_text(c, "THREAD_CACHE"), "48 KiB");
  EXPECT_EQ(range_text("HOST"), "on/off");
  EXPECT_EQ(range_text("STACK_DEPTH"), "0..64");
  EXPECT_EQ(range_text("THREAD_CACHE"), "16 KiB..64 MiB");
  EXPECT_EQ(range_text("REPORT_FORMAT"), "text, json");
  EXPECT_EQ(range_text("REPORT"), "");
}

TEST(ConfigFormat, SettersAndGettersFollowTheTable) {
  size_t count = 0;
  const OptionInfo* t = options(&count);
  for (size_t i = 0; i < count; ++i) {
    Config c = defaults();
    if (t[i].type == Type::String) {
      set_string(&c, i, "x");
      EXPECT_STREQ(get_string(c, i), "x") << t[i].name;
    } else {
      set_number(&c, i, t[i].hi);
      EXPECT_EQ(get_number(c, i), t[i].hi) << t[i].name;
    }
    // No other field moved.
    for (size_t j = 0; j < count; ++j) {
      if (j == i) continue;
      EXPECT_EQ(get_number(c, j), get_number(defaults(), j)) << t[i].name << " vs " << t[j].name;
      EXPECT_STREQ(get_string(c, j), get_string(defaults(), j)) << t[i].name;
    }
  }
}

TEST(ConfigFormat, TableIsConsistent) {
  size_t count = 0;
  const OptionInfo* t = options(&count);
  ASSERT_GT(count, 0u);
  for (size_t i = 0; i < count; ++i) {
    EXPECT_LE(t[i].lo, t[i].hi) << t[i].name;
    if (t[i].type != Type::String) {
      EXPECT_GE(t[i].def, t[i].lo) << t[i].name;
      EXPECT_LE(t[i].def, t[i].hi) << t[i].name;
    }
    if (t[i].type == Type::Enum) {
      size_t words = 1;
      for (const char* s = t[i].choices; *s != '\0'; ++s) words += *s == '|';
      EXPECT_EQ(t[i].hi + 1, words) << t[i].name << ": hi must be the last word's index";
    }
    EXPECT_GT(std::string(t[i].help).size(), 0u) << t[i].name;
    for (size_t j = 0; j < i; ++j) EXPECT_NE(std::string(t[i].name), t[j].name);
  }
}

TEST(ConfigFormat, DumpIsAlignedAndComplete) {
  Config c = defaults();
  c.stats = true;
  c.large_cache = 1ull << 30;
  c.report_format = 1;
  c.report = "/tmp/report.txt";
  std::vector<std::string> lines = dump_lines(c);
  size_t count = 0;
  const OptionInfo* t = options(&count);
  ASSERT_EQ(lines.size(), count + 1);
  EXPECT_EQ(lines[0], "mpshim: configuration:");
  size_t eq_col = lines[1].find(" = ");
  ASSERT_NE(eq_col, std::string::npos);
  for (size_t i = 0; i < count; ++i) {
    const std::string& line = lines[i + 1];
    std::string name = "  MPSHIM_" + std::string(t[i].name);
    EXPECT_EQ(line.rfind(name, 0), 0u) << line;
    EXPECT_EQ(line.find(" = "), eq_col) << "misaligned: " << line;
    EXPECT_EQ(line.find_first_not_of(' ', name.size()), eq_col + 1) << line;
    EXPECT_EQ(line.substr(eq_col + 3), value_text(c, t[i].name)) << line;
  }
  // The longest name is followed directly by " = ".
  EXPECT_NE(std::find_if(lines.begin() + 1, lines.end(),
                         [&](const std::string& l) { return l[eq_col - 1] != ' '; }),
            lines.end());
  auto has = [&](const std::string& name, const std::string& value) {
    std::string want = "  " + name + std::string(eq_col - 2 - name.size(), ' ') + " = " + value;
    return std::find(lines.begin(), lines.end(), want) != lines.end();
  };
  EXPECT_TRUE(has("MPSHIM_STATS", "on"));
  EXPECT_TRUE(has("MPSHIM_HOST", "on"));
  EXPECT_TRUE(has("MPSHIM_VERBOSE", "off"));
  EXPECT_TRUE(has("MPSHIM_LARGE_CACHE", "1 GiB"));
  EXPECT_TRUE(has("MPSHIM_THREAD_CACHE", "1 MiB"));
  EXPECT_TRUE(has("MPSHIM_REPORT_FORMAT", "json"));
  EXPECT_TRUE(has("MPSHIM_REPORT", "/tmp/report.txt"));
  EXPECT_TRUE(has("MPSHIM_FOLDED", "(none)"));
}

TEST(ConfigFormat, DumpWritesLongStringsWhole) {
  Config c = defaults();
  std::string path = "/tmp/" + std::string(600, 'p');
  c.folded = path.c_str();
  std::vector<std::string> lines = dump_lines(c);
  bool found = false;
  for (const std::string& l : lines) found |= l.size() > path.size() && l.substr(l.size() - path.size()) == path;
  EXPECT_TRUE(found);
}
