// SPDX-License-Identifier: MIT
// A thin RAII layer over SQLite: connection, prepared statements, and write transactions that
// wait for other processes instead of failing with "database is locked".
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace smime::db {

class Statement;

class Database {
public:
    // Opens (creating if needed) the file with WAL journaling, foreign keys and a busy timeout.
    explicit Database(const std::filesystem::path& file);
    ~Database();
    Database(const Database&) = delete;
    Database& operator=(const Database&) = delete;

    void exec(const char* sql);
    // A statement for `sql`, compiled once per connection: a finished Statement gives its
    // compiled form back (reset, bindings cleared) for the next prepare of the same text.
    Statement prepare(std::string_view sql);
    std::int64_t changes() const;
    sqlite3* handle() const noexcept { return db_; }

private:
    friend class Statement;
    void give_back(std::string sql, sqlite3_stmt* stmt) noexcept;

    sqlite3* db_ = nullptr;
    // Compiled statements not in use, by their text. A statement in use is not here: a second
    // prepare of the same text meanwhile (a nested query) compiles one of its own.
    std::mutex cache_mutex_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

class Statement {
public:
    ~Statement();
    Statement(Statement&& other) noexcept;
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    Statement& operator=(Statement&&) = delete;

    Statement& bind(int index, std::string_view text);
    Statement& bind_blob(int index, std::string_view bytes);
    Statement& bind(int index, std::int64_t value);
    Statement& bind_null(int index);

    // True while there is a row; false when done. Throws Error(Storage) on failure.
    bool step();
    void run() {
        while (step()) {
        }
    }
    void reset();

    std::string text(int column) const;
    std::string blob(int column) const;
    std::int64_t integer(int column) const;
    bool is_null(int column) const;

private:
    friend class Database;
    Statement(Database& owner, std::string sql, sqlite3_stmt* stmt)
        : owner_(&owner), sql_(std::move(sql)), stmt_(stmt) {}

    Database* owner_;
    std::string sql_;
    sqlite3_stmt* stmt_ = nullptr;
};

// BEGIN IMMEDIATE ... COMMIT, rolled back if not committed. IMMEDIATE takes the write lock up front
// so two writers never deadlock upgrading from a read lock; the busy timeout makes the second wait.
class Transaction {
public:
    explicit Transaction(Database& db);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

private:
    Database& db_;
    bool done_ = false;
};

}  // namespace smime::db
