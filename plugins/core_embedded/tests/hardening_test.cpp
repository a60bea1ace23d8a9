// Security hardening of the core: private database files whatever the umask, one process
// per database, an integrity check at start, no SQL in error messages, admin credentials
// with minimum lengths, and an admin API that deep JSON and idle strangers cannot take down.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "admin_api.hpp"
#include "admin_server.hpp"
#include "db.hpp"
#include "http_client.hpp"
#include "json.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;
using tern::sdk::to_sv;

namespace {

core_metrics metrics;

class capture_log final : public tern::log_v1 {
public:
    tern_log_level level() noexcept override { return TERN_LOG_DEBUG; }
    void write(tern_log_level, tern_str msg) noexcept override {
        std::lock_guard lk(m);
        text += std::string(to_sv(msg)) + "\n";
    }
    std::string all() {
        std::lock_guard lk(m);
        return text;
    }
    std::mutex m;
    std::string text;
};

unsigned mode_of(const std::string& path) {
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 0777;
}

struct umask_guard {
    mode_t old;
    explicit umask_guard(mode_t m) : old(::umask(m)) {}
    ~umask_guard() { ::umask(old); }
};

tern_status post_one(embedded_core& core, uint64_t device, const std::string& key, int64_t v,
                     std::string* message = nullptr) {
    tern_kv kv{};
    kv.key = to_str(key);
    kv.value.type = TERN_VALUE_INT;
    kv.value.u.i = v;
    tern_ts_record rec{1700000000000, &kv, 1, 0};
    done_wait w;
    core.post_telemetry(device, &rec, 1, &done_wait::fn, &w);
    auto [s, msg] = w.get();
    if (message) *message = msg;
    return s;
}

int connect_to(uint16_t port) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    return fd;
}

// Whether the server closed fd within the time (recv gives 0 or an error).
bool closed_within(int fd, int ms) {
    timeval tv{ms / 1000, (ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char b[256];
    for (;;) {
        const ssize_t n = ::recv(fd, b, sizeof b, 0);
        if (n == 0) return true;
        if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK;
    }
}

// A core with the admin API, settings of the test's choosing.
struct admin_stack {
    static constexpr const char* key = "0123456789abcdef0123456789abcdef";
    temp_dir dir;
    embedded_core core{metrics, {}};
    capture_log log;
    std::unique_ptr<admin_api> api;
    std::unique_ptr<admin_server> server;

    explicit admin_stack(admin_server_settings s = {}, credential_rules rules = {}) {
        core.start(settings_for(dir));
        api = std::make_unique<admin_api>(core, key, tern::sdk::logger(&log), rules);
        server = std::make_unique<admin_server>(*api, tern::sdk::logger(&log));
        s.bind = "127.0.0.1:0";
        s.upload_dir = core.ota_dir();
        server->start(s);
    }
    ~admin_stack() {
        server->stop();
        core.stop();
    }
    http_result call(const std::string& method, const std::string& target, const std::string& body = {},
                     int64_t timeout_ms = 5000) {
        http_call c;
        c.port = server->port();
        c.method = method;
        c.target = target;
        c.bearer = key;
        c.body = body;
        c.content_type = "application/json";
        c.timeout_ms = timeout_ms;
        return http_request_sync(c);
    }
};

}  // namespace

TEST_CASE("the database and its -wal/-shm are created 0600 whatever the umask", "[hardening][files]") {
    umask_guard um(022);
    temp_dir d;
    embedded_core core(metrics, {});
    core.start(settings_for(d));
    const device dev = add_device(core, "m5", token("m5-token-0123456789"));
    REQUIRE(post_one(core, dev.id, "t", 1) == TERN_OK);
    const std::string db = settings_for(d).database;
    REQUIRE(std::filesystem::exists(db + "-wal"));
    REQUIRE(std::filesystem::exists(db + "-shm"));
    CHECK(mode_of(db) == 0600);
    CHECK(mode_of(db + "-wal") == 0600);
    CHECK(mode_of(db + "-shm") == 0600);
    CHECK(mode_of(db + ".lock") == 0600);
    core.stop();
}

TEST_CASE("a database left readable by others is narrowed to 0600 at start", "[hardening][files]") {
    temp_dir d;
    const std::string db = settings_for(d).database;
    {
        embedded_core core(metrics, {});
        core.start(settings_for(d));
        core.stop();
    }
    REQUIRE(::chmod(db.c_str(), 0644) == 0);
    capture_log log;
    embedded_core core(metrics, tern::sdk::logger(&log));
    core.start(settings_for(d));
    CHECK(mode_of(db) == 0600);
    CHECK(log.all().find("narrowed the mode of " + db + " from 0644 to 0600") != std::string::npos);
    core.stop();
}

TEST_CASE("one process per database: a second core on the same file is refused, naming the holder",
          "[hardening][lock]") {
    temp_dir d;
    embedded_core first(metrics, {});
    first.start(settings_for(d));
    embedded_core second(metrics, {});
    try {
        second.start(settings_for(d));
        FAIL("the second core started on a database in use");
    } catch (const tern::sdk::error& e) {
        CHECK(e.status() == TERN_BUSY);
        const std::string msg = e.what();
        CHECK(msg.find("in use by another process (pid " + std::to_string(::getpid()) + ")") != std::string::npos);
        CHECK(msg.find(settings_for(d).database + ".lock") != std::string::npos);
    }
    CHECK_FALSE(second.running());
    first.stop();
    // Released on stop: the other one may start now.
    second.start(settings_for(d));
    CHECK(second.running());
    second.stop();
}

TEST_CASE("quick_check refuses to start on a damaged database", "[hardening][integrity]") {
    temp_dir d;
    core_settings s = settings_for(d);
    {
        embedded_core core(metrics, {});
        core.start(s);
        const device dev = add_device(core, "q", token("quick-check-token-1"));
        for (int i = 0; i < 200; ++i) REQUIRE(post_one(core, dev.id, "k" + std::to_string(i % 50), i) == TERN_OK);
        core.stop();  // checkpointed: the WAL is in the file
    }
    {
        s.quick_check = true;
        capture_log log;
        embedded_core core(metrics, tern::sdk::logger(&log));
        core.start(s);  // a sound database passes
        CHECK(log.all().find("passed PRAGMA quick_check") != std::string::npos);
        core.stop();
    }
    // Damage: a table of our own whose root page gets an invalid b-tree page type.
    int64_t root = 0, page_size = 0;
    {
        auto c = db::connection::open(s.database, false, false);
        c.exec("CREATE TABLE hardening_probe(a INTEGER PRIMARY KEY, b TEXT)");
        c.exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) "
               "INSERT INTO hardening_probe(b) SELECT printf('row %d of the probe table', i) FROM n");
        {
            auto q = c.query("SELECT rootpage FROM sqlite_master WHERE name = 'hardening_probe'");
            REQUIRE(q->step());
            root = q->get_int(0);
        }
        {
            auto q = c.query("PRAGMA page_size");
            REQUIRE(q->step());
            page_size = q->get_int(0);
        }
        c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    }
    {
        std::fstream f(s.database, std::ios::in | std::ios::out | std::ios::binary);
        REQUIRE(f);
        f.seekp((root - 1) * page_size);
        const char garbage[16] = {'\x7f', 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        f.write(garbage, sizeof garbage);
    }
    s.quick_check = true;
    embedded_core core(metrics, {});
    try {
        core.start(s);
        FAIL("started on a damaged database");
    } catch (const tern::sdk::error& e) {
        CHECK(e.status() == TERN_IO);
        CHECK(std::string(e.what()).find("quick_check") != std::string::npos);
    }
    CHECK_FALSE(core.running());
    // The lock was released by the failed start.
    db::file_lock l;
    l.acquire(s.database + ".lock");
    CHECK(l.held());
}

TEST_CASE("database errors reach devices as a generic text, the SQL is only logged", "[hardening][errors]") {
    temp_dir d;
    const core_settings s = settings_for(d);
    uint64_t id = 0;
    {
        embedded_core core(metrics, {});
        core.start(s);
        id = add_device(core, "l3", token("l3-token-0123456789")).id;
        core.stop();
    }
    {
        // Every telemetry insert now fails inside SQLite, with a message naming a secret.
        auto c = db::connection::open(s.database, false, false);
        c.exec("CREATE TRIGGER hardening_fail BEFORE INSERT ON ts_kv "
               "BEGIN SELECT RAISE(ABORT, 'secret-detail-7f3a'); END");
    }
    capture_log log;
    embedded_core core(metrics, tern::sdk::logger(&log));
    core.start(s);
    std::string message;
    CHECK(post_one(core, id, "temperature", 21, &message) == TERN_IO);
    INFO(message);
    CHECK(message.find("database error: constraint failed") != std::string::npos);
    for (const char* leak : {"INSERT", "ts_kv", "secret-detail-7f3a", "SELECT", "step ("})
        CHECK(message.find(leak) == std::string::npos);
    // The operator sees what failed.
    const std::string logged = log.all();
    CHECK(logged.find("secret-detail-7f3a") != std::string::npos);
    CHECK(logged.find("INSERT") != std::string::npos);
    core.stop();
}

TEST_CASE("db::error keeps the detail apart from its message", "[hardening][errors]") {
    temp_dir d;
    auto c = db::connection::open(d.file("x.db"), true, false);
    c.exec("CREATE TABLE t(a TEXT UNIQUE)");
    c.exec("INSERT INTO t VALUES ('dup')");
    try {
        auto q = c.query("INSERT INTO t VALUES ('dup')");
        q->run();
        FAIL("no error");
    } catch (const db::error& e) {
        CHECK(std::string(e.what()) == "database error: constraint failed");
        CHECK(e.detail().find("INSERT INTO t VALUES ('dup')") != std::string::npos);
        CHECK(e.detail().find("UNIQUE constraint failed: t.a") != std::string::npos);
    }
    try {
        c.exec("SELECT * FROM no_such_table");
        FAIL("no error");
    } catch (const db::error& e) {
        CHECK(std::string(e.what()).find("no_such_table") == std::string::npos);
        CHECK(e.detail().find("no such table: no_such_table") != std::string::npos);
    }
}

TEST_CASE("admin JSON is depth-limited and parsed without recursion", "[hardening][json]") {
    rapidjson::Document doc;
    const std::string deep(1 << 20, '[');
    CHECK(json::parse(deep, doc).find("nested deeper than 128") != std::string::npos);
    CHECK_FALSE(json::valid(deep));
    CHECK(json::value_from_text(deep).type == TERN_VALUE_STR);
    std::string ok = std::string(128, '[') + std::string(128, ']');
    CHECK(json::parse(ok, doc).empty());
    std::string over = std::string(129, '[') + std::string(129, ']');
    CHECK_FALSE(json::parse(over, doc).empty());
    // brackets inside strings do not count
    CHECK(json::nesting_depth(R"({"a":"[[[[[[\"[[[","b":[1]})") == 2);

    admin_server_settings s;
    s.max_body = 2 << 20;
    admin_stack a(s);
    auto r = a.call("POST", "/api/devices", deep);
    CHECK(r.status == 400);
    CHECK(r.body.find("nested deeper than 128") != std::string::npos);
    std::string objects;
    for (int i = 0; i < 100000; ++i) objects += "{\"a\":";
    r = a.call("POST", "/api/devices", objects);
    CHECK(r.status == 400);
    // still serving
    CHECK(a.call("GET", "/api/info").status == 200);
}

TEST_CASE("strangers' idle connections cannot lock the admin API out", "[hardening][admin]") {
    admin_server_settings s;
    s.max_connections = 4;
    s.header_timeout_ms = 400;
    admin_stack a(s);
    // A connection that sends nothing is closed after the header timeout.
    const int idle = connect_to(a.server->port());
    const auto t0 = std::chrono::steady_clock::now();
    CHECK(closed_within(idle, 3000));
    CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    ::close(idle);

    // Every slot held by a stranger: a new connection closes the oldest of them.
    std::vector<int> strangers;
    for (int i = 0; i < 8; ++i) strangers.push_back(connect_to(a.server->port()));
    std::this_thread::sleep_for(50ms);
    auto r = a.call("GET", "/api/info", {}, 2000);
    CHECK(r.status == 200);
    CHECK(closed_within(strangers.front(), 1000));
    for (int fd : strangers) ::close(fd);
}

TEST_CASE("an authenticated keep-alive connection keeps the long idle timeout", "[hardening][admin]") {
    admin_server_settings s;
    s.header_timeout_ms = 300;
    admin_stack a(s);
    const int fd = connect_to(a.server->port());
    const std::string req = std::string("GET /api/info HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ") +
                            admin_stack::key + "\r\n\r\n";
    REQUIRE(::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size()));
    char b[4096];
    timeval tv{2, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    REQUIRE(::recv(fd, b, sizeof b, 0) > 0);
    // Past the stranger's header timeout, the connection is still open.
    std::this_thread::sleep_for(800ms);
    REQUIRE(::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
    const ssize_t n = ::recv(fd, b, sizeof b, 0);
    REQUIRE(n > 0);
    CHECK(std::string(b, static_cast<size_t>(n)).rfind("HTTP/1.1 200", 0) == 0);
    ::close(fd);
}

TEST_CASE("admin-chosen tokens and PSK keys have minimum lengths, short ones are warned about",
          "[hardening][credentials]") {
    credential_rules rules;
    rules.min_psk_key_length = 4;
    admin_stack a({}, rules);
    auto r = a.call("POST", "/api/devices", R"({"name":"a","token":"abc"})");
    CHECK(r.status == 400);
    CHECK(r.body.find("at least 4 characters") != std::string::npos);
    r = a.call("POST", "/api/devices", R"({"name":"b","token":"TOKEN1"})");
    CHECK(r.status == 201);
    CHECK(r.body.find(R"("warning":"the access token has 6 characters)") != std::string::npos);
    CHECK(a.log.all().find("device 'b': the access token has 6 characters") != std::string::npos);
    r = a.call("POST", "/api/devices", R"({"name":"c","token":"0123456789abcdef"})");
    CHECK(r.status == 201);
    CHECK(r.body.find("warning") == std::string::npos);
    r = a.call("POST", "/api/devices", R"({"name":"d"})");  // generated: 20 characters, no warning
    CHECK(r.status == 201);
    CHECK(r.body.find("warning") == std::string::npos);
    r = a.call("PUT", "/api/devices/c/credentials", R"({"pskIdentity":"c","pskKey":"a1b2c3"})");
    CHECK(r.status == 400);
    CHECK(r.body.find("at least 4 bytes") != std::string::npos);
    r = a.call("PUT", "/api/devices/c/credentials", R"({"pskIdentity":"c","pskKey":"a1b2c3d4"})");
    CHECK(r.status == 200);
    CHECK(r.body.find("the PSK key has 4 bytes") != std::string::npos);
    r = a.call("PATCH", "/api/devices/c", R"({"token":"x"})");
    CHECK(r.status == 400);
}

TEST_CASE("loopback_only tells which admin binds stay on this machine", "[hardening][admin]") {
    CHECK(loopback_only("127.0.0.1:8080"));
    CHECK(loopback_only("127.3.2.1:1"));
    CHECK(loopback_only("[::1]:8080"));
    CHECK(loopback_only("[::ffff:127.0.0.1]:8080"));
    CHECK_FALSE(loopback_only("0.0.0.0:8080"));
    CHECK_FALSE(loopback_only("[::]:8080"));
    CHECK_FALSE(loopback_only("192.168.1.10:8080"));
    CHECK_FALSE(loopback_only("nonsense"));
}
