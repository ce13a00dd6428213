// SPDX-License-Identifier: MIT
// The per-process context shared by all operations.
#include "ops/context.h"

#include "keystore/keystore.h"
#include "util/error.h"

namespace smime {

const char* Caller::kind_name() const {
    switch (kind) {
        case Kind::Chromium: return "chromium";
        case Kind::Mozilla: return "mozilla";
        case Kind::CommandLine: return "cli";
    }
    return "?";
}

std::string Caller::describe() const {
    switch (kind) {
        case Kind::Chromium: return "chromium extension " + origin;
        case Kind::Mozilla: return "mozilla add-on " + addon_id;
        case Kind::CommandLine: return "command line";
    }
    return "?";
}

Context::Context(Caller caller, std::filesystem::path home)
    : caller_(std::move(caller)), home_(std::move(home)), policy_(Policy::load_default()) {}
Context::~Context() = default;

KeyStore& Context::store() {
    if (!store_) {
        if (home_.empty())
            throw Error(Code::Storage, "no data directory (set HOME or SMIME_HOST_HOME)");
        store_ = std::make_unique<KeyStore>(home_, policy_);
    }
    return *store_;
}

}  // namespace smime
