// Report files (prim::open_report_file): never through a final symbolic link, never
// emptying a file that belongs to someone else. Ownership is faked by naming another owner.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "prim/file.h"

using mpshim::prim::OpenStatus;
using mpshim::prim::open_report_file;

namespace {

struct ReportFile : ::testing::Test {
  std::string dir;
  void SetUp() override {
    char tmpl[] = "/tmp/mpshim-output-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir = tmpl;
  }
  void TearDown() override {
    for (const char* f : {"/victim", "/link", "/report", "/new"}) unlink((dir + f).c_str());
    rmdir(dir.c_str());
  }
  static void put(const std::string& path, const std::string& text) { std::ofstream(path) << text; }
  static std::string get(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
};

TEST_F(ReportFile, CreatesAMissingFile) {
  OpenStatus st;
  int fd = open_report_file((dir + "/new").c_str(), geteuid(), &st);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(st, OpenStatus::Ok);
  EXPECT_EQ(fcntl(fd, F_GETFD), FD_CLOEXEC);
  EXPECT_EQ(write(fd, "r\n", 2), 2);
  close(fd);
  struct stat s;
  ASSERT_EQ(stat((dir + "/new").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 0777 & ~0644u, 0u);  // 0644 less the umask
  EXPECT_EQ(get(dir + "/new"), "r\n");
}

TEST_F(ReportFile, EmptiesAnOwnedFile) {
  put(dir + "/report", std::string(10000, 'z'));
  OpenStatus st;
  int fd = open_report_file((dir + "/report").c_str(), geteuid(), &st);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(write(fd, "r\n", 2), 2);
  close(fd);
  EXPECT_EQ(get(dir + "/report"), "r\n");
}

TEST_F(ReportFile, RefusesAFinalSymlink) {
  put(dir + "/victim", "keep\n");
  ASSERT_EQ(symlink((dir + "/victim").c_str(), (dir + "/link").c_str()), 0);
  OpenStatus st = OpenStatus::Ok;
  EXPECT_EQ(open_report_file((dir + "/link").c_str(), geteuid(), &st), -1);
  EXPECT_EQ(st, OpenStatus::Symlink);
  EXPECT_EQ(get(dir + "/victim"), "keep\n");
  // A dangling link is refused too (it would create its target).
  unlink((dir + "/victim").c_str());
  EXPECT_EQ(open_report_file((dir + "/link").c_str(), geteuid(), &st), -1);
  EXPECT_EQ(st, OpenStatus::Symlink);
  EXPECT_NE(access((dir + "/victim").c_str(), F_OK), 0);
}

TEST_F(ReportFile, LeavesAnotherOwnersFileAlone) {
  put(dir + "/report", "keep\n");
  OpenStatus st = OpenStatus::Ok;
  EXPECT_EQ(open_report_file((dir + "/report").c_str(), geteuid() + 1, &st), -1);
  EXPECT_EQ(st, OpenStatus::NotOwned);
  EXPECT_EQ(get(dir + "/report"), "keep\n");
}

TEST_F(ReportFile, WritesToADeviceWithoutOwningIt) {
  OpenStatus st = OpenStatus::Failed;
  int fd = open_report_file("/dev/null", geteuid() + 1, &st);
  EXPECT_GE(fd, 0);
  EXPECT_EQ(st, OpenStatus::Ok);
  if (fd >= 0) close(fd);
}

TEST_F(ReportFile, MissingDirectoryFails) {
  OpenStatus st = OpenStatus::Ok;
  EXPECT_EQ(open_report_file((dir + "/no/such").c_str(), geteuid(), &st), -1);
  EXPECT_EQ(st, OpenStatus::Failed);
}

}  // namespace
