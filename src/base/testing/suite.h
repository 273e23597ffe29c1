// Shared state for a test suite, prepared from the first test's SetUp.
//
// gtest skips every test of a suite whose SetUpTestSuite fails, and ctest
// (gtest_discover_tests) reports them as skipped, not failed: a fixture that
// cannot start its gateway would pass CI. Fixtures therefore prepare what
// their tests share from SetUp, through this macro: a failure while
// preparing fails that test, and every later test of the suite fails at
// once, naming the cause.
//
//   void SetUp() override { FIREBREAK_PREPARE_SUITE(Prepare); ... }
#pragma once

#include <gtest/gtest.h>

#define FIREBREAK_PREPARE_SUITE(prepare)                                                      \
  do {                                                                                        \
    static int firebreak_suite_state = 0; /* 0 not yet, 1 ready, 2 failed */                  \
    if (firebreak_suite_state == 0) {                                                         \
      firebreak_suite_state = 1;                                                              \
      prepare();                                                                              \
      if (::testing::Test::HasFailure()) firebreak_suite_state = 2;                           \
    }                                                                                         \
    ASSERT_NE(firebreak_suite_state, 2) << "the suite's shared set-up failed (see above)";    \
  } while (0)
