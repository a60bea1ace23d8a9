// The core's ABI 1.1 capabilities (capabilities.hpp, event_fanout.hpp) over a real
// embedded core: several subscribers to downlinks, the tern.core/1 listener among them, the
// bound on subscribers, and authentication through tern.core.auth/1 with the CoAP profile
// fields as profile options.
#include <map>

#include "capabilities.hpp"
#include "support.hpp"
#include "tern/sdk/core.hpp"

using namespace tern::core_embedded;
using namespace tern::core_embedded::test;
using tern::sdk::to_str;
using tern::sdk::to_sv;

// The SDK finds each capability by its type alone (host().require<tern::core_auth_v1>()).
static_assert(tern::sdk::iid_v<tern::core_auth_v1> == TERN_IID_CORE_AUTH_V1);
static_assert(tern::sdk::iid_v<tern::core_telemetry_v1> == TERN_IID_CORE_TELEMETRY_V1);
static_assert(tern::sdk::iid_v<tern::core_attributes_v1> == TERN_IID_CORE_ATTRIBUTES_V1);
static_assert(tern::sdk::iid_v<tern::core_rpc_v1> == TERN_IID_CORE_RPC_V1);
static_assert(tern::sdk::iid_v<tern::core_provisioning_v1> == TERN_IID_CORE_PROVISIONING_V1);
static_assert(tern::sdk::iid_v<tern::core_ota_v1> == TERN_IID_CORE_OTA_V1);
static_assert(tern::sdk::iid_v<tern::core_sessions_v1> == TERN_IID_CORE_SESSIONS_V1);
static_assert(tern::sdk::iid_v<tern::core_events_v1> == TERN_IID_CORE_EVENTS_V1);

namespace {
core_metrics metrics;

struct caps_fixture {
    temp_dir dir;
    embedded_core core{metrics, {}};
    core_services services{core};
    tern::core_events_v1& events = *static_cast<tern::core_events_v1*>(services.query(TERN_IID_CORE_EVENTS_V1));
    tern::core_auth_v1& auth = *static_cast<tern::core_auth_v1*>(services.query(TERN_IID_CORE_AUTH_V1));

    caps_fixture() { core.start(settings_for(dir)); }
    ~caps_fixture() { core.stop(); }

    uint64_t subscribe(recording_listener& l) {
        uint64_t h = 0;
        REQUIRE(events.subscribe(&l, &h) == TERN_OK);
        CHECK(h != 0);
        return h;
    }
    void set_shared(const std::string& device, const std::string& key, int64_t v) {
        auto r = await<none>([&](callback<none> cb) {
            core.set_attributes(device, TERN_SCOPE_SHARED, {make_kv(key, value::of_int(v))}, cb);
        });
        REQUIRE(r.ok());
    }
    void send_rpc(const std::string& device, const std::string& method) {
        rpc_request_spec s;
        s.device = device;
        s.method = method;
        s.timeout_ms = 5000;
        s.wait = false;
        REQUIRE(await<rpc_record>([&](callback<rpc_record> cb) { core.send_rpc(s, cb); }).ok());
    }
};

size_t attrs_of(recording_listener& l) { return l.locked([&] { return l.attrs.size(); }); }
size_t rpcs_of(recording_listener& l) { return l.locked([&] { return l.rpcs.size(); }); }

// What tern.core.auth/1 completed with, copied out of the borrowed record.
struct record_wait {
    struct out {
        tern_status status = TERN_INTERNAL;
        tern_device_record rec{};
        std::string name, profile, credential;
        std::map<std::string, tern_value> options;  // first occurrence of each key
        std::map<std::string, std::string> texts;
    };
    std::promise<out> p;
    static void fn(void* ctx, tern_status s, const tern_device_record* d) {
        out o;
        o.status = s;
        if (d != nullptr) {
            o.rec = *d;
            o.name = to_sv(d->device_name);
            o.profile = to_sv(d->profile_name);
            o.credential = tern::sdk::as_text(d->credential_value);
            for (uint32_t i = 0; i < d->profile_option_count; ++i) {
                const tern_kv& kv = d->profile_options[i];
                const std::string key(to_sv(kv.key));
                if (o.options.count(key) != 0) continue;
                o.options[key] = kv.value;
                if (kv.value.type == TERN_VALUE_STR) o.texts[key] = std::string(to_sv(kv.value.u.s));
            }
            o.rec.profile_options = nullptr;  // borrowed: gone after the call
        }
        static_cast<record_wait*>(ctx)->p.set_value(std::move(o));
    }
    out get() {
        auto f = p.get_future();
        REQUIRE(f.wait_for(deadline) == std::future_status::ready);
        return f.get();
    }
};

record_wait::out authenticate(tern::core_auth_v1& auth, tern_credential_kind kind, std::string_view value) {
    record_wait w;
    auth.authenticate(kind, to_str(value), &record_wait::fn, &w);
    return w.get();
}

}  // namespace

TEST_CASE("two subscribers both get a shared attribute update and an RPC, and closing one leaves the other",
          "[capabilities][events]") {
    caps_fixture f;
    const device dev = add_device(f.core, "both", token("both-token"));
    recording_listener a, b;
    const uint64_t ha = f.subscribe(a), hb = f.subscribe(b);
    CHECK(ha != hb);
    CHECK(f.services.events().subscribers() == 2);
    const uint32_t both = TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC;
    REQUIRE(f.events.subscribe_device(ha, dev.id, both) == TERN_OK);
    REQUIRE(f.events.subscribe_device(hb, dev.id, both) == TERN_OK);

    f.set_shared("both", "target", 21);
    REQUIRE(a.wait_for([&] { return a.attrs.size() == 1; }));
    REQUIRE(b.wait_for([&] { return b.attrs.size() == 1; }));
    a.locked([&] {
        CHECK(a.attrs[0].device == dev.id);
        REQUIRE(a.attrs[0].updated.size() == 1);
        CHECK(a.attrs[0].updated[0].key == "target");
        CHECK(a.attrs[0].updated[0].v == value::of_int(21));
        return 0;
    });

    f.send_rpc("both", "reboot");
    REQUIRE(a.wait_for([&] { return a.rpcs.size() == 1; }));
    REQUIRE(b.wait_for([&] { return b.rpcs.size() == 1; }));
    CHECK(a.locked([&] { return a.rpcs[0].method; }) == "reboot");
    CHECK(b.locked([&] { return b.rpcs[0].method; }) == "reboot");

    f.events.close(ha);
    CHECK(f.services.events().subscribers() == 1);
    CHECK(f.events.subscribe_device(ha, dev.id, both) == TERN_NOT_FOUND);  // a closed handle is gone
    f.set_shared("both", "target", 22);
    f.send_rpc("both", "blink");
    REQUIRE(b.wait_for([&] { return b.attrs.size() == 2 && b.rpcs.size() == 2; }));
    flush_wait(f.core);
    CHECK(attrs_of(a) == 1);
    CHECK(rpcs_of(a) == 1);
    f.events.close(hb);
}

TEST_CASE("a subscriber hears only the devices and the kinds it subscribed", "[capabilities][events]") {
    caps_fixture f;
    const device one = add_device(f.core, "one", token("one-token"));
    const device two = add_device(f.core, "two", token("two-token"));
    recording_listener a, b;
    const uint64_t ha = f.subscribe(a), hb = f.subscribe(b);
    REQUIRE(f.events.subscribe_device(ha, one.id, TERN_SUBSCRIBE_ATTRIBUTES) == TERN_OK);
    REQUIRE(f.events.subscribe_device(hb, one.id, TERN_SUBSCRIBE_RPC) == TERN_OK);
    REQUIRE(f.events.subscribe_device(hb, two.id, TERN_SUBSCRIBE_ATTRIBUTES) == TERN_OK);

    f.set_shared("one", "k", 1);
    f.set_shared("two", "k", 2);
    REQUIRE(a.wait_for([&] { return a.attrs.size() == 1; }));
    REQUIRE(b.wait_for([&] { return b.attrs.size() == 1; }));
    CHECK(a.locked([&] { return a.attrs[0].device; }) == one.id);
    CHECK(b.locked([&] { return b.attrs[0].device; }) == two.id);

    // a unsubscribes "one": b still holds RPCs of it, so they keep flowing to b alone.
    f.events.unsubscribe_device(ha, one.id, TERN_SUBSCRIBE_ATTRIBUTES);
    f.set_shared("one", "k", 3);
    f.send_rpc("one", "ping");
    REQUIRE(b.wait_for([&] { return b.rpcs.size() == 1; }));
    flush_wait(f.core);
    CHECK(attrs_of(a) == 1);
    CHECK(rpcs_of(a) == 0);
    CHECK(attrs_of(b) == 1);
    f.events.close(ha);
    f.events.close(hb);
}

TEST_CASE("device events reach every subscriber, the tern.core/1 listener too", "[capabilities][events]") {
    caps_fixture f;
    recording_listener legacy, a;
    auto& core1 = *static_cast<tern::core_v1*>(f.services.query(TERN_IID_CORE_V1));
    REQUIRE(core1.set_listener(&legacy) == TERN_OK);
    const uint64_t ha = f.subscribe(a);
    const device dev = add_device(f.core, "ev", token("ev-token"));

    device_spec upd;
    upd.name = "ev";
    upd.cred = token("ev-token-2");
    REQUIRE(await<device>([&](callback<device> cb) { f.core.update_device(upd, cb); }).ok());
    auto changed = [&](recording_listener& l) {
        return l.wait_for([&] {
            for (auto& [d, e] : l.events)
                if (d == dev.id && e == TERN_DEVICE_CREDENTIALS_CHANGED) return true;
            return false;
        });
    };
    CHECK(changed(legacy));
    CHECK(changed(a));
    f.events.close(ha);
    core1.set_listener(nullptr);
}

TEST_CASE("a tern.core/1 listener keeps its downlinks beside tern.core.events/1 subscribers", "[capabilities][events]") {
    caps_fixture f;
    auto& core1 = *static_cast<tern::core_v1*>(f.services.query(TERN_IID_CORE_V1));
    const device dev = add_device(f.core, "old", token("old-token"));
    recording_listener legacy, fresh;
    REQUIRE(core1.set_listener(&legacy) == TERN_OK);
    core1.subscribe(dev.id, TERN_SUBSCRIBE_ATTRIBUTES);
    const uint64_t h = f.subscribe(fresh);
    REQUIRE(f.events.subscribe_device(h, dev.id, TERN_SUBSCRIBE_ATTRIBUTES) == TERN_OK);

    f.set_shared("old", "a", 1);
    REQUIRE(legacy.wait_for([&] { return legacy.attrs.size() == 1; }));
    REQUIRE(fresh.wait_for([&] { return fresh.attrs.size() == 1; }));

    // The old plugin lets go; the new subscriber still hears the device.
    core1.unsubscribe(dev.id, TERN_SUBSCRIBE_ATTRIBUTES);
    f.set_shared("old", "a", 2);
    REQUIRE(fresh.wait_for([&] { return fresh.attrs.size() == 2; }));
    CHECK(attrs_of(legacy) == 1);

    // And the other way round: the new one closes, the old one subscribes again.
    core1.subscribe(dev.id, TERN_SUBSCRIBE_ATTRIBUTES);
    f.events.close(h);
    f.set_shared("old", "a", 3);
    REQUIRE(legacy.wait_for([&] { return legacy.attrs.size() == 2; }));
    CHECK(attrs_of(fresh) == 2);
    core1.set_listener(nullptr);
}

TEST_CASE("subscribers are bounded by event_subscribers: one more gets TERN_BUSY", "[capabilities][events]") {
    caps_fixture f;
    f.services.configure(2, {});
    recording_listener a, b, c;
    uint64_t ha = 0, hb = 0, hc = 0;
    REQUIRE(f.events.subscribe(&a, &ha) == TERN_OK);
    REQUIRE(f.events.subscribe(&b, &hb) == TERN_OK);
    CHECK(f.events.subscribe(&c, &hc) == TERN_BUSY);
    CHECK(hc == 0);
    CHECK(f.events.subscribe(nullptr, &hc) == TERN_INVALID_ARGUMENT);
    f.events.close(ha);
    REQUIRE(f.events.subscribe(&c, &hc) == TERN_OK);
    CHECK(hc != ha);  // the slot is reused, the handle is not
    f.events.close(ha);  // closing a stale handle does nothing to its slot's new holder
    CHECK(f.events.subscribe_device(hc, 1, TERN_SUBSCRIBE_ATTRIBUTES) == TERN_OK);
    f.events.close(hb);
    f.events.close(hc);
    CHECK(f.services.events().subscribers() == 0);
}

TEST_CASE("authentication by token through tern.core.auth/1", "[capabilities][auth]") {
    caps_fixture f;
    const device dev = add_device(f.core, "tok", token("tok-token-1"));
    auto r = authenticate(f.auth, TERN_CREDENTIAL_ACCESS_TOKEN, "tok-token-1");
    REQUIRE(r.status == TERN_OK);
    CHECK(r.rec.struct_size == sizeof(tern_device_record));
    CHECK(r.rec.device_id == dev.id);
    CHECK(r.name == "tok");
    CHECK(r.profile == "default");
    CHECK(r.rec.payload_type == TERN_PAYLOAD_JSON);
    CHECK(r.credential.empty());  // a token is its own proof
    CHECK(r.options.count(TERN_OPTION_TRANSPORT_TYPE) == 0);  // the default profile: nothing to say
    CHECK(r.options.count(TERN_OPTION_POWER_MODE) == 0);

    // a second time from the core's cache, same answer
    CHECK(authenticate(f.auth, TERN_CREDENTIAL_ACCESS_TOKEN, "tok-token-1").rec.device_id == dev.id);
    CHECK(authenticate(f.auth, TERN_CREDENTIAL_ACCESS_TOKEN, "no-such-token").status == TERN_NOT_FOUND);
    CHECK(authenticate(f.auth, TERN_CREDENTIAL_ACCESS_TOKEN, "").status == TERN_NOT_FOUND);
}

TEST_CASE("the CoAP profile fields travel as profile options, ahead of the profile's own", "[capabilities][auth]") {
    caps_fixture f;
    profile_spec p;
    p.name = "efento";
    p.transport_type = TERN_TRANSPORT_COAP;
    p.coap_device_type = TERN_COAP_DEVICE_EFENTO;
    p.payload_type = TERN_PAYLOAD_PROTOBUF;
    p.power_mode = TERN_POWER_EDRX;
    p.edrx_cycle = 81920;
    p.paging_transmission_window = 2560;
    p.options = std::vector<profile_option>{{"device_message_rate", 7}};
    REQUIRE(await<profile>([&](callback<profile> cb) { f.core.create_profile(p, cb); }).ok());
    device_spec d;
    d.name = "sensor";
    d.profile = "efento";
    d.power_mode = TERN_POWER_PSM;  // the device's own setting wins over its profile's
    d.psm_activity_timer = 30000;
    d.cred = token("efento-token");
    REQUIRE(await<device>([&](callback<device> cb) { f.core.create_device(d, cb); }).ok());

    auto r = authenticate(f.auth, TERN_CREDENTIAL_ACCESS_TOKEN, "efento-token");
    REQUIRE(r.status == TERN_OK);
    CHECK(r.profile == "efento");
    CHECK(r.rec.payload_type == TERN_PAYLOAD_PROTOBUF);
    CHECK(r.texts[TERN_OPTION_TRANSPORT_TYPE] == "COAP");
    CHECK(r.texts[TERN_OPTION_COAP_DEVICE_TYPE] == "EFENTO");
    CHECK(r.texts[TERN_OPTION_POWER_MODE] == "PSM");
    REQUIRE(r.options.count(TERN_OPTION_PSM_ACTIVITY_TIMER_MS) == 1);
    CHECK(r.options[TERN_OPTION_PSM_ACTIVITY_TIMER_MS].type == TERN_VALUE_INT);
    CHECK(r.options[TERN_OPTION_PSM_ACTIVITY_TIMER_MS].u.i == 30000);
    CHECK(r.options[TERN_OPTION_EDRX_CYCLE_MS].u.i == 81920);
    CHECK(r.options[TERN_OPTION_PAGING_TRANSMISSION_WINDOW_MS].u.i == 2560);
    // the profile's own options follow, as tern.core/1 gives them
    REQUIRE(r.options.count("device_message_rate") == 1);
    CHECK(r.options["device_message_rate"].u.i == 7);

    // tern.core/1 still reports them in its record's fields
    auto old = authenticate(f.core, TERN_CREDENTIAL_ACCESS_TOKEN, "efento-token");
    CHECK(old.info.transport_type == TERN_TRANSPORT_COAP);
    CHECK(old.info.coap_device_type == TERN_COAP_DEVICE_EFENTO);
    CHECK(old.info.power_mode == TERN_POWER_PSM);
    CHECK(old.info.psm_activity_timer_ms == 30000);
}

TEST_CASE("tern.core.auth/1 gives a PSK identity's key", "[capabilities][auth]") {
    caps_fixture f;
    credential_input psk;
    psk.kind = TERN_CREDENTIAL_PSK;
    psk.psk_identity = "sensor-7";
    psk.psk_key = "0123456789abcdef";
    const device dev = add_device(f.core, "psk", psk);

    struct key_wait {
        std::promise<std::tuple<tern_status, uint64_t, std::string>> p;
        static void fn(void* ctx, tern_status s, uint64_t device, tern_bytes key) {
            static_cast<key_wait*>(ctx)->p.set_value({s, device, std::string(tern::sdk::as_text(key))});
        }
    };
    key_wait w;
    f.auth.psk_key(to_str("sensor-7"), &key_wait::fn, &w);
    auto fut = w.p.get_future();
    REQUIRE(fut.wait_for(deadline) == std::future_status::ready);
    auto [status, device_id, key] = fut.get();
    CHECK(status == TERN_OK);
    CHECK(device_id == dev.id);
    CHECK(key == "0123456789abcdef");

    key_wait none;
    f.auth.psk_key(to_str("nobody"), &key_wait::fn, &none);
    auto nf = none.p.get_future();
    REQUIRE(nf.wait_for(deadline) == std::future_status::ready);
    CHECK(std::get<0>(nf.get()) == TERN_NOT_FOUND);
}

TEST_CASE("every id the core provides answers with its interface", "[capabilities]") {
    caps_fixture f;
    for (const char* iid : {TERN_IID_CORE_V1, TERN_IID_CORE_AUTH_V1, TERN_IID_CORE_TELEMETRY_V1,
                            TERN_IID_CORE_ATTRIBUTES_V1, TERN_IID_CORE_RPC_V1, TERN_IID_CORE_PROVISIONING_V1,
                            TERN_IID_CORE_OTA_V1, TERN_IID_CORE_SESSIONS_V1, TERN_IID_CORE_EVENTS_V1}) {
        INFO(iid);
        CHECK(f.services.query(iid) != nullptr);
    }
    CHECK(f.services.query("tern.core.nope/1") == nullptr);
}

TEST_CASE("tern.core.sessions/1: ASLEEP and ACTIVITY set the power state the admin side reads", "[capabilities][power]") {
    caps_fixture f;
    const device d = add_device(f.core, "psm-1");
    auto& sessions = *static_cast<tern::core_sessions_v1*>(f.services.query(TERN_IID_CORE_SESSIONS_V1));
    auto state = [&] {
        auto r = await<device>([&](callback<device> cb) { f.core.get_device("psm-1", cb); });
        REQUIRE(r.ok());
        return *r.value.power_status;
    };
    sessions.session_event(d.id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("127.0.0.1:40000"));
    sessions.session_event(d.id, TERN_SESSION_ASLEEP, to_str("coap"), to_str("127.0.0.1:40000"));
    CHECK(state().asleep_since_ts != 0);
    CHECK(f.core.stats().devices_asleep == 1);
    sessions.session_event(d.id, static_cast<tern_session_event>(5), to_str("coap"), to_str("127.0.0.1:40000"));
    CHECK(state().asleep_since_ts != 0);  // a later ABI's event: ignored
    sessions.session_event(d.id, TERN_SESSION_ACTIVITY, to_str("coap"), to_str("127.0.0.1:40000"));
    CHECK(state().asleep_since_ts == 0);
    CHECK(state().seen_since_start);
    CHECK(f.core.stats().devices_asleep == 0);
}
