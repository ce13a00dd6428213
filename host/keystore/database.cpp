// SPDX-License-Identifier: MIT
// SQLite wrapper; every failure becomes Error(Code::Storage) with SQLite's message in the log only.
#include "keystore/database.h"

#include "util/error.h"
#include "util/log.h"

#include <algorithm>
#include <chrono>
#include <thread>

namespace smime::db {
namespace {

[[noreturn]] void fail(sqlite3* db, const std::string& what) {
    const std::string detail = db ? sqlite3_errmsg(db) : "out of memory";
    log::error("key store: " + what + ": " + detail);
    throw Error(Code::Storage, "key store " + what + " failed", {{"sqlite", detail}});
}

constexpr int kBusyTimeoutMs = 15000;

// SQLite's default busy handler backs off to 100 ms sleeps; writers here hold the lock for a
// millisecond or two, so poll briefly with jitter instead, for up to kBusyTimeoutMs.
int busy_handler(void*, int attempt) {
    const int sleep_us = std::min(200 + attempt * 100, 5000) + (attempt * 7919) % 300;
    if (static_cast<long long>(attempt) * 2500 > static_cast<long long>(kBusyTimeoutMs) * 1000)
        return 0;
    std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
    return 1;
}

}  // namespace

Database::Database(const std::filesystem::path& file) {
    const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX;
    if (sqlite3_open_v2(file.string().c_str(), &db_, flags, nullptr) != SQLITE_OK) {
        const std::string detail = db_ ? sqlite3_errmsg(db_) : "out of memory";
        sqlite3_close(db_);
        db_ = nullptr;
        throw Error(Code::Storage, "cannot open the key store", {{"sqlite", detail}});
    }
    sqlite3_busy_handler(db_, busy_handler, nullptr);
    sqlite3_extended_result_codes(db_, 1);
    // The -wal and -shm files stay when the last connection closes: each host process would
    // otherwise create, size and delete both of them again (a tenth of a fresh process's time
    // to open the store). The WAL is checkpointed and cut to zero bytes at close all the same
    // (journal_size_limit=0), so no page of it, sealed key or not, outlives the connection.
    int persist = 1;
    sqlite3_file_control(db_, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
    // WAL lets readers proceed while one process writes; secure_delete zeroes freed pages so a
    // deleted (sealed) key does not linger in the file.
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA journal_size_limit=0");
    exec("PRAGMA synchronous=NORMAL");
    exec("PRAGMA foreign_keys=ON");
    exec("PRAGMA secure_delete=ON");
}

Database::~Database() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    sqlite3_close_v2(db_);
}

void Database::exec(const char* sql) {
    // journal_mode=WAL itself may meet a lock while another process creates the file: retry.
    for (int attempt = 0;; ++attempt) {
        char* message = nullptr;
        const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
        sqlite3_free(message);
        if (rc == SQLITE_OK) return;
        if ((rc & 0xff) == SQLITE_BUSY && attempt < 100) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        fail(db_,
             std::string("statement '") + std::string(std::string_view(sql).substr(0, 40)) + "'");
    }
}

Statement Database::prepare(std::string_view sql) {
    std::string text(sql);
    {
        std::lock_guard lock(cache_mutex_);
        if (auto it = cache_.find(text); it != cache_.end()) {
            sqlite3_stmt* stmt = it->second;
            cache_.erase(it);
            return Statement(*this, std::move(text), stmt);
        }
    }
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                           &stmt, nullptr) != SQLITE_OK) {
        sqlite3_finalize(stmt);
        fail(db_, "prepare");
    }
    return Statement(*this, std::move(text), stmt);
}

// Every statement the store uses has a fixed text, so the cache stays small; the bound is a guard.
constexpr std::size_t kMaxCachedStatements = 64;

void Database::give_back(std::string sql, sqlite3_stmt* stmt) noexcept {
    // Reset and cleared, it holds neither rows nor bound values (sealed keys among them).
    sqlite3_reset(stmt);
    sqlite3_clear_bindings(stmt);
    try {
        std::lock_guard lock(cache_mutex_);
        if (cache_.size() < kMaxCachedStatements && cache_.emplace(std::move(sql), stmt).second)
            return;
    } catch (...) {
    }
    sqlite3_finalize(stmt);
}

std::int64_t Database::changes() const { return sqlite3_changes64(db_); }

Statement::~Statement() {
    if (stmt_) owner_->give_back(std::move(sql_), stmt_);
}

Statement::Statement(Statement&& other) noexcept
    : owner_(other.owner_), sql_(std::move(other.sql_)), stmt_(other.stmt_) {
    other.stmt_ = nullptr;
}

Statement& Statement::bind(int index, std::string_view text) {
    if (sqlite3_bind_text(stmt_, index, text.data(), static_cast<int>(text.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK)
        fail(owner_->db_, "bind");
    return *this;
}

Statement& Statement::bind_blob(int index, std::string_view bytes) {
    if (sqlite3_bind_blob(stmt_, index, bytes.data(), static_cast<int>(bytes.size()),
                          SQLITE_TRANSIENT) != SQLITE_OK)
        fail(owner_->db_, "bind");
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    if (sqlite3_bind_int64(stmt_, index, value) != SQLITE_OK) fail(owner_->db_, "bind");
    return *this;
}

Statement& Statement::bind_null(int index) {
    if (sqlite3_bind_null(stmt_, index) != SQLITE_OK) fail(owner_->db_, "bind");
    return *this;
}

bool Statement::step() {
    const int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(owner_->db_, "step");
}

void Statement::reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
}

std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_, column);
    return p ? std::string(reinterpret_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
}

std::string Statement::blob(int column) const {
    const void* p = sqlite3_column_blob(stmt_, column);
    return p ? std::string(static_cast<const char*>(p),
                           static_cast<std::size_t>(sqlite3_column_bytes(stmt_, column)))
             : std::string();
}

std::int64_t Statement::integer(int column) const { return sqlite3_column_int64(stmt_, column); }
bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_, column) == SQLITE_NULL;
}

Transaction::Transaction(Database& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }

Transaction::~Transaction() {
    if (!done_) {
        char* message = nullptr;
        sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, &message);
        sqlite3_free(message);
    }
}

void Transaction::commit() {
    db_.exec("COMMIT");
    done_ = true;
}

}  // namespace smime::db
