#include "db.hpp"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

namespace tern::core_embedded::db {

namespace {

std::mutex error_log_mutex;
sdk::logger error_log;
const void* error_log_owner = nullptr;

// The generic text of a result code: no SQL, no names, no values.
std::string public_message(int rc) {
    return std::string("database error: ") + sqlite3_errstr(rc);
}

[[noreturn]] void fail(sqlite3* db, int rc, const std::string& what) {
    std::string detail = what;
    detail += ": ";
    detail += db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    {
        std::lock_guard lk(error_log_mutex);
        error_log.error("SQLite error ", rc, " in ", detail);
    }
    throw error(rc, public_message(rc), std::move(detail));
}

}  // namespace

void set_error_log(const void* owner, sdk::logger log) {
    std::lock_guard lk(error_log_mutex);
    error_log = log;
    error_log_owner = owner;
}

void clear_error_log(const void* owner) {
    std::lock_guard lk(error_log_mutex);
    if (error_log_owner != owner) return;
    error_log = sdk::logger{};
    error_log_owner = nullptr;
}

std::vector<loose_file> make_private(const std::string& path) {
    std::vector<loose_file> narrowed;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        throw error(SQLITE_CANTOPEN, "cannot open database " + path + ": " + std::strerror(errno));
    ::close(fd);
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
        const std::string p = path + suffix;
        struct stat st{};
        if (::stat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        const unsigned mode = st.st_mode & 07777;
        if ((mode & 077) == 0) continue;
        loose_file f{p, mode, {}};
        if (::chmod(p.c_str(), mode & 0700) != 0) f.failure = std::strerror(errno);
        narrowed.push_back(std::move(f));
    }
    return narrowed;
}

void file_lock::acquire(const std::string& lock_path) {
    release();
    const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) throw error(SQLITE_CANTOPEN, "cannot open " + lock_path + ": " + std::strerror(errno));
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        const int e = errno;
        char buf[32] = {};
        const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
        ::close(fd);
        std::string holder;
        for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i) holder += buf[i];
        if (e == EWOULDBLOCK)
            throw error(SQLITE_BUSY, "the database is in use by another process" +
                                         (holder.empty() ? std::string() : " (pid " + holder + ")") + ", which holds " +
                                         lock_path + "; stop it or give this one another database");
        throw error(SQLITE_IOERR, "cannot lock " + lock_path + ": " + std::strerror(e));
    }
    const std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        // The lock holds anyway; only the pid in the message of a second process is missing.
    }
    fd_ = fd;
    path_ = lock_path;
}

void file_lock::release() noexcept {
    if (fd_ < 0) return;
    // The file stays (removing it would let a third process lock a new file while a second
    // still waits on the old one); emptied, it names nobody.
    if (::ftruncate(fd_, 0) != 0) {
    }
    ::close(fd_);
    fd_ = -1;
}

statement::~statement() { sqlite3_finalize(s_); }

void statement::check(int rc, const char* what) {
    if (rc != SQLITE_OK) fail(db_, rc, what);
}

statement& statement::bind(int i, int64_t v) {
    check(sqlite3_bind_int64(s_, i, v), "bind");
    return *this;
}
statement& statement::bind(int i, double v) {
    check(sqlite3_bind_double(s_, i, v), "bind");
    return *this;
}
statement& statement::bind(int i, std::string_view v) {
    check(sqlite3_bind_text64(s_, i, v.data() == nullptr ? "" : v.data(), v.size(), SQLITE_STATIC,
                              SQLITE_UTF8),
          "bind");
    return *this;
}
statement& statement::bind_blob(int i, std::string_view v) {
    check(sqlite3_bind_blob64(s_, i, v.data() == nullptr ? "" : v.data(), v.size(), SQLITE_STATIC),
          "bind");
    return *this;
}
statement& statement::bind_null(int i) {
    check(sqlite3_bind_null(s_, i), "bind");
    return *this;
}

bool statement::step() {
    const int rc = sqlite3_step(s_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    fail(db_, rc, std::string("step (") + sqlite3_sql(s_) + ")");
}

void statement::run() {
    while (step()) {
    }
}

void statement::reset() noexcept {
    sqlite3_reset(s_);
    sqlite3_clear_bindings(s_);
}

bool statement::is_null(int col) const { return sqlite3_column_type(s_, col) == SQLITE_NULL; }
int64_t statement::get_int(int col) const { return sqlite3_column_int64(s_, col); }
double statement::get_double(int col) const { return sqlite3_column_double(s_, col); }
std::string_view statement::get_text(int col) const {
    // blob access works for text and blob columns alike and never converts
    const void* p = sqlite3_column_blob(s_, col);
    const int n = sqlite3_column_bytes(s_, col);
    return p == nullptr ? std::string_view{} : std::string_view(static_cast<const char*>(p), n);
}

connection::connection(connection&& o) noexcept : db_(o.db_), cache_(std::move(o.cache_)) {
    o.db_ = nullptr;
}
connection& connection::operator=(connection&& o) noexcept {
    if (this != &o) {
        close();
        db_ = o.db_;
        cache_ = std::move(o.cache_);
        o.db_ = nullptr;
    }
    return *this;
}
connection::~connection() { close(); }

void connection::close() noexcept {
    cache_.clear();  // finalize statements before closing
    if (db_ != nullptr) sqlite3_close_v2(db_);
    db_ = nullptr;
}

connection connection::open(const std::string& path, bool create, bool read_only) {
    connection c;
    int flags = SQLITE_OPEN_NOMUTEX;  // each connection is used by one thread at a time
    flags |= read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE;
    if (create && !read_only) {
        flags |= SQLITE_OPEN_CREATE;
        // Before SQLite creates it with the process umask (often 0644): the file holds
        // credentials. SQLite gives -wal/-shm the database file's mode.
        make_private(path);
    }
    const int rc = sqlite3_open_v2(path.c_str(), &c.db_, flags, nullptr);
    if (rc != SQLITE_OK) {
        std::string msg = "cannot open database " + path;
        if (c.db_ != nullptr) {
            msg += ": ";
            msg += sqlite3_errmsg(c.db_);
        }
        c.close();
        throw error(rc, msg);
    }
    sqlite3_extended_result_codes(c.db_, 1);
    sqlite3_busy_timeout(c.db_, 5000);
    return c;
}

void connection::exec(const char* sql) {
    char* err = nullptr;
    const int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
        std::string detail = std::string("exec (") + sql + "): " + (err != nullptr ? err : sqlite3_errstr(rc));
        sqlite3_free(err);
        // A ROLLBACK fails when SQLite already rolled back (after SQLITE_FULL): not news.
        if (std::strncmp(sql, "ROLLBACK", 8) != 0) {
            std::lock_guard lk(error_log_mutex);
            error_log.error("SQLite error ", rc, " in ", detail);
        }
        throw error(rc, public_message(rc), std::move(detail));
    }
}

use connection::query(const char* sql) {
    auto it = cache_.find(sql);
    if (it == cache_.end() || std::strcmp(it->second.sql, sql) != 0) {
        sqlite3_stmt* s = nullptr;
        const int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
        if (rc != SQLITE_OK) fail(db_, rc, std::string("prepare (") + sql + ")");
        cached c{sql, std::make_unique<statement>(db_, s)};
        if (it == cache_.end()) it = cache_.emplace(sql, std::move(c)).first;
        else it->second = std::move(c);
    }
    // Statements are reset (and their bindings cleared) when their use ends.
    return use(*it->second.stmt);
}

int64_t connection::last_insert_rowid() const { return sqlite3_last_insert_rowid(db_); }
int connection::changes() const { return sqlite3_changes(db_); }

transaction::transaction(connection& c, bool immediate) : c_(c) {
    c_.exec(immediate ? "BEGIN IMMEDIATE" : "BEGIN");
}
transaction::~transaction() {
    if (!done_) {
        try {
            c_.exec("ROLLBACK");
        } catch (...) {
        }
    }
}
void transaction::commit() {
    c_.exec("COMMIT");
    done_ = true;
}

}  // namespace tern::core_embedded::db
