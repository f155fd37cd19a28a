// README.md's table of MPSHIM_* variables is written by hand; this test keeps it equal to the
// code: the same variables, the same defaults and the same ranges, as the dump prints them.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "config/format.h"
#include "config/options.h"

using namespace mpshim::config;

namespace {

struct Row {
  std::string def, range;
  int line;
};

std::string trim(std::string s) {
  std::string out;
  for (char c : s)
    if (c != '`') out += c;  // code formatting is decoration
  size_t b = out.find_first_not_of(" \t"), e = out.find_last_not_of(" \t");
  return b == std::string::npos ? "" : out.substr(b, e - b + 1);
}

std::vector<std::string> cells(const std::string& line) {
  std::vector<std::string> out;
  std::stringstream ss(line.substr(1));  // skip the leading '|'
  std::string cell;
  while (std::getline(ss, cell, '|')) out.push_back(trim(cell));
  return out;
}

}  // namespace

TEST(ConfigReadme, TableMatchesOptions) {
  std::ifstream in(MPSHIM_README);
  ASSERT_TRUE(in) << "cannot read " << MPSHIM_README;
  std::map<std::string, Row> rows;
  std::string line;
  int number = 0, state = 0;  // 0 before the table, 1 in it, 2 after it
  while (std::getline(in, line)) {
    ++number;
    if (line.find("<!-- options:begin -->") != std::string::npos) state = 1;
    if (line.find("<!-- options:end -->") != std::string::npos) state = 2;
    if (state != 1 || line.empty() || line[0] != '|') continue;
    std::vector<std::string> c = cells(line);
    if (c.empty() || c[0] == "Variable" || c[0].find("---") == 0) continue;
    ASSERT_EQ(c.size(), 4u) << MPSHIM_README << ":" << number
                            << ": expected 4 columns (Variable | Default | Range / values | "
                               "Meaning): "
                            << line;
    EXPECT_TRUE(rows.count(c[0]) == 0) << MPSHIM_README << ":" << number << ": " << c[0]
                                       << " is listed twice";
    rows[c[0]] = Row{c[1], c[2], number};
  }
  ASSERT_EQ(state, 2) << MPSHIM_README << " lacks the <!-- options:begin --> / end markers";

  size_t count = 0;
  const OptionInfo* table = options(&count);
  for (size_t i = 0; i < count; ++i) {
    std::string name = std::string("MPSHIM_") + table[i].name;
    auto it = rows.find(name);
    if (it == rows.end()) {
      ADD_FAILURE() << name << " is in options() but missing from the README table";
      continue;
    }
    char def[256], range[256];
    format_value(defaults(), i, def, sizeof def);
    format_range(i, range, sizeof range);
    EXPECT_EQ(it->second.def, def) << MPSHIM_README << ":" << it->second.line << ": default of "
                                   << name << " is '" << it->second.def
                                   << "' in the README but '" << def << "' in the code";
    // A string's values are described in words; every other type has an exact range.
    if (table[i].type != Type::String) {
      EXPECT_EQ(it->second.range, range)
          << MPSHIM_README << ":" << it->second.line << ": range of " << name << " is '"
          << it->second.range << "' in the README but '" << range << "' in the code";
    }
    rows.erase(it);
  }
  for (const auto& [name, row] : rows)
    ADD_FAILURE() << MPSHIM_README << ":" << row.line << ": " << name
                  << " is in the README table but not in options()";
}
