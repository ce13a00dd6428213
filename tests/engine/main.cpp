// SPDX-License-Identifier: MIT
// doctest entry point for the engine tests.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
