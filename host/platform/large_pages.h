// SPDX-License-Identifier: MIT
// Backs large buffers with huge pages and populates the small-block heap at once (see
// large_pages.cpp). Call first thing in main().
#pragma once

namespace smime::platform {
void use_large_pages();
}  // namespace smime::platform
