// A thin RAII face over SQLite: connections with a statement cache, statements with typed
// binds and column reads, and errors as exceptions (caught at the store's edges).
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "tern/sdk/host.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace tern::core_embedded::db {

// what() is short and generic ("database error: database or disk is full"): it may travel
// to a device or an admin client. The SQL text and SQLite's own message (which can name
// tables, columns and values) are in detail(), and are logged where the error is raised
// (set_error_log).
class error : public std::runtime_error {
public:
    error(int code, const std::string& what) : std::runtime_error(what), code_(code), detail_(what) {}
    error(int code, const std::string& what, std::string detail)
        : std::runtime_error(what), code_(code), detail_(std::move(detail)) {}
    int code() const noexcept { return code_; }
    const std::string& detail() const noexcept { return detail_; }

private:
    int code_;
    std::string detail_;
};

// Where the details of database errors are logged (one line per raised error; the kernel
// throttles repeats): the logger of the core that started last, until it clears it.
void set_error_log(const void* owner, sdk::logger log);
void clear_error_log(const void* owner);

// Makes the database file private before SQLite opens it: creates it (empty, mode 0600)
// when missing, and narrows an existing file and its -wal/-shm/-journal to 0600. SQLite
// creates its -wal and -shm files with the database file's permissions, so they follow.
// Returns the files that were readable by others: their old mode, and why they could not
// be narrowed (empty: narrowed; a file of another owner cannot be). Throws error when the
// database cannot be created.
struct loose_file {
    std::string path;
    unsigned mode = 0;
    std::string failure;
};
std::vector<loose_file> make_private(const std::string& path);

// An exclusive advisory lock (flock) on <database>.lock, which holds the owner's pid: one
// process per database. Released on destruction (and by the kernel when the process dies).
class file_lock {
public:
    file_lock() = default;
    file_lock(const file_lock&) = delete;
    file_lock& operator=(const file_lock&) = delete;
    ~file_lock() { release(); }
    // Throws error with a message naming the holder's pid when another process holds it.
    void acquire(const std::string& lock_path);
    void release() noexcept;
    bool held() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
    std::string path_;
};

class statement {
public:
    statement(sqlite3* db, sqlite3_stmt* s) : db_(db), s_(s) {}
    statement(const statement&) = delete;
    statement& operator=(const statement&) = delete;
    ~statement();

    // Binds are 1-based. Text and blob views must outlive the step (SQLITE_STATIC).
    statement& bind(int i, int64_t v);
    statement& bind(int i, double v);
    statement& bind(int i, std::string_view v);
    statement& bind_blob(int i, std::string_view v);
    statement& bind_null(int i);
    // Text, or NULL when empty.
    statement& bind_opt(int i, std::string_view v) {
        return v.empty() ? bind_null(i) : bind(i, v);
    }
    statement& bind_id(int i, uint64_t v) { return bind(i, static_cast<int64_t>(v)); }
    statement& bind_opt_id(int i, uint64_t v) {
        return v == 0 ? bind_null(i) : bind(i, static_cast<int64_t>(v));
    }

    // Advances; true when a row is available.
    bool step();
    // Steps to completion (statements without rows).
    void run();
    void reset() noexcept;

    bool is_null(int col) const;
    int64_t get_int(int col) const;
    uint64_t get_id(int col) const { return static_cast<uint64_t>(get_int(col)); }
    double get_double(int col) const;
    std::string_view get_text(int col) const; // valid until the next step/reset
    std::string get_string(int col) const { return std::string(get_text(col)); }

private:
    void check(int rc, const char* what);
    sqlite3* db_;
    sqlite3_stmt* s_;
};

// Resets a cached statement when the use ends, so no read transaction stays open.
class use {
public:
    explicit use(statement& s) : s_(&s) {}
    use(const use&) = delete;
    use& operator=(const use&) = delete;
    ~use() { s_->reset(); }  // also clears the bindings: a cached statement starts clean
    statement* operator->() const noexcept { return s_; }
    statement& operator*() const noexcept { return *s_; }

private:
    statement* s_;
};

class connection {
public:
    connection() = default;
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    connection(connection&& o) noexcept;
    connection& operator=(connection&& o) noexcept;
    ~connection();

    // Opens (creating when create is true) the database file.
    static connection open(const std::string& path, bool create, bool read_only);

    void exec(const char* sql);
    // A cached prepared statement, ready to bind. sql must have static storage (a
    // literal): the cache is keyed by its address (checked against the text), which keeps
    // the hot path free of hashing and allocation.
    use query(const char* sql);
    int64_t last_insert_rowid() const;
    int changes() const;
    sqlite3* raw() const noexcept { return db_; }
    explicit operator bool() const noexcept { return db_ != nullptr; }

private:
    void close() noexcept;
    sqlite3* db_ = nullptr;
    struct cached {
        const char* sql;
        std::unique_ptr<statement> stmt;
    };
    std::unordered_map<const void*, cached> cache_;
};

// BEGIN/COMMIT with rollback when the scope is left by an exception.
class transaction {
public:
    explicit transaction(connection& c, bool immediate = true);
    ~transaction();
    void commit();

private:
    connection& c_;
    bool done_ = false;
};

}  // namespace tern::core_embedded::db
