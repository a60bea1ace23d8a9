// ota_cache against a real nats-server and a core stub serving ota.chunk from memory: chunked
// fetch with size and checksum checked, one fetch for concurrent callers, hits without
// requests, damaged copies refused, the LRU byte bound, the directory indexed at start.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixture.hpp"
#include "node_harness.hpp"
#include "ota_cache.hpp"
#include "package_digest.hpp"

using namespace c2_test;
namespace fs = std::filesystem;

namespace {

std::string blob(std::size_t n, unsigned seed) {
    std::string s(n, '\0');
    uint32_t x = seed * 2654435761u + 1;
    for (auto& c : s) {
        x = x * 1103515245u + 12345u;
        c = static_cast<char>(x >> 24);
    }
    return s;
}

std::string digest(const char* algorithm, std::string_view data) {
    auto d = cn::package_digest::make(algorithm);
    REQUIRE(d);
    REQUIRE(d->update(data.data(), data.size()));
    return d->hex();
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// A core stub serving the core node's OTA files (package id -> content) in chunks on
// t.core.v1.ota.chunk. The handler runs under mu; answer (not OK: every chunk request gets it)
// and delay_ms (before each reply) change what it does.
struct chunk_core : core_stub {
    std::map<uint64_t, std::string> files;
    std::atomic<tern_status> answer{TERN_OK};
    std::atomic<int> delay_ms{0};

    explicit chunk_core(const nats_server& srv, std::map<uint64_t, std::string> served = {}, int delay = 0)
        : core_stub(srv), files(std::move(served)), delay_ms(delay) {
        serve("t.core.v1.ota.chunk", [this](std::string_view req) { return reply(req); });
    }
    ~chunk_core() { close(); }

private:
    // (No Catch macro: off the test thread.)
    std::optional<std::string> reply(std::string_view req) {
        wire::ota_chunk_request r;
        if (!dec.decode(bytes(req), r)) return std::nullopt;
        if (delay_ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms.load()));
        wire::ota_chunk_reply out;
        std::string data;
        auto it = files.find(r.package_id);
        if (answer != TERN_OK || it == files.end()) {
            out.status = answer != TERN_OK ? answer.load() : TERN_NOT_FOUND;
            out.message = str("no such package");
        } else {
            out.total_size = it->second.size();
            if (r.offset < it->second.size()) data = it->second.substr(r.offset, r.length);
        }
        out.data = bytes(data);
        std::string wire_out;
        if (!enc.encode(out, wire_out)) return std::nullopt;
        return wire_out;
    }
};

struct package {
    tern_ota_package p{};
    std::string title = "fw", version = "1.0", checksum, algorithm, path = "/core/node/file";

    package(uint64_t id, const std::string& data, const char* algo = "SHA256") : algorithm(algo) {
        checksum = algorithm.empty() ? std::string() : digest(algo, data);
        p.struct_size = sizeof p;
        p.type = TERN_OTA_FIRMWARE;
        p.package_id = id;
        p.size = data.size();
        refresh();
    }
    void refresh() {
        p.title = str(title);
        p.version = str(version);
        p.checksum = str(checksum);
        p.checksum_algorithm = str(algorithm);
        p.path = str(path);
    }
};

struct outcome {
    tern_status status = TERN_INTERNAL;
    std::string path, title, checksum, content;
};

// Runs localize and waits for its completion (reading the file inside it, as device_api does).
struct call {
    std::mutex mu;
    std::condition_variable cv;
    std::optional<outcome> got;

    cn::ota_hook::done_fn done() {
        return [this](tern_status st, const tern_ota_package* local) {
            outcome o;
            o.status = st;
            if (local != nullptr) {
                o.path = text(local->path);
                o.title = text(local->title);
                o.checksum = text(local->checksum);
                o.content = read_file(o.path);
            }
            std::lock_guard lk(mu);
            got = std::move(o);
            cv.notify_all();
        };
    }
    outcome wait(std::chrono::milliseconds bound = 10s) {
        std::unique_lock lk(mu);
        REQUIRE(cv.wait_for(lk, bound, [&] { return got.has_value(); }));
        return *got;
    }
};

struct ota_world {
    std::string dir;
    node_harness h;
    cn::ota_cache cache;

    static std::string temp_dir() {
        char tmpl[] = "/tmp/tern-ota-cache-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        return tmpl;
    }
    explicit ota_world(const nats_server& srv, std::string d = temp_dir(), uint64_t max_bytes = 1u << 20,
                       cn::ota_cache::options o = {64u << 10, 4, 64})
        : dir(std::move(d)),
          h(srv, [&](testing::map_config& c) {
              c.set("ota_cache_dir", dir);
              c.set("ota_cache_max_bytes", static_cast<int64_t>(max_bytes));
              c.set("ota_fetch_timeout", 2000);
          }),
          cache(*h.node, o) {
        h.node->set_ota(&cache);
        cache.register_metrics(h.sdk_host());
        cache.start();
        h.open();
    }
    ~ota_world() {
        cache.stop();
        h.node->close();
        std::error_code ec;
        if (remove_dir) fs::remove_all(dir, ec);
    }
    bool remove_dir = true;
    outcome localize(uint64_t device, const package& p) {
        call c;
        cache.localize(device, p.p, c.done());
        return c.wait();
    }
    std::size_t temp_files() {
        std::size_t n = 0;
        for (auto& e : fs::directory_iterator(dir)) n += e.path().filename().string().starts_with(".tmp-");
        return n;
    }
};

}  // namespace

TEST_CASE("ota_cache: the digests match known vectors", "[ota_cache]") {
    CHECK(digest("SHA256", "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest("sha-256", "abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(digest("MD5", "abc") == "900150983cd24fb0d6963f7d28e17f72");
    CHECK(digest("CRC32", "123456789") == "cbf43926");
    CHECK(digest("SHA384", "abc").substr(0, 16) == "cb00753f45a35e8b");
    CHECK(digest("SHA512", "abc").substr(0, 16) == "ddaf35a193617aba");
    CHECK(cn::package_digest::make("MURMUR3_128") == nullptr);
    CHECK(cn::package_digest::same_hex("ABCdef", "abcDEF"));
}

TEST_CASE("ota_cache: a package is fetched in chunks, checked, and handed out as a local file", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(200000, 1);  // 4 chunks of 64 KiB
    chunk_core core(srv, {{11, data}});
    ota_world w(srv);

    package p(11, data);
    const outcome o = w.localize(5, p);
    REQUIRE(o.status == TERN_OK);
    CHECK(o.path == w.dir + "/11-" + p.checksum);
    CHECK(o.content == data);
    CHECK(o.title == "fw");
    CHECK(o.checksum == p.checksum);
    CHECK(core.calls("t.core.v1.ota.chunk") == 4);
    CHECK(w.cache.stored_bytes() == data.size());
    CHECK(w.h.metric("core_nats_ota_cache_bytes") == static_cast<int64_t>(data.size()));
    CHECK(w.h.metric("core_nats_requests_total", "op=\"ota_chunk\"") == 4);
    CHECK(w.temp_files() == 0);

    // Next time: from the cache, inline, no request.
    const outcome again = w.localize(6, p);
    CHECK(again.status == TERN_OK);
    CHECK(again.content == data);
    CHECK(core.calls("t.core.v1.ota.chunk") == 4);

    // Without a checksum the size names the copy; a package of 0 bytes needs no request.
    package unsummed(11, data, "");
    const outcome by_size = w.localize(5, unsummed);
    REQUIRE(by_size.status == TERN_OK);
    CHECK(by_size.path == w.dir + "/11-s200000");
    CHECK(by_size.content == data);
    core.files[12] = "";
    package empty(12, "", "MD5");
    const outcome e = w.localize(5, empty);
    REQUIRE(e.status == TERN_OK);
    CHECK(e.content.empty());
}

TEST_CASE("ota_cache: concurrent callers of one package share one fetch", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(150000, 2);  // 3 chunks
    chunk_core core(srv, {{21, data}}, 30);
    ota_world w(srv);

    package p(21, data, "MD5");
    std::vector<std::unique_ptr<call>> calls;
    for (int i = 0; i < 10; ++i) {
        calls.push_back(std::make_unique<call>());
        w.cache.localize(100 + i, p.p, calls.back()->done());
    }
    for (auto& c : calls) {
        const outcome o = c->wait();
        REQUIRE(o.status == TERN_OK);
        CHECK(o.content == data);
    }
    CHECK(core.calls("t.core.v1.ota.chunk") == 3);
    CHECK(w.h.metric("core_nats_ota_cache_fetches_total") == 1);
}

TEST_CASE("ota_cache: a copy whose checksum or size is wrong is refused and not kept", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(100000, 3);
    chunk_core core(srv, {{31, data}});
    ota_world w(srv);

    package wrong_sum(31, data);
    wrong_sum.checksum = digest("SHA256", "something else");
    wrong_sum.refresh();
    CHECK(w.localize(1, wrong_sum).status == TERN_INTERNAL);

    package wrong_size(31, data);
    wrong_size.p.size = data.size() + 1;
    CHECK(w.localize(1, wrong_size).status == TERN_INTERNAL);

    CHECK(w.h.metric("core_nats_ota_cache_damaged_total") == 2);
    CHECK(w.cache.files() == 0);
    CHECK(w.cache.stored_bytes() == 0);
    CHECK(w.temp_files() == 0);
    CHECK(std::distance(fs::directory_iterator(w.dir), fs::directory_iterator()) == 0);

    // The right package still works afterwards.
    package right(31, data);
    CHECK(w.localize(1, right).status == TERN_OK);
}

TEST_CASE("ota_cache: what the core node answers reaches every waiting caller", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    chunk_core core(srv);  // knows no package: NOT_FOUND
    ota_world w(srv);

    package p(41, blob(1000, 4));
    std::vector<std::unique_ptr<call>> calls;
    for (int i = 0; i < 3; ++i) {
        calls.push_back(std::make_unique<call>());
        w.cache.localize(1, p.p, calls.back()->done());
    }
    for (auto& c : calls) CHECK(c->wait().status == TERN_NOT_FOUND);
    CHECK(w.h.metric("core_nats_request_failures_total", "op=\"ota_chunk\",status=\"not_found\"") == 1);
}

TEST_CASE("ota_cache: without a core node serving chunks the caller gets UNAVAILABLE at once", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    ota_world w(srv);
    CHECK(w.localize(1, package(42, blob(10, 5))).status == TERN_UNAVAILABLE);
    CHECK(w.temp_files() == 0);
}

TEST_CASE("ota_cache: the byte bound deletes the least recently used package first", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string a = blob(400000, 6), b = blob(400000, 7), c = blob(400000, 8);
    chunk_core core(srv, {{1, a}, {2, b}, {3, c}});
    ota_world w(srv);  // 1 MiB: two of them fit

    package pa(1, a), pb(2, b), pc(3, c);
    REQUIRE(w.localize(9, pa).status == TERN_OK);
    REQUIRE(w.localize(9, pb).status == TERN_OK);
    REQUIRE(w.localize(9, pa).status == TERN_OK);  // a is now more recent than b
    // (The worker unpins a fetched file just after its completions returned.)
    std::this_thread::sleep_for(100ms);
    REQUIRE(w.localize(9, pc).status == TERN_OK);  // b goes
    CHECK(w.cache.files() == 2);
    CHECK(w.cache.stored_bytes() == 800000);
    CHECK(fs::exists(w.dir + "/1-" + pa.checksum));
    CHECK_FALSE(fs::exists(w.dir + "/2-" + pb.checksum));
    CHECK(fs::exists(w.dir + "/3-" + pc.checksum));

    // Bigger than the whole cache: refused, counted.
    const std::string huge = blob((1u << 20) + 1, 9);
    core.files[4] = huge;
    CHECK(w.localize(9, package(4, huge)).status == TERN_INTERNAL);
    CHECK(w.h.metric("core_nats_ota_cache_refused_total", "reason=\"too_large\"") == 1);
}

TEST_CASE("ota_cache: past max_waiters callers get BUSY", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(10000, 10);
    chunk_core core(srv, {{51, data}}, 200);
    ota_world w(srv, ota_world::temp_dir(), 1u << 20, cn::ota_cache::options{64u << 10, 4, 2});

    package p(51, data);
    call c1, c2, c3;
    w.cache.localize(1, p.p, c1.done());
    w.cache.localize(2, p.p, c2.done());
    w.cache.localize(3, p.p, c3.done());
    CHECK(c3.wait().status == TERN_BUSY);
    CHECK(c1.wait().status == TERN_OK);
    CHECK(c2.wait().status == TERN_OK);
    CHECK(w.h.metric("core_nats_ota_cache_refused_total", "reason=\"busy\"") == 1);
}

TEST_CASE("ota_cache: a restart finds the packages already fetched and deletes unfinished ones", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(70000, 11);
    chunk_core core(srv, {{61, data}});
    const std::string dir = ota_world::temp_dir();
    package p(61, data);
    {
        ota_world w(srv, dir);
        w.remove_dir = false;
        REQUIRE(w.localize(1, p).status == TERN_OK);
    }
    std::ofstream(dir + "/.tmp-61-abc-1") << "half";
    std::ofstream(dir + "/notes.txt") << "not ours";
    ota_world w(srv, dir);
    CHECK(w.cache.files() == 1);
    CHECK(w.temp_files() == 0);
    CHECK(fs::exists(dir + "/notes.txt"));
    const auto before = core.calls("t.core.v1.ota.chunk");
    const outcome o = w.localize(1, p);
    CHECK(o.status == TERN_OK);
    CHECK(o.content == data);
    CHECK(core.calls("t.core.v1.ota.chunk") == before);

    // A cached file deleted behind the cache's back is fetched again.
    fs::remove(o.path);
    const outcome again = w.localize(1, p);
    CHECK(again.status == TERN_OK);
    CHECK(again.content == data);
    CHECK(core.calls("t.core.v1.ota.chunk") > before);
}

TEST_CASE("ota_cache: a folder that does not exist yet is made by the first fetch, a file in its place stops the start",
          "[ota_cache]") {
    C2_NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(5000, 12);
    chunk_core core(srv, {{71, data}});
    const std::string parent = ota_world::temp_dir();
    {
        ota_world w(srv, parent + "/deep/cache");
        CHECK_FALSE(fs::exists(w.dir));
        const outcome o = w.localize(1, package(71, data));
        REQUIRE(o.status == TERN_OK);
        CHECK(o.path == parent + "/deep/cache/71-" + package(71, data).checksum);
    }
    std::ofstream(parent + "/plain") << "x";
    node_harness h(srv, [&](testing::map_config& c) { c.set("ota_cache_dir", parent + "/plain"); });
    cn::ota_cache cache(*h.node);
    CHECK_THROWS(cache.start());
    fs::remove_all(parent);
}

// ---- through the plugin, as device_api sees it -------------------------------------------------

TEST_CASE("ota_cache: the plugin's ota_package hands out a local copy of the core node's file", "[ota_cache]") {
    C2_NATS_OR_SKIP();
    namespace ct = core_nats_test;
    nats_server srv;
    REQUIRE(srv.start());
    const std::string data = blob(300000, 13);
    const std::string sum = digest("SHA256", data);
    core_stub core(srv);
    core.serve("t.core.v1.ota.package", [&core, &sum, &data](std::string_view req) -> std::optional<std::string> {
        wire::ota_package_request in;
        if (!core.dec.decode(bytes(req), in)) return std::nullopt;
        tern_ota_package pkg{};
        pkg.struct_size = sizeof pkg;
        pkg.type = in.type;
        pkg.package_id = 81;
        pkg.title = str("fw");
        pkg.version = str("3.0");
        pkg.size = data.size();
        pkg.checksum = str(sum);
        pkg.checksum_algorithm = str("SHA256");
        pkg.path = str("/var/lib/tern/ota/81.bin");  // the core node's file
        std::string out;
        core.enc.encode(wire::ota_package_reply{TERN_OK, {}, &pkg}, out);
        return out;
    });
    chunk_core chunks(srv, {{81, data}});
    const std::string dir = ota_world::temp_dir();
    ct::plugin p(srv, [&](testing::map_config& c) { c.set("ota_cache_dir", dir); });
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    struct got {
        tern_status status = TERN_INTERNAL;
        std::string path, version, content;
    };
    auto fetch = [&] {
        ct::result<got> r;
        p.get<tern::core_ota_v1>().ota_package(
            5, TERN_OTA_FIRMWARE,
            [](void* ctx, tern_status st, const tern_ota_package* pkg) {
                got g;
                g.status = st;
                if (pkg != nullptr) {
                    g.path = text(pkg->path);
                    g.version = text(pkg->version);
                    g.content = read_file(g.path);
                }
                static_cast<ct::result<got>*>(ctx)->set(g);
            },
            &r);
        return r.get(10s);
    };
    const got first = fetch();
    REQUIRE(first.status == TERN_OK);
    CHECK(first.path == dir + "/81-" + sum);
    CHECK(first.version == "3.0");
    CHECK(first.content == data);
    CHECK(chunks.calls("t.core.v1.ota.chunk") == 2);  // 256 KiB chunks
    const got second = fetch();
    CHECK(second.status == TERN_OK);
    CHECK(second.content == data);
    CHECK(chunks.calls("t.core.v1.ota.chunk") == 2);
    CHECK(p.metric("core_nats_ota_cache_bytes") == static_cast<int64_t>(data.size()));
    p.inst.reset();
    fs::remove_all(dir);
}
