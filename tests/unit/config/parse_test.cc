// parse(), parse_size() and parse_bool() with injected environments; warnings are captured
// through the `warn` callback and compared word for word.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "config/format.h"
#include "config/options.h"

using mpshim::config::Config;
using mpshim::config::defaults;
using mpshim::config::parse;
using mpshim::config::parse_bool;
using mpshim::config::parse_size;

namespace {

std::vector<std::string> g_warnings;

void capture(const char* line) { g_warnings.emplace_back(line); }

// Parses `env` (no terminating null needed) and returns the configuration; the warnings are
// left in g_warnings.
Config run(std::vector<const char*> env) {
  env.push_back(nullptr);
  g_warnings.clear();
  Config c;
  std::memset(&c, 0xa5, sizeof c);  // every field must be written
  parse(env.data(), &c, capture);
  return c;
}

// Parses one assignment and expects exactly the given warning (or none when empty).
Config run_one(const char* assignment, const std::string& warning) {
  Config c = run({assignment});
  if (warning.empty()) {
    EXPECT_TRUE(g_warnings.empty()) << assignment << " warned: " << g_warnings[0];
  } else {
    EXPECT_EQ(g_warnings.size(), 1u) << assignment;
    if (!g_warnings.empty()) {
      EXPECT_EQ(g_warnings[0], warning);
    }
  }
  return c;
}

void expect_defaults(const Config& c) {
  size_t count = 0;
  mpshim::config::options(&count);
  for (size_t i = 0; i < count; ++i) {
    EXPECT_EQ(mpshim::config::get_number(c, i), mpshim::config::get_number(defaults(), i)) << i;
    EXPECT_STREQ(mpshim::config::get_string(c, i), mpshim::config::get_string(defaults(), i))
        << i;
  }
}

}  // namespace

TEST(ConfigParse, DefaultsWhenAbsent) {
  Config c = run({"PATH=/usr/bin", "HOME=/root", "MPSHIMX=1", "mpshim_leaks=0", "XMPSHIM_HOST=0"});
  EXPECT_TRUE(g_warnings.empty());
  expect_defaults(c);
  EXPECT_TRUE(c.host);
  EXPECT_FALSE(c.verbose);
  EXPECT_FALSE(c.stats);
  EXPECT_EQ(c.purge_delay_ms, 500u);
  EXPECT_EQ(c.large_cache, 64ull << 20);
  EXPECT_EQ(c.thread_cache, 1ull << 20);
  EXPECT_TRUE(c.leaks);
  EXPECT_EQ(c.stack_depth, 16u);
  EXPECT_STREQ(c.report, "stderr");
  EXPECT_EQ(c.report_format, 0u);
  EXPECT_EQ(c.report_max, 0u);
  EXPECT_EQ(c.leak_exitcode, 0u);
  EXPECT_STREQ(c.suppressions, "");
  EXPECT_STREQ(c.folded, "");
}

TEST(ConfigParse, NullEnvironmentGivesDefaults) {
  Config c;
  g_warnings.clear();
  parse(nullptr, &c, capture);
  EXPECT_TRUE(g_warnings.empty());
  expect_defaults(c);
}

TEST(ConfigParse, EmptyValueMeansDefault) {
  Config c = run({"MPSHIM_HOST=", "MPSHIM_STACK_DEPTH=", "MPSHIM_LARGE_CACHE=", "MPSHIM_REPORT=",
                  "MPSHIM_REPORT_FORMAT="});
  EXPECT_TRUE(g_warnings.empty());
  expect_defaults(c);
}

TEST(ConfigParse, BoolWords) {
  for (const char* on : {"1", "on", "ON", "yes", "Yes", "true", "TRUE", "enable", "Enable"}) {
    bool b = false;
    EXPECT_TRUE(parse_bool(on, &b)) << on;
    EXPECT_TRUE(b) << on;
  }
  for (const char* off : {"0", "off", "Off", "no", "NO", "false", "False", "disable", "DISABLE"}) {
    bool b = true;
    EXPECT_TRUE(parse_bool(off, &b)) << off;
    EXPECT_FALSE(b) << off;
  }
  for (const char* bad : {"", "2", "onn", "o", "y", "t", "yes ", " on", "enabled", "00", "-1"}) {
    bool b = false;
    EXPECT_FALSE(parse_bool(bad, &b)) << bad;
  }
}

TEST(ConfigParse, BoolOption) {
  EXPECT_TRUE(run_one("MPSHIM_STATS=yes", "").stats);
  EXPECT_FALSE(run_one("MPSHIM_HOST=Off", "").host);
  Config c = run_one("MPSHIM_STATS=maybe",
                     "mpshim: MPSHIM_STATS=maybe is not on/off (or 1/0, yes/no, true/false, "
                     "enable/disable); using off");
  EXPECT_FALSE(c.stats);
  c = run_one("MPSHIM_LEAKS=2",
              "mpshim: MPSHIM_LEAKS=2 is not on/off (or 1/0, yes/no, true/false, "
              "enable/disable); using on");
  EXPECT_TRUE(c.leaks);
}

TEST(ConfigParse, UintBoundaries) {
  EXPECT_EQ(run_one("MPSHIM_STACK_DEPTH=0", "").stack_depth, 0u);
  EXPECT_EQ(run_one("MPSHIM_STACK_DEPTH=64", "").stack_depth, 64u);
  EXPECT_EQ(run_one("MPSHIM_STACK_DEPTH=007", "").stack_depth, 7u);
  EXPECT_EQ(run_one("MPSHIM_LEAK_EXITCODE=255", "").leak_exitcode, 255u);
  EXPECT_EQ(run_one("MPSHIM_REPORT_MAX=1073741824", "").report_max, 1ull << 30);
  EXPECT_EQ(run_one("MPSHIM_STACK_DEPTH=65",
                    "mpshim: MPSHIM_STACK_DEPTH=65 is out of range 0..64; using 16")
                .stack_depth,
            16u);
  EXPECT_EQ(run_one("MPSHIM_LEAK_EXITCODE=256",
                    "mpshim: MPSHIM_LEAK_EXITCODE=256 is out of range 0..255; using 0")
                .leak_exitcode,
            0u);
  EXPECT_EQ(run_one("MPSHIM_PURGE_DELAY=60001",
                    "mpshim: MPSHIM_PURGE_DELAY=60001 is out of range 0..60000; using 500")
                .purge_delay_ms,
            500u);
}

TEST(ConfigParse, UintOverflowIsOutOfRange) {
  run_one("MPSHIM_REPORT_MAX=18446744073709551615",
          "mpshim: MPSHIM_REPORT_MAX=18446744073709551615 is out of range 0..1073741824; using 0");
  run_one("MPSHIM_REPORT_MAX=18446744073709551616",
          "mpshim: MPSHIM_REPORT_MAX=18446744073709551616 is out of range 0..1073741824; using 0");
  run_one("MPSHIM_STACK_DEPTH=99999999999999999999999999",
          "mpshim: MPSHIM_STACK_DEPTH=99999999999999999999999999 is out of range 0..64; using 16");
}

TEST(ConfigParse, UintMalformed) {
  for (const char* v : {"abc", "-1", "+3", " 3", "3 ", "1e3", "0x10", "3.0", "16K"}) {
    std::string entry = std::string("MPSHIM_STACK_DEPTH=") + v;
    Config c = run_one(entry.c_str(), "mpshim: MPSHIM_STACK_DEPTH=" + std::string(v) +
                                          " is not a number in 0..64; using 16");
    EXPECT_EQ(c.stack_depth, 16u) << v;
  }
}

TEST(ConfigParse, SizeSuffixes) {
  struct Case {
    const char* text;
    uint64_t value;
  };
  const Case cases[] = {
      {"0", 0},          {"1", 1},           {"4096", 4096},     {"5B", 5},
      {"5 B", 5},        {"5b", 5},          {"1K", 1024},       {"1k", 1024},
      {"1KB", 1024},     {"1kb", 1024},      {"1KiB", 1024},     {"1kib", 1024},
      {"1 K", 1024},     {"1 KiB", 1024},    {"3M", 3 << 20},    {"3MB", 3 << 20},
      {"3 MiB", 3 << 20}, {"3m", 3 << 20},   {"2G", 2ull << 30}, {"2GB", 2ull << 30},
      {"2 GiB", 2ull << 30}, {"1T", 1ull << 40}, {"1TB", 1ull << 40}, {"1 TiB", 1ull << 40},
      {"256MiB", 256ull << 20}, {"18446744073709551615", UINT64_MAX},
      {"18014398509481983K", (18014398509481983ull << 10)}, {"16777215T", 16777215ull << 40},
  };
  for (const Case& c : cases) {
    uint64_t v = 12345;
    EXPECT_TRUE(parse_size(c.text, &v)) << c.text;
    EXPECT_EQ(v, c.value) << c.text;
  }
}

TEST(ConfigParse, SizeMalformedAndOverflow) {
  for (const char* bad : {"", "K", "MiB", " 1K", "1K ", "1  K", "1 ", "1.5M", "1KiBx", "1Ki",
                          "1KK", "1P", "1PiB", "-1", "+1", "0x10", "1iB", "1 iB", "1BB",
                          "18446744073709551616", "18014398509481984K", "16777216T",
                          "99999999999999999999999"}) {
    uint64_t v = 777;
    EXPECT_FALSE(parse_size(bad, &v)) << bad;
    EXPECT_EQ(v, 777u) << bad;
  }
}

TEST(ConfigParse, SizeOption) {
  EXPECT_EQ(run_one("MPSHIM_THREAD_CACHE=16K", "").thread_cache, 16u << 10);
  EXPECT_EQ(run_one("MPSHIM_THREAD_CACHE=64 MiB", "").thread_cache, 64u << 20);
  EXPECT_EQ(run_one("MPSHIM_LARGE_CACHE=0", "").large_cache, 0u);
  EXPECT_EQ(run_one("MPSHIM_LARGE_CACHE=1TiB", "").large_cache, 1ull << 40);
  run_one("MPSHIM_THREAD_CACHE=16383",
          "mpshim: MPSHIM_THREAD_CACHE=16383 is out of range 16 KiB..64 MiB; using 1 MiB");
  run_one("MPSHIM_THREAD_CACHE=65M",
          "mpshim: MPSHIM_THREAD_CACHE=65M is out of range 16 KiB..64 MiB; using 1 MiB");
  run_one("MPSHIM_LARGE_CACHE=1025G",
          "mpshim: MPSHIM_LARGE_CACHE=1025G is out of range 0..1 TiB; using 64 MiB");
  run_one("MPSHIM_LARGE_CACHE=99999999999T",
          "mpshim: MPSHIM_LARGE_CACHE=99999999999T is out of range 0..1 TiB; using 64 MiB");
  Config c = run_one("MPSHIM_THREAD_CACHE=lots",
                     "mpshim: MPSHIM_THREAD_CACHE=lots is not a size in 16 KiB..64 MiB; "
                     "using 1 MiB");
  EXPECT_EQ(c.thread_cache, 1u << 20);
}

TEST(ConfigParse, EnumWords) {
  EXPECT_EQ(run_one("MPSHIM_REPORT_FORMAT=json", "").report_format, 1u);
  EXPECT_EQ(run_one("MPSHIM_REPORT_FORMAT=JSON", "").report_format, 1u);
  EXPECT_EQ(run_one("MPSHIM_REPORT_FORMAT=Text", "").report_format, 0u);
  for (const char* bad : {"xml", "jso", "jsonx", "text|json", "|", " json"}) {
    std::string entry = std::string("MPSHIM_REPORT_FORMAT=") + bad;
    Config c = run_one(entry.c_str(), "mpshim: MPSHIM_REPORT_FORMAT=" + std::string(bad) +
                                          " is not one of text, json; using text");
    EXPECT_EQ(c.report_format, 0u);
  }
}

TEST(ConfigParse, StringsPointIntoTheEnvironment) {
  const char* entry = "MPSHIM_REPORT=/tmp/leaks.%p.txt";
  Config c = run({entry, "MPSHIM_SUPPRESSIONS=supp.txt"});
  EXPECT_TRUE(g_warnings.empty());
  EXPECT_EQ(c.report, entry + std::strlen("MPSHIM_REPORT="));
  EXPECT_STREQ(c.suppressions, "supp.txt");
  EXPECT_STREQ(c.folded, "");
}

TEST(ConfigParse, UnknownNamesAndSuggestions) {
  const std::pair<const char*, const char*> cases[] = {
      {"MPSHIM_LEAK=1", "mpshim: unknown variable MPSHIM_LEAK=1 (did you mean MPSHIM_LEAKS?)"},
      {"MPSHIM_leaks=0", "mpshim: unknown variable MPSHIM_leaks=0 (did you mean MPSHIM_LEAKS?)"},
      {"MPSHIM_STAKC_DEPTH=3",
       "mpshim: unknown variable MPSHIM_STAKC_DEPTH=3 (did you mean MPSHIM_STACK_DEPTH?)"},
      {"MPSHIM_REPORT_FMT=json",
       "mpshim: unknown variable MPSHIM_REPORT_FMT=json (did you mean MPSHIM_REPORT_FORMAT?)"},
      {"MPSHIM_STAT=1", "mpshim: unknown variable MPSHIM_STAT=1 (did you mean MPSHIM_STATS?)"},
      {"MPSHIM_VERBSE=1",
       "mpshim: unknown variable MPSHIM_VERBSE=1 (did you mean MPSHIM_VERBOSE?)"},
      {"MPSHIM_FOO=1", "mpshim: unknown variable MPSHIM_FOO=1"},
      {"MPSHIM_DEPTH=3", "mpshim: unknown variable MPSHIM_DEPTH=3"},
      {"MPSHIM_=x", "mpshim: unknown variable MPSHIM_=x"},
      {"MPSHIM_COMPLETELY_DIFFERENT_AND_VERY_LONG_NAME_INDEED=",
       "mpshim: unknown variable MPSHIM_COMPLETELY_DIFFERENT_AND_VERY_LONG_NAME_INDEED="},
  };
  for (const auto& [entry, warning] : cases) {
    Config c = run_one(entry, warning);
    expect_defaults(c);
  }
  // Without '=' an entry is not a variable at all.
  run_one("MPSHIM_LEAKZ", "");
}

TEST(ConfigParse, OneWarningPerBadEntryInOrder) {
  Config c = run({"MPSHIM_STACK_DEPTH=x", "MPSHIM_HOST=0", "MPSHIM_NOPE=1", "MPSHIM_STATS=2",
                  "MPSHIM_LARGE_CACHE=64M"});
  ASSERT_EQ(g_warnings.size(), 3u);
  EXPECT_EQ(g_warnings[0], "mpshim: MPSHIM_STACK_DEPTH=x is not a number in 0..64; using 16");
  EXPECT_EQ(g_warnings[1], "mpshim: unknown variable MPSHIM_NOPE=1");
  EXPECT_EQ(g_warnings[2].rfind("mpshim: MPSHIM_STATS=2 is not on/off", 0), 0u);
  EXPECT_FALSE(c.host);
  EXPECT_EQ(c.large_cache, 64u << 20);
  EXPECT_EQ(c.stack_depth, 16u);
}

TEST(ConfigParse, FirstOccurrenceWins) {
  Config c = run({"MPSHIM_STACK_DEPTH=8", "MPSHIM_STACK_DEPTH=bad", "MPSHIM_STACK_DEPTH=9"});
  EXPECT_TRUE(g_warnings.empty());
  EXPECT_EQ(c.stack_depth, 8u);
  c = run({"MPSHIM_STACK_DEPTH=bad", "MPSHIM_STACK_DEPTH=9"});
  EXPECT_EQ(g_warnings.size(), 1u);
  EXPECT_EQ(c.stack_depth, 16u);
}

TEST(ConfigParse, WarningIsAlwaysOneShortLine) {
  std::string long_value(300, 'z');
  std::string entry = "MPSHIM_STACK_DEPTH=" + long_value;
  Config c = run({entry.c_str(), "MPSHIM_HOST=o\nn", "MPSHIM_LE\tAKS=1"});
  ASSERT_EQ(g_warnings.size(), 3u);
  EXPECT_EQ(g_warnings[0], "mpshim: MPSHIM_STACK_DEPTH=" + std::string(64, 'z') +
                               "... is not a number in 0..64; using 16");
  EXPECT_EQ(g_warnings[1],
            "mpshim: MPSHIM_HOST=o?n is not on/off (or 1/0, yes/no, true/false, "
            "enable/disable); using on");
  EXPECT_EQ(g_warnings[2].rfind("mpshim: unknown variable MPSHIM_LE?AKS=1", 0), 0u);
  for (const std::string& w : g_warnings) EXPECT_EQ(w.find('\n'), std::string::npos) << w;
  EXPECT_EQ(c.stack_depth, 16u);
}

// Secure-execution mode (setuid/setgid programs): options that name a file or change the
// exit status keep their defaults; the others still apply.
TEST(ConfigParse, SecureModeIgnoresFilesAndExitStatus) {
  std::vector<const char*> env = {"MPSHIM_REPORT=/tmp/r.%p", "MPSHIM_FOLDED=/tmp/f",
                                  "MPSHIM_SUPPRESSIONS=/etc/shadow", "MPSHIM_LEAK_EXITCODE=23",
                                  "MPSHIM_STATS=1", "MPSHIM_STACK_DEPTH=8", nullptr};
  g_warnings.clear();
  Config c;
  parse(env.data(), &c, capture, true);
  EXPECT_STREQ(c.report, "stderr");
  EXPECT_STREQ(c.folded, "");
  EXPECT_STREQ(c.suppressions, "");
  EXPECT_EQ(c.leak_exitcode, 0u);
  EXPECT_TRUE(c.stats);
  EXPECT_EQ(c.stack_depth, 8u);
  EXPECT_TRUE(g_warnings.empty()) << g_warnings[0];  // said only when verbose

  parse(env.data(), &c, capture, false);
  EXPECT_STREQ(c.report, "/tmp/r.%p");
  EXPECT_STREQ(c.folded, "/tmp/f");
  EXPECT_STREQ(c.suppressions, "/etc/shadow");
  EXPECT_EQ(c.leak_exitcode, 23u);
}

TEST(ConfigParse, SecureModeSaysOnceWhenVerbose) {
  std::vector<const char*> env = {"MPSHIM_LEAK_EXITCODE=23", "MPSHIM_REPORT=/tmp/r",
                                  "MPSHIM_REPORT_MAX=5", "MPSHIM_VERBOSE=1", nullptr};
  g_warnings.clear();
  Config c;
  parse(env.data(), &c, capture, true);
  ASSERT_EQ(g_warnings.size(), 1u);
  EXPECT_EQ(g_warnings[0],
            "mpshim: secure-execution mode (setuid/setgid program): ignoring MPSHIM_REPORT "
            "MPSHIM_LEAK_EXITCODE");
  EXPECT_EQ(c.report_max, 5u);
  // Nothing to say when none of them is set, or only with an empty value.
  std::vector<const char*> quiet = {"MPSHIM_VERBOSE=1", "MPSHIM_REPORT=", nullptr};
  g_warnings.clear();
  parse(quiet.data(), &c, capture, true);
  EXPECT_TRUE(g_warnings.empty()) << g_warnings[0];
}

TEST(ConfigParse, SecureModeOptionList) {
  size_t count = 0;
  const mpshim::config::OptionInfo* o = mpshim::config::options(&count);
  std::string ignored;
  for (size_t i = 0; i < count; ++i)
    if (mpshim::config::ignored_when_secure(o[i])) ignored += std::string(o[i].name) + " ";
  EXPECT_EQ(ignored, "REPORT LEAK_EXITCODE SUPPRESSIONS FOLDED PROFILE ");
}
