// Which processes are followed (config/children.h): the settings hash, the globs of
// MPSHIM_CHILDREN and the role of a process from its environment.
#include "config/children.h"

#include <gtest/gtest.h>

#include <string>

using namespace mpshim::config;

namespace {

const char* prog_path() { return "/bin/prog"; }
const char* never_read() {
  ADD_FAILURE() << "the executable's path was read without patterns to match";
  return "";
}

std::string mark(const char* const* env) {
  char hex[17];
  uint64_t h = settings_hash(env);
  for (int i = 15; i >= 0; --i, h >>= 4) hex[i] = "0123456789abcdef"[h & 15];
  hex[16] = '\0';
  return std::string("MPSHIM_ROOT=") + hex;
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
  EXPECT_EQ(role(fresh, h, "none", never_read), Role::Root);

  std::string m = mark(fresh);
  const char* child[] = {"MPSHIM_LEAKS=1", m.c_str(), nullptr};
  EXPECT_EQ(role(child, h, "none", never_read), Role::NotFollowed);
  EXPECT_EQ(role(child, h, "", never_read), Role::NotFollowed);
  EXPECT_EQ(role(child, h, "all", never_read), Role::Followed);
  EXPECT_EQ(role(child, h, "ALL", never_read), Role::Followed);
  EXPECT_EQ(role(child, h, "prog", prog_path), Role::Followed);
  EXPECT_EQ(role(child, h, "other", prog_path), Role::NotFollowed);

  // A child given settings of its own is a program started anew.
  const char* changed[] = {"MPSHIM_LEAKS=1", "MPSHIM_STACK_DEPTH=4", m.c_str(), nullptr};
  EXPECT_EQ(role(changed, settings_hash(changed), "none", never_read), Role::Root);
  // A mark that is not a hash is no mark.
  const char* junk[] = {"MPSHIM_LEAKS=1", "MPSHIM_ROOT=zz", nullptr};
  EXPECT_EQ(role(junk, h, "none", never_read), Role::Root);
}

}  // namespace
