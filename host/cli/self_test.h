// SPDX-License-Identifier: MIT
// `smime-host self-test`: a round trip through the native messaging loop of this very binary.
#pragma once

namespace smime::cli {

// Starts this executable as a browser would (caller argument, pipes, framed JSON, a fresh
// temporary SMIME_HOST_HOME), runs each step against it and prints one line per step with its
// timing. Returns 0 only if every step passed, 1 otherwise, 2 on a usage error.
int self_test(int argc, char** argv);

}  // namespace smime::cli
