// SPDX-License-Identifier: MIT
// Text to stdout and stderr. The host does not use iostreams: their static initialisation (the
// standard streams and the locale) would be paid by every start of the host, which a browser
// does for each port it opens.
#pragma once

#include <string_view>

namespace smime {

void print(std::string_view text);        // to stdout
void print_error(std::string_view text);  // to stderr, flushed

}  // namespace smime
