// Runs a test's body in a process of its own. gtest re-executes the test binary for the
// current test alone (the "threadsafe" death-test style), so words that earlier tests left
// in this binary's own glibc heap cannot keep the blocks of this one: that heap is a root of
// the leak check here, free chunks included (a dead thread's DTV holds addresses on its
// stack, where a segment may be mapped since). A program under the shim has no such heap:
// the shim's free blocks are never roots. The body's failures are printed by the child and
// fail the test.
#pragma once
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>

#define MPSHIM_IN_OWN_PROCESS(body)                                      \
  do {                                                                   \
    GTEST_FLAG_SET(death_test_style, "threadsafe");                      \
    EXPECT_EXIT(                                                         \
        {                                                                \
          body;                                                          \
          std::fflush(nullptr);                                          \
          _exit(::testing::Test::HasFailure() ? 1 : 0);                  \
        },                                                               \
        ::testing::ExitedWithCode(0), "");                               \
  } while (0)
