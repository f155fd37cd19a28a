// Which processes are followed (config/children.h): the settings hash, the globs of
// MPSHIM_CHILDREN and the role of a process from its environment.
#include "config/children.h"

#include <gtest/gtest.h>

#include <string>

using namespace mpshim::config;

namespace {

bool prog_path(const char* patterns) { return matches_children(patterns, "/bin/prog"); }
bool never_read(const char*) {
  ADD_FAILURE() << "the executable's path was read without patterns to match";
  return false;
}

constexpr int kRootPid = 4242, kChildPid = 4343;

std::string mark(const char* const* env, int pid = kRootPid) {
  char text[32];
  write_mark(settings_hash(env), pid, text);
  return std::string("MPSHIM_ROOT=") + text;
}

TEST(Children, HashCoversTheSettingsInAnyOrderButNotTheMark) {
  const char* a[] = {"PATH=/bin", "MPSHIM_LEAKS=1", "MPSHIM_STACK_DEPTH=8", nullptr};
  const char* b[] = {"MPSHIM_STACK_DEPTH=8", "HOME=/root", "MPSHIM_LEAKS=1", "MPSHIM_ROOT=12", nullptr};
  const char* c[] = {"MPSHIM_STACK_DEPTH=9", "MPSHIM_LEAKS=1", nullptr};
  EXPECT_EQ(settings_hash(a), settings_hash(b));
  EXPECT_NE(settings_hash(a), settings_hash(c));
}

TEST(Children, GlobsOnPathOrName) {
  EXPECT_TRUE(matches_children("sort", "/usr/bin/sort"));
  EXPECT_FALSE(matches_children("sort", "/usr/bin/sorted"));
  EXPECT_TRUE(matches_children("gcc,sort*", "/usr/bin/sorted"));
  EXPECT_TRUE(matches_children("*/tests/*", "/home/me/build/tests/unit"));
  EXPECT_FALSE(matches_children("*/tests/*", "/home/me/build/bin/unit"));
  EXPECT_TRUE(matches_children(" my_server , x", "/opt/my_server"));
  EXPECT_TRUE(matches_children("t?st_*", "/b/test_alloc"));
  EXPECT_FALSE(matches_children("", "/b/test_alloc"));
  EXPECT_FALSE(matches_children("unit", "/home/me/build/tests/unit/x"));  // names the last part
}

TEST(Children, RoleFromTheMark) {
  const char* fresh[] = {"MPSHIM_LEAKS=1", nullptr};
  uint64_t h = settings_hash(fresh);
  EXPECT_EQ(role(fresh, h, kChildPid, "none", never_read), Role::Root);

  std::string m = mark(fresh);
  const char* child[] = {"MPSHIM_LEAKS=1", m.c_str(), nullptr};
  EXPECT_EQ(role(child, h, kChildPid, "none", never_read), Role::NotFollowed);
  EXPECT_EQ(role(child, h, kChildPid, "", never_read), Role::NotFollowed);
  EXPECT_EQ(role(child, h, kChildPid, "all", never_read), Role::Followed);
  EXPECT_EQ(role(child, h, kChildPid, "ALL", never_read), Role::Followed);
  EXPECT_EQ(role(child, h, kChildPid, "prog", prog_path), Role::Followed);
  EXPECT_EQ(role(child, h, kChildPid, "other", prog_path), Role::NotFollowed);

  // A child given settings of its own is a program started anew.
  const char* changed[] = {"MPSHIM_LEAKS=1", "MPSHIM_STACK_DEPTH=4", m.c_str(), nullptr};
  EXPECT_EQ(role(changed, settings_hash(changed), kChildPid, "none", never_read), Role::Root);
  // A mark that is not a hash and a pid is no mark.
  for (const char* bad : {"MPSHIM_ROOT=zz", "MPSHIM_ROOT=12ab", "MPSHIM_ROOT=12ab.", "MPSHIM_ROOT=12ab.7x"}) {
    const char* junk[] = {"MPSHIM_LEAKS=1", bad, nullptr};
    EXPECT_EQ(role(junk, h, kChildPid, "none", never_read), Role::Root) << bad;
  }
  EXPECT_EQ(mark(fresh, 7).substr(12 + 16), ".7");
}

// A program the started one execs in its own process (a launcher script's exec, env,
// nice) is the started program still.
TEST(Children, ExecInTheSameProcessIsTheRoot) {
  const char* fresh[] = {"MPSHIM_LEAKS=1", nullptr};
  uint64_t h = settings_hash(fresh);
  std::string m = mark(fresh, kRootPid);
  const char* env[] = {"MPSHIM_LEAKS=1", m.c_str(), nullptr};
  EXPECT_EQ(role(env, h, kRootPid, "none", never_read), Role::Root);
  EXPECT_EQ(role(env, h, kChildPid, "none", never_read), Role::NotFollowed);
}

}  // namespace
