// SPDX-License-Identifier: MIT
// The key store's file: opening it (private folder and file, schema migration), closing it, and
// its settings table. The operations live in one file per job: unlocking.cpp, identities.cpp,
// certificates.cpp (and recipients), trust.cpp.
#include "keystore/keystore.h"

#include "keystore/schema.h"
#include "platform/platform.h"
#include "util/log.h"

#include <algorithm>
#include <exception>
#include <mutex>

namespace smime {

const Policy& KeyStore::no_policy() {
    static const Policy none;
    return none;
}

KeyStore::KeyStore(const std::filesystem::path& directory, const Policy& policy,
                   KeyStoreTuning tuning)
    : path_((platform::ensure_private_directory(directory), directory / kFileName)),
      policy_(policy),
      tuning_(tuning),
      db_(path_) {
    platform::restrict_file(path_);
    schema::migrate(db_);
    for (const char* suffix : {"-wal", "-shm"}) platform::restrict_file(path_.string() + suffix);
    if (auto minutes = platform::env("SMIME_HOST_LOCK_MINUTES")) {
        try {
            idle_minutes_ = std::max(1, std::stoi(*minutes));
        } catch (const std::exception&) {
            log::warn("SMIME_HOST_LOCK_MINUTES is not a number; using 30");
        }
    }
}

KeyStore::~KeyStore() {
    {
        std::lock_guard lock(key_mutex_);
        stopping_ = true;
        forget_keys();
    }
    key_changed_.notify_all();
    if (idle_watchdog_.joinable()) idle_watchdog_.join();
}

std::optional<std::string> KeyStore::meta(const char* key) {
    auto st = db_.prepare("SELECT value FROM meta WHERE key = ?");
    st.bind(1, key);
    if (!st.step()) return std::nullopt;
    return st.text(0);
}

void KeyStore::set_meta(const char* key, const std::string& value) {
    db_.prepare(
           "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value = "
           "excluded.value")
        .bind(1, key)
        .bind(2, value)
        .run();
}

}  // namespace smime
