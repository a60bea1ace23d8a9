#include "state_file.hpp"

#include <sqlite3.h>

#include <filesystem>

namespace tern::nats_bridge {

namespace {

std::string sqlite_error(sqlite3* db, const char* what) {
    return std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : "out of memory");
}

}  // namespace

state_file::~state_file() { close(); }

void state_file::close() {
    if (upsert_ != nullptr) sqlite3_finalize(upsert_);
    upsert_ = nullptr;
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
}

bool state_file::exec(const char* sql, std::string& error) {
    char* msg = nullptr;
    if (sqlite3_exec(db_, sql, nullptr, nullptr, &msg) == SQLITE_OK) return true;
    error = std::string(sql) + ": " + (msg != nullptr ? msg : "error");
    sqlite3_free(msg);
    return false;
}

bool state_file::open(const std::string& path, std::string& error) {
    close();
    std::error_code ec;
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    if (ec) {
        error = "cannot create the folder of " + path + ": " + ec.message();
        return false;
    }
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        nullptr) != SQLITE_OK) {
        error = sqlite_error(db_, ("cannot open " + path).c_str());
        close();
        return false;
    }
    sqlite3_busy_timeout(db_, 5000);
    if (!exec("PRAGMA journal_mode=WAL", error) || !exec("PRAGMA synchronous=NORMAL", error) ||
        !exec("CREATE TABLE IF NOT EXISTS applied(stream TEXT NOT NULL, partition INTEGER NOT NULL, "
              "seq INTEGER NOT NULL, PRIMARY KEY(stream, partition)) WITHOUT ROWID",
              error)) {
        error = path + ": " + error;
        close();
        return false;
    }
    const char* sql =
        "INSERT INTO applied(stream, partition, seq) VALUES(?1, ?2, ?3) "
        "ON CONFLICT(stream, partition) DO UPDATE SET seq = max(seq, excluded.seq)";
    if (sqlite3_prepare_v2(db_, sql, -1, &upsert_, nullptr) != SQLITE_OK) {
        error = sqlite_error(db_, path.c_str());
        close();
        return false;
    }
    return true;
}

std::map<uint32_t, uint64_t> state_file::load(const std::string& stream, std::string& error) {
    std::map<uint32_t, uint64_t> out;
    if (db_ == nullptr) return out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "SELECT partition, seq FROM applied WHERE stream = ?1", -1, &st, nullptr) !=
        SQLITE_OK) {
        error = sqlite_error(db_, "reading the applied sequences");
        return out;
    }
    sqlite3_bind_text(st, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
    int rc = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        out[static_cast<uint32_t>(sqlite3_column_int64(st, 0))] = static_cast<uint64_t>(sqlite3_column_int64(st, 1));
    if (rc != SQLITE_DONE) error = sqlite_error(db_, "reading the applied sequences");
    sqlite3_finalize(st);
    return out;
}

bool state_file::store(const std::string& stream, const std::map<uint32_t, uint64_t>& applied, std::string& error) {
    if (db_ == nullptr) {
        error = "the state file is not open";
        return false;
    }
    if (!exec("BEGIN IMMEDIATE", error)) return false;
    for (const auto& [partition, seq] : applied) {
        sqlite3_reset(upsert_);
        sqlite3_bind_text(upsert_, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
        sqlite3_bind_int64(upsert_, 2, partition);
        sqlite3_bind_int64(upsert_, 3, static_cast<sqlite3_int64>(seq));
        if (sqlite3_step(upsert_) != SQLITE_DONE) {
            error = sqlite_error(db_, "writing an applied sequence");
            sqlite3_reset(upsert_);
            std::string ignored;
            exec("ROLLBACK", ignored);
            return false;
        }
    }
    sqlite3_reset(upsert_);
    if (exec("COMMIT", error)) return true;
    std::string ignored;
    exec("ROLLBACK", ignored);
    return false;
}

bool state_file::reset(const std::string& stream, std::string& error) {
    if (db_ == nullptr) return false;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, "DELETE FROM applied WHERE stream = ?1", -1, &st, nullptr) != SQLITE_OK) {
        error = sqlite_error(db_, "resetting the applied sequences");
        return false;
    }
    sqlite3_bind_text(st, 1, stream.data(), static_cast<int>(stream.size()), SQLITE_TRANSIENT);
    const bool ok = sqlite3_step(st) == SQLITE_DONE;
    if (!ok) error = sqlite_error(db_, "resetting the applied sequences");
    sqlite3_finalize(st);
    return ok;
}

}  // namespace tern::nats_bridge
