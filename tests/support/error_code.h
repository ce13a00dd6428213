// SPDX-License-Identifier: MIT
// The error code an operation throws, for tests that check which error a call gives.
#pragma once

#include "util/error.h"

#include <functional>

namespace smime::test {

// The code of the Error that `f` throws; Code::Internal when it throws none.
inline Code code_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.code();
    }
    return Code::Internal;
}

}  // namespace smime::test
