// SPDX-License-Identifier: MIT
// Command-line mode: the protocol's operations without framing, for scripts, debugging, installers.
#pragma once

namespace smime::cli {

// Runs `smime-host <command> [options]`; returns the process exit code.
// 0 success, 1 the operation failed (error code on stderr), 2 usage error.
int run(int argc, char** argv);

void print_usage();

}  // namespace smime::cli
