// Suppression patterns in LeakSanitizer's syntax.
#include "report/suppress.h"

#include <gtest/gtest.h>
#include <string>
#include <unistd.h>

#include "common.h"

using mpshim::report::pattern_match;
using mpshim::report::SymInfo;
using mpshim::report::Suppressions;

TEST(Pattern, Substring) {
  EXPECT_TRUE(pattern_match("node", "make_node(int)"));
  EXPECT_TRUE(pattern_match("make_node(int)", "make_node(int)"));
  EXPECT_FALSE(pattern_match("nodes", "make_node(int)"));
  EXPECT_FALSE(pattern_match("x", ""));
  EXPECT_FALSE(pattern_match("x", nullptr));
}

TEST(Pattern, Wildcards) {
  EXPECT_TRUE(pattern_match("make*int", "make_node(int)"));
  EXPECT_TRUE(pattern_match("ns::*::method", "ns::Klass::method(int)"));
  EXPECT_FALSE(pattern_match("ns::*::method", "ns::method(int)"));
  EXPECT_TRUE(pattern_match("*", "anything"));
  EXPECT_TRUE(pattern_match("a*b*c", "xxaYYbZZcxx"));
  EXPECT_FALSE(pattern_match("a*b*c", "xxaYYcZZbxx"));
}

TEST(Pattern, Anchors) {
  EXPECT_TRUE(pattern_match("^make", "make_node(int)"));
  EXPECT_FALSE(pattern_match("^node", "make_node(int)"));
  EXPECT_TRUE(pattern_match("(int)$", "make_node(int)"));
  EXPECT_FALSE(pattern_match("make$", "make_node(int)"));
  EXPECT_TRUE(pattern_match("^make_node(int)$", "make_node(int)"));
  EXPECT_FALSE(pattern_match("^make_node$", "make_node(int)"));
  EXPECT_TRUE(pattern_match("^/usr/lib/*libfoo.so$", "/usr/lib/x86_64-linux-gnu/libfoo.so"));
  EXPECT_FALSE(pattern_match("^/usr/lib/*libfoo.so$", "/usr/lib/x86_64-linux-gnu/libfoo.so.1"));
  EXPECT_TRUE(pattern_match("^*node", "make_node"));
}

TEST(Suppressions, ParseSkipsCommentsBlanksAndOtherTypes) {
  Suppressions s;
  const char text[] =
      "# a comment\n"
      "\n"
      "leak:first\n"
      "   leak:  second  \r\n"
      "  # indented comment\n"
      "race:not_ours\n"
      "leak:\n"
      "leak:third";
  ASSERT_TRUE(s.parse(text, sizeof text - 1));
  ASSERT_EQ(s.size(), 3u);
  EXPECT_STREQ(s.pattern(0), "first");
  EXPECT_STREQ(s.pattern(1), "second");
  EXPECT_STREQ(s.pattern(2), "third");
  s.release();
}

TEST(Suppressions, LoadFile) {
  rt::TempFile f;
  const std::string text = "leak:alpha\n#leak:beta\nleak:gamma*\n";
  ASSERT_EQ(write(f.fd(), text.data(), text.size()), ssize_t(text.size()));
  Suppressions s;
  ASSERT_TRUE(s.load(f.path().c_str()));
  ASSERT_EQ(s.size(), 2u);
  EXPECT_STREQ(s.pattern(1), "gamma*");
  s.release();
  EXPECT_FALSE(s.load("/nonexistent/suppressions.txt"));
}

// A file larger than the first read buffer (64 KiB) is read whole.
TEST(Suppressions, LoadLargeFile) {
  rt::TempFile f;
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "# a comment line of padding\n";
  ASSERT_GT(text.size(), size_t(200) << 10);
  text += "leak:last_one\n";
  ASSERT_EQ(write(f.fd(), text.data(), text.size()), ssize_t(text.size()));
  Suppressions s;
  ASSERT_TRUE(s.load(f.path().c_str()));
  ASSERT_EQ(s.size(), 1u);
  EXPECT_STREQ(s.pattern(0), "last_one");
  s.release();
}

TEST(Suppressions, MatchFunctionModuleAndFile) {
  mpshim::report::SymFrame inl{"inlined_helper()", "/src/helper.h", 3, nullptr};
  SymInfo a{0x1000, "/usr/lib/libthing.so", 0x100, {"outer_fn(int)", "/src/outer.cc", 12, &inl}, true};
  SymInfo b{0x2000, nullptr, 0, {nullptr, nullptr, 0, nullptr}, true};
  const SymInfo* frames[] = {&b, &a};
  auto match = [&](const char* text) {
    Suppressions s;
    s.parse(text, strlen(text));
    long r = s.match(frames, 2);
    s.release();
    return r;
  };
  EXPECT_EQ(match("leak:outer_fn"), 0);
  EXPECT_EQ(match("leak:libthing.so"), 0);
  EXPECT_EQ(match("leak:helper.h$"), 0);
  EXPECT_EQ(match("leak:inlined_helper"), 0);
  EXPECT_EQ(match("leak:^/src/outer"), 0);
  EXPECT_EQ(match("leak:nothing\nleak:outer.cc"), 1);
  EXPECT_EQ(match("leak:nothing"), -1);
  EXPECT_EQ(match("leak:^outer.cc"), -1);
}
