// SPDX-License-Identifier: MIT
#include "support/files.h"

#include <fstream>
#include <iterator>
#include <stdexcept>

namespace smime::test {

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string test_key(const std::string& relative) {
    return read_file(std::string(SMIME_TEST_KEYS) + "/" + relative);
}

}  // namespace smime::test
