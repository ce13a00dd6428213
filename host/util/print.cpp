// SPDX-License-Identifier: MIT
#include "util/print.h"

#include <cstdio>

namespace smime {

void print(std::string_view text) { std::fwrite(text.data(), 1, text.size(), stdout); }

void print_error(std::string_view text) {
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
}

}  // namespace smime
