// SPDX-License-Identifier: MIT
// The key store's schema and its migrations, from the first release on.
#pragma once

#include "keystore/database.h"

namespace smime::schema {

inline constexpr int kCurrentVersion = 3;

// Brings the database to kCurrentVersion in one transaction per step. Refuses a database written
// by a newer release (Error(Storage)) rather than guess at its meaning.
void migrate(db::Database& db);

}  // namespace smime::schema
