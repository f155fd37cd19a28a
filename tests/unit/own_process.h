// Runs a test's body in a process of its own: gtest re-executes the test binary for the
// current test alone (the "threadsafe" death-test style), so nothing earlier tests left
// behind counts. For the leak check: words in this binary's own glibc heap, a root here,
// free chunks included (a dead thread's DTV holds addresses on its stack, where a segment
// may be mapped since; a program under the shim has no such heap, as the shim's free
// blocks are never roots). For the allocator: thread and central caches and a page heap
// in a known state. The body's failures are printed by the child and fail the test.
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
