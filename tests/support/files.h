// SPDX-License-Identifier: MIT
// Test inputs read from disk: any whole file, and the shared keys and certificates in
// tests/data/keys.
#pragma once

#include <string>

namespace smime::test {

// The whole file, as bytes; throws std::runtime_error when it cannot be read.
std::string read_file(const std::string& path);

// A file under tests/data/keys, e.g. test_key("thunderbird/Alice.p12").
std::string test_key(const std::string& relative);

}  // namespace smime::test
