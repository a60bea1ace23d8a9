// The request/reply capabilities of core_nats against a real nats-server and a fake core
// node: authenticate and psk_key (with the node's cache and its invalidation by a device
// event), get_attributes, client_rpc, claim, provision, ota_package, session events, and the
// failures (timeout, nobody serving, a message too large).
#include "fixture.hpp"

using namespace core_nats_test;

namespace {

struct auth_result {
    tern_status status = TERN_INTERNAL;
    uint64_t device_id = 0;
    std::string name, option;
};
void on_record(void* ctx, tern_status s, const tern_device_record* d) {
    auth_result r{s, 0, {}, {}};
    if (d != nullptr) {
        r.device_id = d->device_id;
        r.name = text(d->device_name);
        if (d->profile_option_count > 0) r.option = text(d->profile_options[0].value.u.s);
    }
    static_cast<result<auth_result>*>(ctx)->set(r);
}

auth_result authenticate(plugin& p, std::string_view token) {
    result<auth_result> r;
    p.get<tern::core_auth_v1>().authenticate(TERN_CREDENTIAL_ACCESS_TOKEN, str(token), on_record, &r);
    return r.get();
}

// The fake core's authenticate: "good-*" tokens belong to device 42, others are unknown.
void serve_auth(fake_core& core) {
    core.serve_decoded<wire::authenticate_request>("core.v1.auth.authenticate", [&core](const auto& in) -> answer {
        const std::string token = text(in.value);
        if (token.rfind("good", 0) == 0) {
            static const tern_kv option{str("transport.type"), [] {
                                            tern_value v{};
                                            v.type = TERN_VALUE_STR;
                                            v.u.s = str("COAP");
                                            return v;
                                        }()};
            tern_device_record d{};
            d.struct_size = sizeof d;
            d.device_id = 42;
            d.device_name = str("meter-42");
            d.profile_options = &option;
            d.profile_option_count = 1;
            return core.encoded(wire::authenticate_reply{TERN_OK, {}, &d});
        }
        return core.encoded(wire::authenticate_reply{TERN_NOT_FOUND, str("no such token"), nullptr});
    });
}

}  // namespace

TEST_CASE("authenticate: a known token, an unknown one, a second ask answered from the cache") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    serve_auth(core);
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    auto a = authenticate(p, "good-1");
    CHECK(a.status == TERN_OK);
    CHECK(a.device_id == 42);
    CHECK(a.name == "meter-42");
    CHECK(a.option == "COAP");
    CHECK(authenticate(p, "nope").status == TERN_NOT_FOUND);
    CHECK(core.calls("core.v1.auth.authenticate") == 2);

    auto b = authenticate(p, "good-1");  // the cache: the core is not asked again
    CHECK(b.status == TERN_OK);
    CHECK(b.device_id == 42);
    CHECK(b.option == "COAP");
    CHECK(core.calls("core.v1.auth.authenticate") == 2);
    CHECK(authenticate(p, "nope").status == TERN_NOT_FOUND);  // refusals are never cached
    CHECK(core.calls("core.v1.auth.authenticate") == 3);
    CHECK(p.metric("core_nats_auth_cache_hits_total") == 1);
    CHECK(p.metric("core_nats_auth_cache_entries") == 1);
    CHECK(p.metric("core_nats_requests_total", "op=\"authenticate\"") == 4);
    CHECK(p.metric("core_nats_request_failures_total", "op=\"authenticate\",status=\"not_found\"") == 2);
}

TEST_CASE("a device event from a core node drops the device's cached credentials within a second") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    serve_auth(core);
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    REQUIRE(authenticate(p, "good-1").status == TERN_OK);
    REQUIRE(authenticate(p, "good-1").status == TERN_OK);
    REQUIRE(core.calls("core.v1.auth.authenticate") == 1);

    std::string ev;
    REQUIRE(core.enc.encode(wire::device_event{42, TERN_DEVICE_CREDENTIALS_CHANGED}, ev));
    REQUIRE(core.link().publish(core.subject("core.v1.events.device"), ev) == nl::status::ok);
    REQUIRE(wait_until([&] { return p.metric("core_nats_auth_cache_entries") == 0; }, 1s));
    CHECK(authenticate(p, "good-1").status == TERN_OK);
    CHECK(core.calls("core.v1.auth.authenticate") == 2);
}

TEST_CASE("psk_key: an identity's key and device, cached, and an unknown identity") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    core.serve_decoded<wire::psk_key_request>("core.v1.auth.psk_key", [&core](const auto& in) -> answer {
        if (text(in.identity) == "id-1") {
            static const std::string key("\x01\x02secret\x00", 9);
            return core.encoded(wire::psk_key_reply{TERN_OK, {}, 43, bytes(key)});
        }
        return core.encoded(wire::psk_key_reply{TERN_NOT_FOUND, str("unknown identity"), 0, {}});
    });
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    struct psk_result {
        tern_status status = TERN_INTERNAL;
        uint64_t device = 0;
        std::string key;
    };
    auto ask = [&](std::string_view identity) {
        result<psk_result> r;
        p.get<tern::core_auth_v1>().psk_key(
            str(identity),
            [](void* ctx, tern_status s, uint64_t d, tern_bytes k) {
                static_cast<result<psk_result>*>(ctx)->set(psk_result{s, d, text(k)});
            },
            &r);
        return r.get();
    };
    auto a = ask("id-1");
    CHECK(a.status == TERN_OK);
    CHECK(a.device == 43);
    CHECK(a.key == std::string("\x01\x02secret\x00", 9));
    auto b = ask("id-1");
    CHECK(b.key == a.key);
    CHECK(core.calls("core.v1.auth.psk_key") == 1);
    auto c = ask("id-2");
    CHECK(c.status == TERN_NOT_FOUND);
    CHECK(c.key.empty());
}

TEST_CASE("get_attributes, client_rpc, claim and provision make the round trip with the core's answers") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    core.serve_decoded<wire::get_attributes_request>("core.v1.attributes.get", [&core](const auto& in) -> answer {
        if (in.device_id != 42 || in.client == nullptr || in.shared != nullptr) return std::nullopt;
        static tern_kv kv[2];
        kv[0].key = str("fw");
        kv[0].value.type = TERN_VALUE_STR;
        kv[0].value.u.s = str("1.2");
        kv[1].key = str("n");
        kv[1].value.type = TERN_VALUE_INT;
        kv[1].value.u.i = 7;
        return core.encoded(wire::get_attributes_reply{TERN_OK, {}, kv, 2, nullptr, 0});
    });
    core.serve_decoded<wire::client_rpc_request>("core.v1.rpc.client", [&core](const auto& in) -> answer {
        const std::string reply = "{\"echo\":\"" + text(in.method) + "\"}";
        return core.encoded(wire::client_rpc_reply{TERN_OK, {}, str(reply)});
    });
    core.serve_decoded<wire::claim_request>("core.v1.provisioning.claim", [&core](const auto& in) -> answer {
        if (in.device_id == 999) return std::nullopt;  // a core node that never answers
        wire::status_reply r;
        r.op = wire::status_op::claim;
        r.status = in.device_id == 7 ? TERN_OK : TERN_EXISTS;
        r.message = in.device_id == 7 ? tern_str{} : str("already claimed");
        return core.encoded(r);
    });
    core.serve_decoded<wire::provision_request>("core.v1.provisioning.provision", [&core](const auto& in) -> answer {
        if (text(in.request->device_name) != "new-device") return std::nullopt;
        tern_provision_result res{};
        res.struct_size = sizeof res;
        res.status = TERN_PROVISION_SUCCESS;
        res.credentials_type = TERN_CREDENTIAL_ACCESS_TOKEN;
        res.credentials_value = str("tok-1");
        return core.encoded(wire::provision_reply{TERN_OK, {}, &res});
    });
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    SECTION("get_attributes") {
        struct attrs {
            tern_status status = TERN_INTERNAL;
            std::vector<std::string> client;
            uint32_t shared = 99;
        };
        result<attrs> r;
        const tern_str keys[] = {str("fw"), str("n")};
        tern_key_filter f{};
        f.count = 2;
        f.keys = keys;
        p.get<tern::core_attributes_v1>().get_attributes(
            42, &f, nullptr,
            [](void* ctx, tern_status s, const tern_kv* c, uint32_t cn, const tern_kv*, uint32_t sn) {
                attrs a{s, {}, sn};
                for (uint32_t i = 0; i < cn; ++i) a.client.push_back(text(c[i].key));
                static_cast<result<attrs>*>(ctx)->set(a);
            },
            &r);
        auto a = r.get();
        CHECK(a.status == TERN_OK);
        CHECK(a.client == std::vector<std::string>{"fw", "n"});
        CHECK(a.shared == 0);
    }
    SECTION("client_rpc") {
        result<done_result> r;
        p.get<tern::core_rpc_v1>().client_rpc(42, str("getTime"), str("{}"), 2000, on_done, &r);
        auto d = r.get();
        CHECK(d.status == TERN_OK);
        CHECK(d.message == "{\"echo\":\"getTime\"}");
    }
    SECTION("claim: ok, refused with the core's message, and a silent core times out") {
        result<done_result> ok, exists, silent;
        auto& prov = p.get<tern::core_provisioning_v1>();
        prov.claim(7, str("secret"), 0, on_done, &ok);
        prov.claim(8, str("secret"), 0, on_done, &exists);
        const auto t0 = std::chrono::steady_clock::now();
        prov.claim(999, str("secret"), 0, on_done, &silent);
        CHECK(ok.get().status == TERN_OK);
        auto e = exists.get();
        CHECK(e.status == TERN_EXISTS);
        CHECK(e.message == "already claimed");
        CHECK(silent.get(3s).status == TERN_TIMEOUT);  // request_timeout is 500 ms here
        CHECK(std::chrono::steady_clock::now() - t0 < 2s);
        CHECK(p.metric("core_nats_request_failures_total", "op=\"claim\",status=\"timeout\"") == 1);
    }
    SECTION("provision") {
        struct prov_result {
            tern_status status = TERN_INTERNAL;
            tern_provision_status result = TERN_PROVISION_UNKNOWN;
            std::string token;
        };
        result<prov_result> r;
        tern_provision_request req{};
        req.struct_size = sizeof req;
        req.device_name = str("new-device");
        req.provision_key = str("k");
        req.provision_secret = str("s");
        p.get<tern::core_provisioning_v1>().provision(
            &req,
            [](void* ctx, tern_status s, const tern_provision_result* res) {
                prov_result pr{s, res != nullptr ? res->status : TERN_PROVISION_UNKNOWN,
                               res != nullptr ? text(res->credentials_value) : std::string()};
                static_cast<result<prov_result>*>(ctx)->set(pr);
            },
            &r);
        auto pr = r.get();
        CHECK(pr.status == TERN_OK);
        CHECK(pr.result == TERN_PROVISION_SUCCESS);
        CHECK(pr.token == "tok-1");
    }
}

TEST_CASE("a call nobody serves is unavailable at once, and a message past max_message_bytes is refused before sending") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    plugin p(srv, [](testing::map_config& c) { c.set("max_message_bytes", 4096); });
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    result<done_result> r;
    const auto t0 = std::chrono::steady_clock::now();
    p.get<tern::core_provisioning_v1>().claim(7, str("s"), 0, on_done, &r);
    CHECK(r.get().status == TERN_UNAVAILABLE);  // no responders
    CHECK(std::chrono::steady_clock::now() - t0 < 400ms);

    const std::string big(8192, 'x');
    result<done_result> big_rpc;
    p.get<tern::core_rpc_v1>().client_rpc(42, str("m"), str(big), 1000, on_done, &big_rpc);
    auto d = big_rpc.get();
    CHECK(d.status == TERN_INVALID_ARGUMENT);
    CHECK(d.message.find("max_message_bytes") != std::string::npos);
    CHECK(p.metric("core_nats_request_failures_total", "op=\"client_rpc\",status=\"invalid_argument\"") == 1);
}

TEST_CASE("ota_package: a package with only a URL is handed over as the core gave it") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    core.serve_decoded<wire::ota_package_request>("core.v1.ota.package", [&core](const auto& in) -> answer {
        if (in.device_id != 42) {
            return core.encoded(wire::ota_package_reply{TERN_NOT_FOUND, str("no package"), nullptr});
        }
        tern_ota_package pkg{};
        pkg.struct_size = sizeof pkg;
        pkg.type = in.type;
        pkg.package_id = 5;
        pkg.title = str("fw");
        pkg.version = str("2.0");
        pkg.url = str("https://example.com/fw.bin");
        return core.encoded(wire::ota_package_reply{TERN_OK, {}, &pkg});
    });
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    struct ota_result {
        tern_status status = TERN_INTERNAL;
        uint64_t id = 0;
        std::string url;
    };
    auto ask = [&](uint64_t device) {
        result<ota_result> r;
        p.get<tern::core_ota_v1>().ota_package(
            device, TERN_OTA_FIRMWARE,
            [](void* ctx, tern_status s, const tern_ota_package* pkg) {
                static_cast<result<ota_result>*>(ctx)->set(
                    ota_result{s, pkg != nullptr ? pkg->package_id : 0, pkg != nullptr ? text(pkg->url) : ""});
            },
            &r);
        return r.get();
    };
    auto a = ask(42);
    CHECK(a.status == TERN_OK);
    CHECK(a.id == 5);
    CHECK(a.url == "https://example.com/fw.bin");
    CHECK(ask(41).status == TERN_NOT_FOUND);
}

TEST_CASE("session events and resend requests are published with the node's name in the transport") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    std::mutex mu;
    std::vector<std::string> seen;
    core.serve_decoded<wire::session_event_request>("core.v1.sessions.event", [&](const auto& in) -> answer {
        std::lock_guard lk(mu);
        seen.push_back(std::to_string(in.device_id) + " " + text(in.transport) + " " + text(in.address));
        return std::nullopt;
    });
    core.serve_decoded<wire::resend_pending_rpcs_request>("core.v1.rpc.resend", [&](const auto& in) -> answer {
        std::lock_guard lk(mu);
        seen.push_back("resend " + std::to_string(in.device_id));
        return std::nullopt;
    });
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    p.get<tern::core_sessions_v1>().session_event(42, TERN_SESSION_OPEN, str("udp"), str("10.0.0.1:5683"));
    p.get<tern::core_rpc_v1>().resend_pending_rpcs(42);
    REQUIRE(wait_until(
        [&] {
            std::lock_guard lk(mu);
            return seen.size() == 2;
        },
        3s));
    std::lock_guard lk(mu);
    CHECK(std::count(seen.begin(), seen.end(), "42 n1/udp 10.0.0.1:5683") == 1);
    CHECK(std::count(seen.begin(), seen.end(), "resend 42") == 1);
}

TEST_CASE("a reply that does not decode completes INTERNAL and is logged") {
    NATS_OR_SKIP();
    nats_server srv;
    REQUIRE(srv.start());
    fake_core core(srv);
    core.serve("core.v1.rpc.client", [](std::string_view) -> std::optional<std::string> {
        return std::string("\xff\xff\xff\x0f", 4);  // not a ClientRpcReply
    });
    plugin p(srv);
    REQUIRE(wait_until([&] { return p.connected(); }, 5s));

    result<done_result> r;
    p.get<tern::core_rpc_v1>().client_rpc(42, str("m"), str("{}"), 1000, on_done, &r);
    CHECK(r.get().status == TERN_INTERNAL);
    CHECK(p.host.log.has("does not decode"));
    CHECK(p.metric("core_nats_request_failures_total", "op=\"client_rpc\",status=\"internal\"") == 1);
}
