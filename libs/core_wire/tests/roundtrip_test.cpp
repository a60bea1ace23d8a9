// Round trips of every operation through the encoder and the decoder, with every value kind and
// edge values, empty lists, the bounds, and reuse of warm encoders and decoders.
#include <catch2/catch.hpp>

#include "wire_test_support.hpp"

using namespace tern::core_wire;
using namespace core_wire_test;

TEST_CASE("authenticate request and reply with a full device record", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;

    REQUIRE(enc.encode(authenticate_request{TERN_CREDENTIAL_PSK, str(nul_text())}, wire));
    authenticate_request req;
    REQUIRE(dec.decode(bytes(wire), req));
    CHECK(req.kind == TERN_CREDENTIAL_PSK);
    CHECK(text(req.value) == nul_text());

    const std::vector<tern_kv> options = every_kind();
    tern_device_record rec{};
    rec.struct_size = sizeof rec;
    rec.payload_type = TERN_PAYLOAD_PROTOBUF;
    rec.device_id = ~std::uint64_t{0};
    rec.device_name = str(utf8_text());
    rec.profile_id = 42;
    rec.profile_name = str("coap-psm");
    rec.revision = 1234567890123ull;
    rec.credential_value = bytes_value(raw_bytes()).u.bytes;
    rec.profile_options = options.data();
    rec.profile_option_count = static_cast<std::uint32_t>(options.size());
    REQUIRE(enc.encode(authenticate_reply{TERN_OK, str(""), &rec}, wire));

    authenticate_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_OK);
    CHECK(reply.message.size == 0);
    REQUIRE(reply.device != nullptr);
    const tern_device_record& got = *reply.device;
    CHECK(got.struct_size == sizeof(tern_device_record));
    CHECK(got.payload_type == TERN_PAYLOAD_PROTOBUF);
    CHECK(got.device_id == ~std::uint64_t{0});
    CHECK(text(got.device_name) == utf8_text());
    CHECK(got.profile_id == 42);
    CHECK(text(got.profile_name) == "coap-psm");
    CHECK(got.revision == 1234567890123ull);
    CHECK(text(got.credential_value) == raw_bytes());
    CHECK(same_kvs(got.profile_options, got.profile_option_count, options));

    // No record: a refusal carries only its status and message.
    REQUIRE(enc.encode(authenticate_reply{TERN_NOT_FOUND, str("no such credential"), nullptr}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_NOT_FOUND);
    CHECK(text(reply.message) == "no such credential");
    CHECK(reply.device == nullptr);
}

TEST_CASE("a device record of an older, shorter struct_size", "[core_wire]") {
    // A caller built before profile_options existed: the fields past struct_size are not read.
    tern_device_record rec{};
    rec.struct_size = offsetof(tern_device_record, profile_options);
    rec.device_id = 9;
    rec.profile_options = reinterpret_cast<const tern_kv*>(0x1);  // must not be touched
    rec.profile_option_count = 3;
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(authenticate_reply{TERN_OK, {}, &rec}, wire));
    authenticate_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    REQUIRE(reply.device != nullptr);
    CHECK(reply.device->device_id == 9);
    CHECK(reply.device->profile_option_count == 0);
}

TEST_CASE("psk key request and reply", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(psk_key_request{str("Client_identity")}, wire));
    psk_key_request req;
    REQUIRE(dec.decode(bytes(wire), req));
    CHECK(text(req.identity) == "Client_identity");

    REQUIRE(enc.encode(psk_key_reply{TERN_OK, {}, 77, bytes_value(raw_bytes()).u.bytes}, wire));
    psk_key_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_OK);
    CHECK(reply.device_id == 77);
    CHECK(text(reply.key) == raw_bytes());

    REQUIRE(enc.encode(psk_key_reply{TERN_UNAVAILABLE, str("core stopping"), 0, {}}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_UNAVAILABLE);
    CHECK(text(reply.message) == "core stopping");
    CHECK(reply.key.size == 0);
}

TEST_CASE("post_telemetry with every value kind, empty records and no records", "[core_wire]") {
    const std::vector<tern_kv> values = every_kind();
    const std::vector<tern_kv> one = {{str("t"), double_value(21.5)}};
    const tern_ts_record records[] = {
        {std::numeric_limits<std::int64_t>::min(), values.data(), static_cast<std::uint32_t>(values.size()), 0},
        {0, nullptr, 0, 0},
        {1700000000123, one.data(), 1, 0},
    };
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(post_telemetry_request{5, records, 3}, wire));
    post_telemetry_request got;
    REQUIRE(dec.decode(bytes(wire), got));
    CHECK(got.device_id == 5);
    REQUIRE(got.count == 3);
    CHECK(got.records[0].ts == std::numeric_limits<std::int64_t>::min());
    CHECK(same_kvs(got.records[0].values, got.records[0].count, values));
    CHECK(got.records[1].ts == 0);
    CHECK(got.records[1].count == 0);
    CHECK(got.records[2].ts == 1700000000123);
    CHECK(same_kvs(got.records[2].values, got.records[2].count, one));

    REQUIRE(enc.encode(post_telemetry_request{6, nullptr, 0}, wire));
    REQUIRE(dec.decode(bytes(wire), got));
    CHECK(got.device_id == 6);
    CHECK(got.count == 0);
    CHECK(got.records == nullptr);

    status_reply reply{status_op::post_telemetry, TERN_INVALID_ARGUMENT, str("key too long")};
    REQUIRE(enc.encode(reply, wire));
    status_reply back{status_op::post_telemetry};
    REQUIRE(dec.decode(bytes(wire), back));
    CHECK(back.status == TERN_INVALID_ARGUMENT);
    CHECK(text(back.message) == "key too long");
}

TEST_CASE("post_telemetry at the bounds and one past them", "[core_wire]") {
    // max_records records sharing max_key_values key/values in total: accepted both ways.
    const std::uint32_t per = max_key_values / max_records;
    std::vector<tern_kv> kvs(per, tern_kv{str("k"), int_value(1)});
    std::vector<tern_ts_record> records(max_records, tern_ts_record{1, kvs.data(), per, 0});
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(post_telemetry_request{1, records.data(), max_records}, wire));
    post_telemetry_request got;
    REQUIRE(dec.decode(bytes(wire), got));
    CHECK(got.count == max_records);
    CHECK(got.records[max_records - 1].count == per);

    // One record more, or one key/value more: refused, the output left empty.
    records.push_back(records.back());
    result r = enc.encode(post_telemetry_request{1, records.data(), max_records + 1}, wire);
    CHECK(r.error == wire_error::too_many);
    CHECK(wire.empty());
    records.pop_back();
    kvs.push_back(kvs.back());
    records.back().values = kvs.data();
    records.back().count = per + 1;
    r = enc.encode(post_telemetry_request{1, records.data(), max_records}, wire);
    CHECK(r.error == wire_error::too_many);
}

TEST_CASE("post_attributes and get_attributes", "[core_wire]") {
    const std::vector<tern_kv> values = every_kind();
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(post_attributes_request{8, TERN_SCOPE_CLIENT, values.data(),
                                               static_cast<std::uint32_t>(values.size())},
                       wire));
    post_attributes_request post;
    REQUIRE(dec.decode(bytes(wire), post));
    CHECK(post.device_id == 8);
    CHECK(post.scope == TERN_SCOPE_CLIENT);
    CHECK(same_kvs(post.values, post.count, values));

    REQUIRE(enc.encode(post_attributes_request{8, TERN_SCOPE_SHARED, nullptr, 0}, wire));
    REQUIRE(dec.decode(bytes(wire), post));
    CHECK(post.scope == TERN_SCOPE_SHARED);
    CHECK(post.count == 0);

    const tern_str keys[] = {str("fw"), str(nul_text()), str("")};
    const tern_key_filter listed{TERN_KEYS_LISTED, 3, keys};
    const tern_key_filter all{TERN_KEYS_ALL, 0, nullptr};
    for (const tern_key_filter* client : {static_cast<const tern_key_filter*>(nullptr), &listed, &all}) {
        for (const tern_key_filter* shared : {static_cast<const tern_key_filter*>(nullptr), &listed, &all}) {
            REQUIRE(enc.encode(get_attributes_request{9, client, shared}, wire));
            get_attributes_request get;
            REQUIRE(dec.decode(bytes(wire), get));
            CHECK(get.device_id == 9);
            for (auto [sent, got] : {std::pair{client, get.client}, std::pair{shared, get.shared}}) {
                REQUIRE((sent == nullptr) == (got == nullptr));
                if (sent == nullptr) continue;
                CHECK(got->selection == sent->selection);
                REQUIRE(got->count == sent->count);
                for (std::uint32_t i = 0; i < got->count; ++i) CHECK(text(got->keys[i]) == text(sent->keys[i]));
            }
        }
    }

    const std::vector<tern_kv> shared = {{str("target"), double_value(-0.0)}};
    REQUIRE(enc.encode(get_attributes_reply{TERN_OK, {}, values.data(),
                                            static_cast<std::uint32_t>(values.size()), shared.data(), 1},
                       wire));
    get_attributes_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_OK);
    CHECK(same_kvs(reply.client, reply.client_count, values));
    CHECK(same_kvs(reply.shared, reply.shared_count, shared));

    REQUIRE(enc.encode(get_attributes_reply{TERN_TIMEOUT, str("slow"), nullptr, 0, nullptr, 0}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_TIMEOUT);
    CHECK(reply.client_count == 0);
    CHECK(reply.shared_count == 0);
    CHECK(reply.client == nullptr);

    status_reply back{status_op::post_attributes};
    REQUIRE(enc.encode(status_reply{status_op::post_attributes, TERN_BUSY, str("queue full")}, wire));
    REQUIRE(dec.decode(bytes(wire), back));
    CHECK(back.status == TERN_BUSY);
    CHECK(text(back.message) == "queue full");
}

TEST_CASE("rpc calls and session events", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;
    const std::int64_t min = std::numeric_limits<std::int64_t>::min();

    REQUIRE(enc.encode(rpc_status_request{3, min, TERN_RPC_TIMEOUT, str("no ACK")}, wire));
    rpc_status_request st;
    REQUIRE(dec.decode(bytes(wire), st));
    CHECK(st.device_id == 3);
    CHECK(st.rpc_id == min);
    CHECK(st.status == TERN_RPC_TIMEOUT);
    CHECK(text(st.error) == "no ACK");

    REQUIRE(enc.encode(rpc_reply_request{3, 17, str(R"({"ok":true})")}, wire));
    rpc_reply_request rr;
    REQUIRE(dec.decode(bytes(wire), rr));
    CHECK(rr.rpc_id == 17);
    CHECK(text(rr.result) == R"({"ok":true})");

    REQUIRE(enc.encode(resend_pending_rpcs_request{~std::uint64_t{0}}, wire));
    resend_pending_rpcs_request rp;
    REQUIRE(dec.decode(bytes(wire), rp));
    CHECK(rp.device_id == ~std::uint64_t{0});

    REQUIRE(enc.encode(client_rpc_request{4, str("getTime"), str(""), 10000}, wire));
    client_rpc_request cr;
    REQUIRE(dec.decode(bytes(wire), cr));
    CHECK(cr.device_id == 4);
    CHECK(text(cr.method) == "getTime");
    CHECK(cr.params.size == 0);
    CHECK(cr.timeout_ms == 10000);

    REQUIRE(enc.encode(client_rpc_reply{TERN_OK, {}, str(utf8_text())}, wire));
    client_rpc_reply crr;
    REQUIRE(dec.decode(bytes(wire), crr));
    CHECK(crr.status == TERN_OK);
    CHECK(text(crr.text) == utf8_text());

    REQUIRE(enc.encode(session_event_request{4, TERN_SESSION_ASLEEP, str("coap"), str("[::1]:5683")}, wire));
    session_event_request se;
    REQUIRE(dec.decode(bytes(wire), se));
    CHECK(se.device_id == 4);
    CHECK(se.event == TERN_SESSION_ASLEEP);
    CHECK(text(se.transport) == "coap");
    CHECK(text(se.address) == "[::1]:5683");

    for (status_op op : {status_op::rpc_status, status_op::rpc_reply, status_op::resend_pending_rpcs,
                         status_op::session_event}) {
        REQUIRE(enc.encode(status_reply{op, TERN_NOT_FOUND, str("gone")}, wire));
        status_reply back{op};
        REQUIRE(dec.decode(bytes(wire), back));
        CHECK(back.op == op);
        CHECK(back.status == TERN_NOT_FOUND);
        CHECK(text(back.message) == "gone");
    }
}

TEST_CASE("events from the core node", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(device_event{12, TERN_DEVICE_CREDENTIALS_CHANGED}, wire));
    device_event de;
    REQUIRE(dec.decode(bytes(wire), de));
    CHECK(de.device_id == 12);
    CHECK(de.event == TERN_DEVICE_CREDENTIALS_CHANGED);

    const std::vector<tern_kv> updated = every_kind();
    const tern_str deleted[] = {str("old"), str(utf8_text())};
    REQUIRE(enc.encode(attributes_updated_event{12, updated.data(), static_cast<std::uint32_t>(updated.size()),
                                                deleted, 2},
                       wire));
    attributes_updated_event au;
    REQUIRE(dec.decode(bytes(wire), au));
    CHECK(au.device_id == 12);
    CHECK(same_kvs(au.updated, au.updated_count, updated));
    REQUIRE(au.deleted_count == 2);
    CHECK(text(au.deleted[0]) == "old");
    CHECK(text(au.deleted[1]) == utf8_text());

    REQUIRE(enc.encode(attributes_updated_event{12, nullptr, 0, nullptr, 0}, wire));
    REQUIRE(dec.decode(bytes(wire), au));
    CHECK(au.updated_count == 0);
    CHECK(au.deleted_count == 0);

    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.flags = TERN_RPC_PERSISTENT | TERN_RPC_ONEWAY;
    rpc.id = std::numeric_limits<std::int64_t>::max();
    rpc.method = str("setGpio");
    rpc.params = str(R"({"pin":7,"value":1})");
    rpc.expiration_ms = 1700000060000;
    REQUIRE(enc.encode(rpc_request_event{12, &rpc}, wire));
    rpc_request_event re;
    REQUIRE(dec.decode(bytes(wire), re));
    CHECK(re.device_id == 12);
    REQUIRE(re.rpc != nullptr);
    CHECK(re.rpc->struct_size == sizeof(tern_rpc_request));
    CHECK(re.rpc->flags == (TERN_RPC_PERSISTENT | TERN_RPC_ONEWAY));
    CHECK(re.rpc->id == std::numeric_limits<std::int64_t>::max());
    CHECK(text(re.rpc->method) == "setGpio");
    CHECK(text(re.rpc->params) == R"({"pin":7,"value":1})");
    CHECK(re.rpc->expiration_ms == 1700000060000);
}

TEST_CASE("a warm encoder writes the same bytes as a fresh one", "[core_wire]") {
    // Reused message objects must not leak fields of an earlier, bigger message.
    const std::vector<tern_kv> big = every_kind();
    std::vector<tern_kv> small = {{str("k"), int_value(3)}, {str("j"), null_value()}};
    encoder warm;
    std::string wire;
    REQUIRE(warm.encode(post_attributes_request{1, TERN_SCOPE_SHARED, big.data(),
                                                static_cast<std::uint32_t>(big.size())},
                        wire));
    REQUIRE(warm.encode(post_attributes_request{2, TERN_SCOPE_CLIENT, small.data(), 2}, wire));
    encoder fresh;
    std::string expected;
    REQUIRE(fresh.encode(post_attributes_request{2, TERN_SCOPE_CLIENT, small.data(), 2}, expected));
    CHECK(hex(wire) == hex(expected));

    tern_rpc_request rpc{};
    rpc.struct_size = sizeof rpc;
    rpc.method = str("m");
    rpc.params = str("{}");
    REQUIRE(warm.encode(rpc_request_event{1, &rpc}, wire));
    rpc.params = {};
    REQUIRE(warm.encode(rpc_request_event{1, &rpc}, wire));
    REQUIRE(fresh.encode(rpc_request_event{1, &rpc}, expected));
    CHECK(hex(wire) == hex(expected));

    // And a warm decoder gives the small message's views, nothing of the big one.
    decoder dec;
    post_attributes_request got;
    REQUIRE(fresh.encode(post_attributes_request{1, TERN_SCOPE_SHARED, big.data(),
                                                 static_cast<std::uint32_t>(big.size())},
                         wire));
    REQUIRE(dec.decode(bytes(wire), got));
    REQUIRE(fresh.encode(post_attributes_request{2, TERN_SCOPE_CLIENT, small.data(), 2}, wire));
    REQUIRE(dec.decode(bytes(wire), got));
    CHECK(got.device_id == 2);
    CHECK(got.scope == TERN_SCOPE_CLIENT);
    CHECK(same_kvs(got.values, got.count, small));
}

TEST_CASE("claim, provision and ota_package", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;
    REQUIRE(enc.encode(claim_request{21, str("s3cr3t"), -1}, wire));
    claim_request claim;
    REQUIRE(dec.decode(bytes(wire), claim));
    CHECK(claim.device_id == 21);
    CHECK(text(claim.secret_key) == "s3cr3t");
    CHECK(claim.duration_ms == -1);
    REQUIRE(enc.encode(status_reply{status_op::claim, TERN_EXISTS, str("already claimed")}, wire));
    status_reply claimed{status_op::claim};
    REQUIRE(dec.decode(bytes(wire), claimed));
    CHECK(claimed.status == TERN_EXISTS);
    CHECK(text(claimed.message) == "already claimed");

    tern_provision_request req{};
    req.struct_size = sizeof req;
    req.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
    req.device_name = str(utf8_text());
    req.provision_key = str("key");
    req.provision_secret = str("secret");
    req.token = str("tok");
    req.client_id = str("cid");
    req.username = str("user");
    req.password = str(nul_text());
    req.hash = str("-----BEGIN CERTIFICATE-----");
    req.gateway = 1;
    REQUIRE(enc.encode(provision_request{&req}, wire));
    provision_request got_req;
    REQUIRE(dec.decode(bytes(wire), got_req));
    REQUIRE(got_req.request != nullptr);
    const tern_provision_request& r = *got_req.request;
    CHECK(r.struct_size == sizeof(tern_provision_request));
    CHECK(r.credentials_type == TERN_CREDENTIAL_MQTT_BASIC);
    CHECK(text(r.device_name) == utf8_text());
    CHECK(text(r.provision_key) == "key");
    CHECK(text(r.provision_secret) == "secret");
    CHECK(text(r.token) == "tok");
    CHECK(text(r.client_id) == "cid");
    CHECK(text(r.username) == "user");
    CHECK(text(r.password) == nul_text());
    CHECK(text(r.hash) == "-----BEGIN CERTIFICATE-----");
    CHECK(r.gateway == 1);

    tern_provision_result res{};
    res.struct_size = sizeof res;
    res.status = TERN_PROVISION_SUCCESS;
    res.credentials_type = TERN_CREDENTIAL_MQTT_BASIC;
    res.credentials_value = str("v");
    res.client_id = str("c");
    res.username = str("u");
    res.password = str("p");
    REQUIRE(enc.encode(provision_reply{TERN_OK, {}, &res}, wire));
    provision_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    REQUIRE(reply.result != nullptr);
    CHECK(reply.result->status == TERN_PROVISION_SUCCESS);
    CHECK(reply.result->credentials_type == TERN_CREDENTIAL_MQTT_BASIC);
    CHECK(text(reply.result->credentials_value) == "v");
    CHECK(text(reply.result->client_id) == "c");
    CHECK(text(reply.result->username) == "u");
    CHECK(text(reply.result->password) == "p");
    REQUIRE(enc.encode(provision_reply{TERN_UNAVAILABLE, str("down"), nullptr}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_UNAVAILABLE);
    CHECK(reply.result == nullptr);

    REQUIRE(enc.encode(ota_package_request{21, TERN_OTA_SOFTWARE}, wire));
    ota_package_request ota;
    REQUIRE(dec.decode(bytes(wire), ota));
    CHECK(ota.device_id == 21);
    CHECK(ota.type == TERN_OTA_SOFTWARE);

    tern_ota_package pkg{};
    pkg.struct_size = sizeof pkg;
    pkg.type = TERN_OTA_SOFTWARE;
    pkg.package_id = 99;
    pkg.title = str("fw");
    pkg.version = str("1.2.3");
    pkg.tag = str("fw 1.2.3");
    pkg.size = 1ull << 40;
    pkg.checksum = str("abcd");
    pkg.checksum_algorithm = str("SHA256");
    pkg.path = str("/var/lib/tern/ota/99");
    pkg.url = str("https://example.com/fw.bin");
    REQUIRE(enc.encode(ota_package_reply{TERN_OK, {}, &pkg}, wire));
    ota_package_reply pr;
    REQUIRE(dec.decode(bytes(wire), pr));
    REQUIRE(pr.package != nullptr);
    const tern_ota_package& p = *pr.package;
    CHECK(p.struct_size == sizeof(tern_ota_package));
    CHECK(p.type == TERN_OTA_SOFTWARE);
    CHECK(p.package_id == 99);
    CHECK(text(p.title) == "fw");
    CHECK(text(p.version) == "1.2.3");
    CHECK(text(p.tag) == "fw 1.2.3");
    CHECK(p.size == (1ull << 40));
    CHECK(text(p.checksum) == "abcd");
    CHECK(text(p.checksum_algorithm) == "SHA256");
    CHECK(text(p.path) == "/var/lib/tern/ota/99");
    CHECK(text(p.url) == "https://example.com/fw.bin");
    REQUIRE(enc.encode(ota_package_reply{TERN_NOT_FOUND, str("none"), nullptr}, wire));
    REQUIRE(dec.decode(bytes(wire), pr));
    CHECK(pr.status == TERN_NOT_FOUND);
    CHECK(pr.package == nullptr);
}

TEST_CASE("ota chunk and subscribe_device", "[core_wire]") {
    encoder enc;
    decoder dec;
    std::string wire;

    REQUIRE(enc.encode(ota_chunk_request{~std::uint64_t{0}, TERN_OTA_SOFTWARE, 99, (1ull << 40) + 3,
                                         max_ota_chunk_bytes},
                       wire));
    ota_chunk_request req;
    REQUIRE(dec.decode(bytes(wire), req));
    CHECK(req.device_id == ~std::uint64_t{0});
    CHECK(req.type == TERN_OTA_SOFTWARE);
    CHECK(req.package_id == 99);
    CHECK(req.offset == (1ull << 40) + 3);
    CHECK(req.length == max_ota_chunk_bytes);

    // A full chunk of every byte value, then the short last chunk, then a refusal.
    std::string chunk(max_ota_chunk_bytes, '\0');
    for (std::size_t i = 0; i < chunk.size(); ++i) chunk[i] = static_cast<char>(i * 7);
    REQUIRE(enc.encode(ota_chunk_reply{TERN_OK, {}, 3 * chunk.size() + 1, bytes(chunk)}, wire));
    ota_chunk_reply reply;
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_OK);
    CHECK(reply.message.size == 0);
    CHECK(reply.total_size == 3 * chunk.size() + 1);
    CHECK(text(reply.data) == chunk);
    REQUIRE(enc.encode(ota_chunk_reply{TERN_OK, {}, 1, bytes_value(raw_bytes().substr(0, 1)).u.bytes}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(text(reply.data) == raw_bytes().substr(0, 1));
    REQUIRE(enc.encode(ota_chunk_reply{TERN_NOT_FOUND, str("the device's package changed"), 0, {}}, wire));
    REQUIRE(dec.decode(bytes(wire), reply));
    CHECK(reply.status == TERN_NOT_FOUND);
    CHECK(text(reply.message) == "the device's package changed");
    CHECK(reply.total_size == 0);
    CHECK(reply.data.size == 0);

    REQUIRE(enc.encode(subscribe_device_request{12, TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC,
                                                str("transport-a_1")},
                       wire));
    subscribe_device_request sub;
    REQUIRE(dec.decode(bytes(wire), sub));
    CHECK(sub.device_id == 12);
    CHECK(sub.flags == (TERN_SUBSCRIBE_ATTRIBUTES | TERN_SUBSCRIBE_RPC));
    CHECK(text(sub.node_id) == "transport-a_1");
    // flags 0: the node no longer wants the device.
    REQUIRE(enc.encode(subscribe_device_request{12, 0, str("n")}, wire));
    REQUIRE(dec.decode(bytes(wire), sub));
    CHECK(sub.flags == 0);
    REQUIRE(enc.encode(status_reply{status_op::subscribe_device, TERN_NOT_FOUND, str("no device 12")}, wire));
    status_reply sr{status_op::subscribe_device};
    REQUIRE(dec.decode(bytes(wire), sr));
    CHECK(sr.op == status_op::subscribe_device);
    CHECK(sr.status == TERN_NOT_FOUND);
    CHECK(text(sr.message) == "no device 12");
}
