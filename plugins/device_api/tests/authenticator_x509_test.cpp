// authenticator over DTLS: an X.509 client chain walked leaf first, PSK identities, what a
// session remembers.
#include <catch2/catch.hpp>

#include <string>
#include <unistd.h>

#include "service_fixture.hpp"
#include "tern/credential_id/credential_id.hpp"

using namespace tern;
using namespace tern::device_api;
using namespace tern::device_api::test;

// ---- X.509 / PSK over DTLS --------------------------------------------------------------------

TEST_CASE("api: an X.509 DTLS session authenticates token-less paths", "[api][x509]") {
    fixture f;
    const std::string der = "\x30\x82\x01\x0a-not-really-der";
    const std::string text = credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    fake_device cam;
    cam.id = 20;
    cam.credential_value = text;
    f.core.credentials[{TERN_CREDENTIAL_X509, credential_id::x509_id(text)}] = cam;
    f.dtls.certs[77] = der;
    f.start();
    req r;
    r.path = "/api/v1/telemetry";
    r.payload = R"({"a":1})";
    r.transport = "dtls";
    r.session = 77;
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.telemetry_posts.back().device == 20);
    // cached per session: no second peer_auth or lookup; the token, if any, is ignored
    r.path = "/api/v1/IGNORED/telemetry";
    r.port = 40001;  // a new address, same session (docs/device-api.md §0.4)
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.telemetry_posts.back().device == 20);
    CHECK(f.dtls.calls == 1);
    CHECK(f.core.auth_calls == 1);
    // the identity is forgotten after dtls_session_inactivity_timeout without requests
    f.reactor.advance(86400000 * ms);
    r.path = "/api/v1/telemetry";
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.dtls.calls == 2);
}

TEST_CASE("api: an X.509 hash whose stored certificate differs falls back to the token", "[api][x509]") {
    fixture f;
    const std::string der = "leaf";
    const std::string text = credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    fake_device cam;
    cam.id = 21;
    cam.credential_value = "SOMETHING ELSE";
    f.core.credentials[{TERN_CREDENTIAL_X509, credential_id::x509_id(text)}] = cam;
    f.dtls.certs[5] = der;
    f.start();
    req r;
    r.transport = "dtls";
    r.session = 5;
    r.path = "/api/v1/telemetry";
    r.payload = "{}";
    CHECK(f.answer(f.send(r)).code == c401);
    r.path = "/api/v1/T1/telemetry";
    CHECK(f.answer(f.send(r)).code == c201);
    // no certificate (one-way DTLS): token paths as usual
    r.session = 6;
    CHECK(f.answer(f.send(r)).code == c201);
}

// A client chain for session 40, leaf first, and how the core knows its certificates.
struct chain_fixture : fixture {
    std::vector<std::string> der{"leaf-der", "intermediate-der", "root-der"};
    static std::string text_of(const std::string& der) {
        return credential_id::x509_text(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(der.data()), der.size()));
    }
    std::string hash_of(std::size_t i) const { return credential_id::x509_id(text_of(der[i])); }
    // Certificate i registered as device id; stored is the credential value kept for it.
    void register_cert(std::size_t i, uint64_t id, std::string stored = {}) {
        fake_device d;
        d.id = id;
        d.credential_value = stored.empty() ? text_of(der[i]) : std::move(stored);
        core.credentials[{TERN_CREDENTIAL_X509, hash_of(i)}] = d;
    }
    uint64_t telemetry(const std::string& path = "/api/v1/telemetry") {
        req r;
        r.path = path;
        r.payload = R"({"t":1})";
        r.transport = "dtls";
        r.session = 40;
        return send(r);
    }
    void start_chain() {
        dtls.chains[40] = der;
        start();
    }
};

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a registered leaf is the device, the chain is not walked further",
                 "[api][x509]") {
    register_cert(0, 50);
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 50);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: only the intermediate registered identifies its device",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    // leaf first, then the intermediate; the root is never asked
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    // bound to the session: later requests ask neither the transport nor the core
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(dtls.calls == 1);
    CHECK(core.auth_calls == 2);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: the root alone registered is found last", "[api][x509]") {
    register_cert(2, 52);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 52);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1), hash_of(2)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: no certificate registered leaves the token to decide",
                 "[api][x509]") {
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1), hash_of(2)});
    CHECK(answer(telemetry("/api/v1/T1/telemetry")).code == c201);
    CHECK(core.telemetry_posts.back().device == 1);
    // the miss is remembered for the session: no second walk
    CHECK(answer(telemetry()).code == c401);
    CHECK(dtls.calls == 1);
    CHECK(core.auth_calls == 4);  // three certificates, one token
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a miss lasts the session until a credential changes",
                 "[api][x509][security]") {
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    // well past auth_cache_ttl, within the DTLS session's lifetime: still no second walk
    reactor.advance(600000 * ms);
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_calls == 3);
    // the intermediate is registered now: the core announces the new credential, and the
    // session's next request walks again and finds it
    register_cert(1, 51);
    a->on_device_event(51, TERN_DEVICE_CREDENTIALS_CHANGED);
    reactor.run_pending();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_calls == 5);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a leaf hash with another stored text passes to the intermediate",
                 "[api][x509]") {
    register_cert(0, 50, "SOMETHING ELSE");
    register_cert(1, 51);
    start_chain();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: a core error stops the walk with 5.00 (busy: 5.03) and nothing is kept",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    SECTION("on the leaf: the intermediate is not asked") {
        core.failing[hash_of(0)] = TERN_INTERNAL;
        CHECK(answer(telemetry()).code == c500);
        CHECK(core.auth_values == std::vector<std::string>{hash_of(0)});
    }
    SECTION("on the intermediate, after the leaf missed") {
        core.failing[hash_of(1)] = TERN_BUSY;
        const auto& r = answer(telemetry());
        CHECK(r.code == c503);  // busy: 5.03 with Max-Age, so the device backs off
        CHECK(r.max_age == 5);
        CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    }
    CHECK(core.telemetry_posts.empty());
    // nothing was cached for the session: the next request walks again and succeeds
    core.failing.clear();
    core.auth_values.clear();
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(core.auth_values == std::vector<std::string>{hash_of(0), hash_of(1)});
    CHECK(dtls.calls == 2);
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: at most 16 certificates are looked up", "[api][x509]") {
    der.clear();
    for (int i = 0; i < 20; ++i) der.push_back("cert-" + std::to_string(i));
    register_cert(16, 66);  // the 17th: past the bound
    start_chain();
    CHECK(answer(telemetry()).code == c401);
    CHECK(core.auth_calls == 16);
    CHECK(core.auth_values.back() == hash_of(15));
}

TEST_CASE_METHOD(chain_fixture, "api: X.509 chain: an invalidation during the walk answers but does not bind",
                 "[api][x509]") {
    register_cert(1, 51);
    start_chain();
    core.defer = true;
    const uint64_t x = telemetry();
    core.run_deferred();  // the leaf misses: the intermediate is asked
    reactor.run_pending();
    a->on_device_event(51, TERN_DEVICE_CREDENTIALS_CHANGED);
    reactor.run_pending();
    core.run_deferred();  // the intermediate's device
    reactor.run_pending();
    core.run_deferred();  // the telemetry write
    CHECK(answer(x).code == c201);
    CHECK(core.telemetry_posts.back().device == 51);
    CHECK(a->shard(0).sessions.size() == 0);
    core.defer = false;
    REQUIRE(answer(telemetry()).code == c201);
    CHECK(dtls.calls == 2);
}

TEST_CASE("api: a PSK session authenticates by its identity", "[api][x509]") {
    fixture f;
    fake_device p;
    p.id = 30;
    f.core.credentials[{TERN_CREDENTIAL_PSK, "sensor-7"}] = p;
    f.dtls.psk[9] = "sensor-7";
    f.start();
    req r;
    r.transport = "dtls";
    r.session = 9;
    r.path = "/api/v1/attributes";
    r.payload = R"({"x":1})";
    CHECK(f.answer(f.send(r)).code == c201);
    CHECK(f.core.attribute_posts.back().first == 30);
}
