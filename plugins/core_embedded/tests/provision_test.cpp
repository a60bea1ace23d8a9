// Claiming (docs/device-api.md §5.1) and every branch of provisioning (docs/device-api.md §5.2).
#include <map>
#include <thread>

#include "../../../libs/x509_der/tests/test_certs.hpp"
#include "crypto.hpp"
#include "support.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;

namespace {
core_metrics metrics;

std::pair<tern_status, std::string> claim(embedded_core& c, uint64_t device, const std::string& secret, int64_t duration) {
    done_wait w;
    c.claim(device, to_str(secret), duration, &done_wait::fn, &w);
    return w.get();
}

result<device> complete(embedded_core& c, const std::string& name, const std::string& secret, const std::string& owner = "") {
    return await<device>([&](auto cb) { c.complete_claim(name, secret, owner, cb); });
}

struct provision_out {
    tern_status status = TERN_OK;
    tern_provision_status result = TERN_PROVISION_UNKNOWN;
    tern_credential_kind type = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string value, client_id, username, password;
};

struct provision_request {
    tern_credential_kind type = TERN_CREDENTIAL_ACCESS_TOKEN;
    std::string name, key, secret, token, client_id, username, password, hash;
    bool gateway = false;
};

provision_out provision(embedded_core& c, const provision_request& in) {
    tern_provision_request r{};
    r.struct_size = sizeof r;
    r.credentials_type = in.type;
    r.device_name = to_str(in.name);
    r.provision_key = to_str(in.key);
    r.provision_secret = to_str(in.secret);
    r.token = to_str(in.token);
    r.client_id = to_str(in.client_id);
    r.username = to_str(in.username);
    r.password = to_str(in.password);
    r.hash = to_str(in.hash);
    r.gateway = in.gateway ? 1 : 0;
    std::promise<provision_out> p;
    auto f = p.get_future();
    c.provision(&r, [](void* ctx, tern_status s, const tern_provision_result* res) {
        provision_out o;
        o.status = s;
        if (res != nullptr) {
            o.result = res->status;
            o.type = res->credentials_type;
            o.value = tern::sdk::to_sv(res->credentials_value);
            o.client_id = tern::sdk::to_sv(res->client_id);
            o.username = tern::sdk::to_sv(res->username);
            o.password = tern::sdk::to_sv(res->password);
        }
        static_cast<std::promise<provision_out>*>(ctx)->set_value(o);
    }, &p);
    REQUIRE(f.wait_for(deadline) == std::future_status::ready);
    return f.get();
}

struct provision_fixture {
    temp_dir dir;
    embedded_core core{metrics, {}};
    provision_fixture() {
        core.start(settings_for(dir));
        profile_spec create;
        create.name = "create";
        create.strategy = provision_strategy::allow_create;
        create.provision_key = "create-key";
        create.provision_secret = "create-secret";
        REQUIRE(await<profile>([&](auto cb) { core.create_profile(create, cb); }).ok());
        profile_spec pre;
        pre.name = "pre";
        pre.strategy = provision_strategy::pre_provisioned;
        pre.provision_key = "pre-key";
        pre.provision_secret = "pre-secret";
        REQUIRE(await<profile>([&](auto cb) { core.create_profile(pre, cb); }).ok());
        profile_spec off;
        off.name = "off";
        off.strategy = provision_strategy::disabled;
        off.provision_key = "off-key";
        off.provision_secret = "off-secret";
        REQUIRE(await<profile>([&](auto cb) { core.create_profile(off, cb); }).ok());
    }
    size_t device_count() {
        return await<std::vector<device>>([&](auto cb) { core.list_devices("", 0, 0, cb); }).value.size();
    }
    std::optional<attribute> server_attr(const std::string& dev, const std::string& key) {
        auto r = await<attribute_set>([&](auto cb) { core.read_attributes(dev, 1u << TERN_SCOPE_SERVER, {key}, cb); });
        REQUIRE(r.ok());
        if (r.value.server.empty()) return std::nullopt;
        return r.value.server[0];
    }
};

provision_request create_req(std::string name = "") {
    provision_request r;
    r.name = std::move(name);
    r.key = "create-key";
    r.secret = "create-secret";
    return r;
}

}  // namespace

TEST_CASE("claim: registered by the device, completed by the operator with the secret", "[claim]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.claim_duration_ms = 60000;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "c");

    CHECK(complete(core, "c", "k").status == TERN_NOT_FOUND);  // nothing registered
    REQUIRE(claim(core, d.id, "s3cret", 0).first == TERN_OK);  // 0: the default duration
    auto shown = await<device>([&](auto cb) { core.get_device("c", cb); });
    REQUIRE(shown.value.claim.registered);
    CHECK(shown.value.claim.expires_ts - shown.value.claim.registered_ts == 60000);

    auto wrong = complete(core, "c", "guess");
    CHECK(wrong.status == TERN_PERMISSION);
    auto ok = complete(core, "c", "s3cret", "alice");
    REQUIRE(ok.ok());
    CHECK(ok.value.claim.claimed_by == "alice");
    CHECK(ok.value.claim.claimed_ts > 0);
    CHECK(complete(core, "c", "s3cret").status == TERN_EXISTS);
    CHECK(claim(core, d.id, "again", 0).first == TERN_EXISTS);  // already claimed

    REQUIRE(await<none>([&](auto cb) { core.remove_claim("c", cb); }).ok());
    CHECK(claim(core, d.id, "again", 0).first == TERN_OK);
    CHECK(complete(core, "c", "again").value.claim.claimed_by == "admin");  // default owner

    SECTION("an expired claim cannot be completed") {
        const device e = add_device(core, "e");
        REQUIRE(claim(core, e.id, "", 1).first == TERN_OK);  // empty secret is a secret too
        std::this_thread::sleep_for(20ms);
        CHECK(complete(core, "e", "").status == TERN_TIMEOUT);
    }
    SECTION("an unknown device cannot claim") { CHECK(claim(core, 9999, "x", 0).first == TERN_NOT_FOUND); }
}

TEST_CASE("claim: without claim_allowed_by_default the device needs claimingAllowed", "[claim]") {
    temp_dir dir;
    core_settings s = settings_for(dir);
    s.claim_allowed_by_default = false;
    embedded_core core(metrics, {});
    core.start(s);
    const device d = add_device(core, "c");
    CHECK(claim(core, d.id, "x", 0).first == TERN_PERMISSION);
    REQUIRE(await<none>([&](auto cb) { core.set_attributes("c", TERN_SCOPE_SERVER, {make_kv("claimingAllowed", value::of_bool(false))}, cb); }).ok());
    CHECK(claim(core, d.id, "x", 0).first == TERN_PERMISSION);
    REQUIRE(await<none>([&](auto cb) { core.set_attributes("c", TERN_SCOPE_SERVER, {make_kv("claimingAllowed", value::of_bool(true))}, cb); }).ok());
    CHECK(claim(core, d.id, "x", 0).first == TERN_OK);
}

TEST_CASE("provision, allow-create: SUCCESS creates the device with the credentials asked for", "[provision]") {
    provision_fixture f;
    SECTION("a token from the request") {
        auto r = create_req("dev-a");
        r.token = "my-token";
        auto o = provision(f.core, r);
        REQUIRE(o.status == TERN_OK);
        CHECK(o.result == TERN_PROVISION_SUCCESS);
        CHECK(o.type == TERN_CREDENTIAL_ACCESS_TOKEN);
        CHECK(o.value == "my-token");
        auto a = authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "my-token");
        CHECK(a.name == "dev-a");
        CHECK(a.profile == "create");
        auto state = f.server_attr("dev-a", "provisionState");
        REQUIRE(state);
        CHECK(state->v == value::of_str("provisioned"));
    }
    SECTION("no credentials: a generated token; no name: a random 20-character name") {
        auto o = provision(f.core, create_req());
        REQUIRE(o.result == TERN_PROVISION_SUCCESS);
        CHECK(o.type == TERN_CREDENTIAL_ACCESS_TOKEN);
        CHECK(o.value.size() == 20);
        auto a = authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, o.value);
        REQUIRE(a.status == TERN_OK);
        CHECK(a.name.size() == 20);
        CHECK(std::all_of(a.name.begin(), a.name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)); }));
    }
    SECTION("a name is trimmed") {
        auto o = provision(f.core, create_req("  padded  "));
        REQUIRE(o.result == TERN_PROVISION_SUCCESS);
        CHECK(authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, o.value).name == "padded");
    }
    SECTION("an X.509 certificate: stored trimmed, found by its SHA3-256") {
        const std::string b64 = tern::x509_der::test::fleet_leaf;
        std::string pem = "-----BEGIN CERTIFICATE-----\r\n";
        for (size_t i = 0; i < b64.size(); i += 64) pem += b64.substr(i, 64) + "\r\n";
        pem += "-----END CERTIFICATE-----\r\n";
        auto r = create_req("dev-x");
        r.type = TERN_CREDENTIAL_X509;
        r.hash = pem;
        auto o = provision(f.core, r);
        REQUIRE(o.result == TERN_PROVISION_SUCCESS);
        CHECK(o.type == TERN_CREDENTIAL_X509);
        CHECK(o.value == b64);
        auto a = authenticate(f.core, TERN_CREDENTIAL_X509, sha3_256_hex(b64));
        CHECK(a.name == "dev-x");
        CHECK(a.credential == b64);
    }
    SECTION("MQTT basic credentials come back field by field") {
        auto r = create_req("dev-m");
        r.type = TERN_CREDENTIAL_MQTT_BASIC;
        r.client_id = "cid";
        r.username = "user";
        r.password = "pw";
        auto o = provision(f.core, r);
        REQUIRE(o.result == TERN_PROVISION_SUCCESS);
        CHECK(o.type == TERN_CREDENTIAL_MQTT_BASIC);
        CHECK(o.client_id == "cid");
        CHECK(o.username == "user");
        CHECK(o.password == "pw");
    }
    SECTION("gateway: true is kept in the device's additional info") {
        auto r = create_req("gw");
        r.gateway = true;
        REQUIRE(provision(f.core, r).result == TERN_PROVISION_SUCCESS);
        auto d = await<device>([&](auto cb) { f.core.get_device("gw", cb); });
        CHECK(d.value.additional_info == "{\"gateway\":true}");
    }
}

TEST_CASE("provision: NOT_FOUND for a missing or wrong key or secret, and for disabled profiles", "[provision]") {
    provision_fixture f;
    auto expect_not_found = [&](provision_request r) {
        auto o = provision(f.core, r);
        CHECK(o.status == TERN_OK);
        CHECK(o.result == TERN_PROVISION_NOT_FOUND);
    };
    auto r = create_req("n");
    r.key.clear();
    expect_not_found(r);
    r = create_req("n");
    r.secret.clear();
    expect_not_found(r);
    r = create_req("n");
    r.key = "unknown-key";
    expect_not_found(r);
    r = create_req("n");
    r.secret = "wrong-secret";
    expect_not_found(r);
    r = create_req("n");
    r.key = "off-key";
    r.secret = "off-secret";
    expect_not_found(r);
    r = create_req("n");
    r.key = "pre-key";
    r.secret = "wrong";
    expect_not_found(r);
    CHECK(f.device_count() == 0);
}

TEST_CASE("provision: FAILURE for a blank name, an existing name, unusable or taken credentials", "[provision]") {
    provision_fixture f;
    auto expect_failure = [&](provision_request r) {
        auto o = provision(f.core, r);
        CHECK(o.status == TERN_OK);
        CHECK(o.result == TERN_PROVISION_FAILURE);
    };
    // a blank name is refused before the key is even looked at
    auto blank = create_req("   ");
    blank.key = "unknown-key";
    expect_failure(blank);

    add_device(f.core, "exists", token("taken"));
    expect_failure(create_req("exists"));

    auto taken = create_req("new-1");
    taken.token = "taken";
    expect_failure(taken);

    auto wrong_field = create_req("new-2");  // ACCESS_TOKEN asked, only a certificate given
    wrong_field.hash = "MIIB";
    expect_failure(wrong_field);

    auto lwm2m = create_req("new-3");
    lwm2m.type = TERN_CREDENTIAL_LWM2M;
    lwm2m.token = "x";
    expect_failure(lwm2m);

    auto mqtt_no_id = create_req("new-4");
    mqtt_no_id.type = TERN_CREDENTIAL_MQTT_BASIC;
    mqtt_no_id.password = "pw";
    expect_failure(mqtt_no_id);

    CHECK(f.device_count() == 1);  // nothing half-made
}

TEST_CASE("provision, pre-provisioned: the device must exist in the profile and is provisioned once", "[provision]") {
    provision_fixture f;
    add_device(f.core, "pre-dev", token("pre-token"), std::string("pre"));
    add_device(f.core, "elsewhere", token("other-token"));
    provision_request r;
    r.key = "pre-key";
    r.secret = "pre-secret";

    r.name = "missing";
    CHECK(provision(f.core, r).result == TERN_PROVISION_FAILURE);
    r.name = "elsewhere";  // exists, but not in this profile
    CHECK(provision(f.core, r).result == TERN_PROVISION_FAILURE);
    r.name.clear();
    CHECK(provision(f.core, r).result == TERN_PROVISION_FAILURE);

    r.name = "pre-dev";
    r.token = "ignored";  // the existing credentials are the answer
    auto o = provision(f.core, r);
    REQUIRE(o.result == TERN_PROVISION_SUCCESS);
    CHECK(o.type == TERN_CREDENTIAL_ACCESS_TOKEN);
    CHECK(o.value == "pre-token");
    auto state = f.server_attr("pre-dev", "provisionState");
    REQUIRE(state);
    CHECK(state->v == value::of_str("provisioned"));

    CHECK(provision(f.core, r).result == TERN_PROVISION_FAILURE);  // re-provisioning is refused
}

TEST_CASE("provision: a wrong key or secret is answered from a read, the writer never sees it", "[provision][security]") {
    provision_fixture f;
    const uint64_t ops = f.core.stats().writer.ops;
    for (int i = 0; i < 50; ++i) {
        auto wrong_secret = create_req("flood-" + std::to_string(i));
        wrong_secret.secret = "create-secreT";  // same length, last byte differs
        CHECK(provision(f.core, wrong_secret).result == TERN_PROVISION_NOT_FOUND);
        auto unknown_key = create_req("flood-" + std::to_string(i));
        unknown_key.key = "no-such-key";
        CHECK(provision(f.core, unknown_key).result == TERN_PROVISION_NOT_FOUND);
        provision_request disabled;
        disabled.key = "off-key";
        disabled.secret = "off-secret";
        CHECK(provision(f.core, disabled).result == TERN_PROVISION_NOT_FOUND);
        auto no_secret = create_req();
        no_secret.secret.clear();
        CHECK(provision(f.core, no_secret).result == TERN_PROVISION_NOT_FOUND);
    }
    CHECK(f.core.stats().writer.ops == ops);
    CHECK(f.device_count() == 0);
    // the right secret still goes through (one write)
    CHECK(provision(f.core, create_req("ok")).result == TERN_PROVISION_SUCCESS);
    CHECK(f.core.stats().writer.ops == ops + 1);
}

TEST_CASE("provision: X.509 credentials may not be a CA, registered, or the issuer of a registered certificate",
          "[provision][security][x509]") {
    namespace certs = tern::x509_der::test;
    provision_fixture f;
    auto x509 = [](std::string name, std::string cert) {
        auto r = create_req(std::move(name));
        r.type = TERN_CREDENTIAL_X509;
        r.hash = std::move(cert);
        return r;
    };
    const uint64_t ops = f.core.stats().writer.ops;
    SECTION("a CA certificate (basicConstraints CA:TRUE) is refused without a write") {
        CHECK(provision(f.core, x509("ca", certs::fleet_ca)).result == TERN_PROVISION_FAILURE);
        CHECK(f.core.stats().writer.ops == ops);
        CHECK(authenticate(f.core, TERN_CREDENTIAL_X509, sha3_256_hex(certs::fleet_ca)).status == TERN_NOT_FOUND);
        // a leaf it issued is fine
        CHECK(provision(f.core, x509("leaf", certs::fleet_leaf)).result == TERN_PROVISION_SUCCESS);
    }
    SECTION("text that is no certificate is refused") {
        CHECK(provision(f.core, x509("junk", "MIIBQ0VSVA==")).result == TERN_PROVISION_FAILURE);
        CHECK(provision(f.core, x509("junk", "not base64 at all")).result == TERN_PROVISION_FAILURE);
        CHECK(f.device_count() == 0);
    }
    SECTION("a certificate already registered is refused") {
        CHECK(provision(f.core, x509("self-1", certs::self_signed_device)).result == TERN_PROVISION_SUCCESS);
        CHECK(provision(f.core, x509("self-2", certs::self_signed_device)).result == TERN_PROVISION_FAILURE);
        CHECK(f.device_count() == 1);
    }
    SECTION("the issuer (by name) of another device's registered certificate is refused, even a version 1 one") {
        CHECK(provision(f.core, x509("legacy-leaf", certs::legacy_v1_leaf)).result == TERN_PROVISION_SUCCESS);
        const uint64_t after = f.core.stats().writer.ops;
        CHECK(provision(f.core, x509("legacy-ca", certs::legacy_v1_ca)).result == TERN_PROVISION_FAILURE);
        CHECK(f.core.stats().writer.ops == after);
        CHECK(f.device_count() == 1);
    }
    SECTION("with a wrong secret the certificate is not even looked at: NOT_FOUND") {
        auto r = x509("ca", certs::fleet_ca);
        r.secret = "wrong";
        CHECK(provision(f.core, r).result == TERN_PROVISION_NOT_FOUND);
    }
}

TEST_CASE("provision: a new device's credentials are announced (CREDENTIALS_CHANGED), so unknown-token caches forget",
          "[provision][security]") {
    provision_fixture f;
    recording_listener listener;
    f.core.set_listener(&listener);
    auto r = create_req("announced");
    r.token = "fresh-token";
    REQUIRE(provision(f.core, r).result == TERN_PROVISION_SUCCESS);
    const uint64_t id = authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "fresh-token").id;
    CHECK(listener.wait_for([&] {
        for (auto& [d, e] : listener.events)
            if (d == id && e == TERN_DEVICE_CREDENTIALS_CHANGED) return true;
        return false;
    }));
    // a device created by the operator too
    const device made = add_device(f.core, "by-operator", token("operator-token"));
    CHECK(listener.wait_for([&] {
        for (auto& [d, e] : listener.events)
            if (d == made.id && e == TERN_DEVICE_CREDENTIALS_CHANGED) return true;
        return false;
    }));
    // a refused request announces nothing
    const size_t before = listener.locked([&] { return listener.events.size(); });
    auto wrong = create_req("never");
    wrong.secret = "wrong";
    CHECK(provision(f.core, wrong).result == TERN_PROVISION_NOT_FOUND);
    CHECK(listener.locked([&] { return listener.events.size(); }) == before);
    f.core.set_listener(nullptr);
}

namespace {
// The integer profile options authenticate() delivers (key -> value), the core's
// profile.revision aside.
std::map<std::string, int64_t> int_options(embedded_core& c, const std::string& token) {
    std::promise<std::map<std::string, int64_t>> p;
    auto f = p.get_future();
    const std::string t = token;
    c.authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, to_str(t), [](void* ctx, tern_status s, const tern_device_info* d) {
        std::map<std::string, int64_t> m;
        if (s == TERN_OK && d != nullptr)
            for (uint32_t i = 0; i < d->profile_option_count; ++i)
                if (d->profile_options[i].value.type == TERN_VALUE_INT &&
                    tern::sdk::to_sv(d->profile_options[i].key) != TERN_OPTION_PROFILE_REVISION)
                    m[std::string(tern::sdk::to_sv(d->profile_options[i].key))] = d->profile_options[i].value.u.i;
        static_cast<std::promise<std::map<std::string, int64_t>>*>(ctx)->set_value(m);
    }, &p);
    REQUIRE(f.wait_for(deadline) == std::future_status::ready);
    return f.get();
}
}  // namespace

TEST_CASE("profile options: integer options reach tern_device_info, changes announce UPDATED",
          "[profile_options][security]") {
    provision_fixture f;
    recording_listener listener;
    f.core.set_listener(&listener);
    profile_spec p;
    p.name = "limited";
    p.options = std::vector<profile_option>{{"device_message_rate", 2}, {"device_message_burst", 4}};
    REQUIRE(await<profile>([&](auto cb) { f.core.create_profile(p, cb); }).ok());
    const device d = add_device(f.core, "lim", token("lim-token"), std::string("limited"));
    auto o = int_options(f.core, "lim-token");
    CHECK(o == std::map<std::string, int64_t>{{"device_message_rate", 2}, {"device_message_burst", 4}});
    auto read = await<profile>([&](auto cb) { f.core.get_profile("limited", cb); });
    REQUIRE(read.ok());
    CHECK(read.value.options.size() == 2);

    profile_spec u;
    u.name = "limited";
    u.options = std::vector<profile_option>{{"device_message_rate", 0}};
    REQUIRE(await<profile>([&](auto cb) { f.core.update_profile(u, cb); }).ok());
    CHECK(listener.wait_for([&] {
        for (auto& [id, e] : listener.events)
            if (id == d.id && e == TERN_DEVICE_UPDATED) return true;
        return false;
    }));
    CHECK(int_options(f.core, "lim-token") == std::map<std::string, int64_t>{{"device_message_rate", 0}});

    // refused: a schema key, an empty or duplicate name, too many
    for (auto bad : {std::vector<profile_option>{{"telemetry_schema", 1}}, std::vector<profile_option>{{"", 1}},
                     std::vector<profile_option>{{"a", 1}, {"a", 2}}}) {
        profile_spec b;
        b.name = "limited";
        b.options = bad;
        CHECK(await<profile>([&](auto cb) { f.core.update_profile(b, cb); }).status == TERN_INVALID_ARGUMENT);
    }
    profile_spec many;
    many.name = "limited";
    many.options.emplace();
    for (int i = 0; i < 33; ++i) many.options->push_back({"k" + std::to_string(i), i});
    CHECK(await<profile>([&](auto cb) { f.core.update_profile(many, cb); }).status == TERN_INVALID_ARGUMENT);
    f.core.set_listener(nullptr);
}
